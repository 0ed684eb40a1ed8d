"""Benchmark: pairs/s of upstream's way vs shared video encoding, side by side in one run, where the model's forward dominates.

Upstream decodes and encodes the video for every (query, video) pair, one pair per forward, query before video. We
decode each video once, run its vision tower once and, in the paper's format (video first), score all its queries on
the shared prefix. The model is a width-true twin of Qwen3-VL-8B (rankvideo.demo.twins.build_throughput_twin: every
width of the shipped config.json, `--layers` decoder and `--vision-depth` vision layers, bf16, a tokenizer that keeps
each prompt word one token as Qwen's does), fed the paper's video (VIDEO: 24 frames at 131,072 pixels a frame).

    python bench/rerank_throughput.py [--backend transformers|vllm] [--repeats 3] [--model PATH]

transformers: one pair per forward (`naive`, timed on --naive-queries queries a video, the same rate in every row)
against `score_video` (`shared`), in both prompt formats, at 1, 4 and 16 queries per video; first the split of a naive
pair's time (decode, processor, forward). vllm (vLLM's interpreter:
RANKVIDEO_VLLM_PYTHON, docs/vllm.md): `score_video` in both formats with prefix caching on, both caches emptied before
each setting, with vLLM's own prefix cache and multimodal cache counters. The last line is
`paper over upstream at 4 queries/video: X.XX`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rankvideo.demo.topics import TOPICS
from rankvideo.demo.twins import build_throughput_twin
from rankvideo.files.video import VideoDecodeError, VideoSettings
from rankvideo.models.architecture import shipped_config
from rankvideo.models.prompts import VIDEO_PLACEHOLDER, query_suffix, render, shared_prefix
from rankvideo.rerank.reranker import VLMReranker

QUERIES = [q for topic in TOPICS for q in topic.queries]
BASE = "Qwen/Qwen3-VL-8B-Instruct"
FORMATS = ("upstream", "paper")
PER_VIDEO = (1, 4, 16)
# paper §5 (2 fps) and Table 6 (24 frames at inference), upstream inference.py's 128*32*32 pixels a frame
VIDEO = VideoSettings(fps=2, max_frames=24, min_pixels=131072, max_pixels=131072)
DEMO_SEED = 13  # the demo corpus's (config/demo.yaml)


def clock() -> float:
    """perf_counter once this process's GPU work (transformers; vLLM's runs in its own process) has finished."""
    import torch

    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


def seconds(fn: Callable[[], object]) -> float:
    start = clock()
    fn()
    return clock() - start


def spread(values: Sequence[float]) -> str:
    """Median and range, as the docs report them."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def text_flops(text: dict) -> int:
    """Matmul FLOPs of one token through every decoder layer (attention scores left out: a few % at these lengths)."""
    h, heads, kv, hd, mlp = (text[k] for k in ("hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size"))
    return 2 * text["num_hidden_layers"] * (2 * h * heads * hd + 2 * h * kv * hd + 3 * h * mlp)


def vision_flops(vision: dict, video_tokens: int) -> int:
    """Matmul FLOPs of the vision tower for `video_tokens` merged tokens: patch embedding and every layer per patch,
    then the merger and each deepstack merger per merged token."""
    w, merge = vision["hidden_size"], vision["spatial_merge_size"] ** 2
    embed = 2 * vision["in_channels"] * vision["temporal_patch_size"] * vision["patch_size"] ** 2 * w
    layer = 2 * (4 * w * w + 2 * w * vision["intermediate_size"])
    merger = 2 * (merge * w * merge * w + merge * w * vision["out_hidden_size"])
    per_token = merge * (embed + vision["depth"] * layer) + merger * (1 + len(vision["deepstack_visual_indexes"]))
    return video_tokens * per_token


def compute_limit(config: dict, counts: dict[str, int], n: int, upstream_towers: int) -> float:
    """Paper format, shared, over upstream format for a device where only matmul FLOPs cost: n prompts of Q + V text
    tokens and `upstream_towers` runs of the vision tower (n one pair per forward; 1 on vLLM, whose encoder cache
    serves one video's requests), against one S + V prefix, one vision tower and n suffixes."""
    text, vision = text_flops(config["text_config"]), vision_flops(config["vision_config"], counts["E"])
    upstream = n * text * (counts["Q"] + counts["V"]) + upstream_towers * vision
    paper = text * (counts["S"] + counts["V"] + n * counts["q"]) + vision
    return upstream / paper


def measured_limit(split: dict[str, float], counts: dict[str, int], n: int) -> float:
    """The same ratio on this machine, from a naive pair's measured split: the video's decode, processor and vision
    tower once, and the text forward's time per token over S + V + n q tokens instead of n (Q + V)."""
    per_token = split["text"] / (counts["Q"] + counts["V"])
    once = split["decode"] + split["processor"] + split["vision"]
    return n * sum(split.values()) / (once + per_token * (counts["S"] + counts["V"] + n * counts["q"]))


def limit_line(counts: dict[str, int], n: int, upstream_towers: int) -> str:
    config = json.loads(shipped_config(BASE).read_text())
    return f"compute-bound limit at {n} queries/video, {BASE} at these token counts: {compute_limit(config, counts, n, upstream_towers):.2f}"


def drawn_videos(folder: Path) -> Iterator[Path]:
    """The demo corpus's unbroken videos of at least 24 frames' length, drawn as they are asked for, pictures only
    (ffmpeg alone encodes them; the reranker reads frames)."""
    from dataclasses import replace

    from rankvideo.demo.corpus import encode_video, plan_corpus

    folder.mkdir(parents=True, exist_ok=True)
    for spec in plan_corpus(DEMO_SEED):
        if not spec.broken and spec.duration >= VIDEO.max_frames / VIDEO.fps:
            path = folder / f"{spec.video_id}.mp4"
            encode_video(replace(spec, speech=None), path, folder)
            yield path


def full_length_videos(folder: Path, n: int, tmp: str) -> list[Path]:
    """The first `n` videos of `folder` (else drawn now) that fill all 24 frames, so every video is the same number of
    tokens (the demo corpus's broken videos are passed over)."""
    videos = sorted(folder.glob("*.mp4")) or drawn_videos(Path(tmp) / "videos")
    full: list[Path] = []
    for video in videos:
        try:
            if len(VIDEO.sample(video).indices) == VIDEO.max_frames:
                full.append(video)
        except VideoDecodeError:
            continue
        if len(full) == n:
            return full
    raise SystemExit(f"{folder}: {len(full)} videos hold {VIDEO.max_frames} frames at {VIDEO.fps} fps, {n} asked (--n-videos)")


def reranker(model: str, backend: str, fmt: str, **kwargs) -> VLMReranker:
    """Both formats see the same frames (upstream's own inference takes 32; here both take the paper's 24)."""
    return VLMReranker(model, backend=backend, prompt_format=fmt, fps=VIDEO.fps, max_frames=VIDEO.max_frames,
                       min_pixels=VIDEO.min_pixels, max_pixels=VIDEO.max_pixels, **kwargs)


def token_counts(model: str, video: Path) -> dict[str, int]:
    """S: the paper format's shared text before the video; V: the video's tokens (the vision tower's E merged tokens and
    the timestamps between frames); q: one query's paper suffix; Q: one upstream-format prompt's text (q and Q: means
    over the bench's queries)."""
    from transformers import AutoProcessor

    from rankvideo.models.transformers_backend import processor_inputs

    processor = AutoProcessor.from_pretrained(model)
    sampled = VIDEO.sample(video)

    def tokens(text: str) -> int:
        return len(processor.tokenizer(text, add_special_tokens=False)["input_ids"])

    def mean_tokens(texts: list[str]) -> int:
        return round(sum(map(tokens, texts)) / len(texts))

    video = processor_inputs(processor, VIDEO_PLACEHOLDER, sampled)
    merge = processor.video_processor.merge_size ** 2
    return {"S": tokens(shared_prefix("paper").split(VIDEO_PLACEHOLDER)[0]), "V": len(video["input_ids"][0]),
            "E": int(video["video_grid_thw"].prod()) // merge,
            "q": mean_tokens([query_suffix("paper", q) for q in QUERIES[:16]]),
            "Q": mean_tokens([render("upstream", q).replace(VIDEO_PLACEHOLDER, "") for q in QUERIES[:16]])}


def print_counts(counts: dict[str, int]) -> None:
    print(f"tokens: paper shared text S={counts['S']}, video V={counts['V']} (E={counts['E']} from the vision tower), "
          f"paper suffix q={counts['q']}, upstream prompt text Q={counts['Q']}")


def pair_split(scorer: VLMReranker, videos: Sequence[Path]) -> dict[str, float]:
    """Seconds a naive upstream-format pair spends decoding, in the processor, in the vision tower and in the rest of
    the forward (mean over `videos`, one query each)."""
    import torch

    backend = scorer.backend
    parts = dict.fromkeys(("decode", "processor", "vision", "text"), 0.0)
    for video in videos:
        start = clock()
        sampled = backend.video.sample(video)
        decoded = clock()
        inputs = backend.model_inputs(render("upstream", QUERIES[0]), sampled)
        processed = clock()
        with torch.no_grad():
            backend.model.model.get_video_features(inputs["pixel_values_videos"], inputs["video_grid_thw"])
            vision = clock()
            backend.model(**inputs, logits_to_keep=1)
        end = clock()
        parts["decode"] += decoded - start
        parts["processor"] += processed - decoded
        parts["vision"] += vision - processed
        parts["text"] += end - vision - (vision - processed)  # the forward runs the vision tower again
    return {k: v / len(videos) for k, v in parts.items()}


def transformers_run(args, model: str, videos: list[Path]) -> None:
    import torch

    scorers = {fmt: reranker(model, "transformers", fmt, dtype=torch.bfloat16) for fmt in FORMATS}
    for scorer in scorers.values():
        scorer.score_video(videos[0], QUERIES[:2])  # warm-up
    counts = token_counts(model, videos[0])
    split = pair_split(scorers["upstream"], videos)
    pair = sum(split.values())
    forward = split["vision"] + split["text"]
    print(f"model {model} (transformers, bf16 on {scorers['paper'].backend.device}), {len(videos)} videos of {VIDEO.max_frames} frames")
    print_counts(counts)
    print("a naive upstream-format pair: " + ", ".join(f"{k} {v:.3f} s" for k, v in split.items())
          + f"; the forward is {forward / pair:.0%} of it (vision tower {split['vision'] / pair:.0%})")
    rates: dict[tuple[str, str, int], list[float]] = {}
    naive_queries = QUERIES[:args.naive_queries]
    for repeat in range(args.repeats):
        for fmt, scorer in scorers.items():
            rate = len(naive_queries) * len(videos) / seconds(lambda: [scorer.backend.score_naive(v, q) for v in videos for q in naive_queries])
            for n in PER_VIDEO:
                rates.setdefault((fmt, "naive", n), []).append(rate)
                shared = n * len(videos) / seconds(lambda: [scorer.score_video(v, QUERIES[:n]) for v in videos])
                rates.setdefault((fmt, "shared", n), []).append(shared)
        print(f"repeat {repeat + 1}/{args.repeats} done", flush=True)
    print(f"\n{'format':>8} {'queries/video':>13} {'naive pairs/s':>20} {'shared pairs/s':>20} {'shared/naive':>18}")
    for fmt in FORMATS:
        for n in PER_VIDEO:
            naive, shared = rates[fmt, "naive", n], rates[fmt, "shared", n]
            print(f"{fmt:>8} {n:>13} {spread(naive):>20} {spread(shared):>20} "
                  f"{spread([s / v for s, v in zip(shared, naive)]):>18}")
    print()
    for n in reversed(PER_VIDEO[1:]):
        ratios = [p / u for p, u in zip(rates["paper", "shared", n], rates["upstream", "naive", n])]
        print(limit_line(counts, n, upstream_towers=n))
        print(f"limit at {n} queries/video on this machine, from the naive pair's split: {measured_limit(split, counts, n):.2f}")
        print(f"paper over upstream at {n} queries/video: {spread(ratios)}")


def vllm_run(args, model: str, videos: list[Path]) -> None:
    """Both formats with prefix caching on (upstream inference.py's engine), both caches emptied before each setting."""
    counts = token_counts(model, videos[0])
    rates: dict[tuple[str, int], list[float]] = {}
    hits: dict[tuple[str, int], dict[str, float]] = {}
    for fmt in FORMATS:  # one engine at a time
        scorer = reranker(model, "vllm", fmt, dtype=args.dtype, max_model_len=8192, log_stats=True)
        engine = scorer.backend.engine
        scorer.score_video(videos[0], QUERIES[:2])  # warm-up
        for _ in range(args.repeats):
            for n in PER_VIDEO:
                engine.reset_caches()
                before = engine.cache_counters()
                rates.setdefault((fmt, n), []).append(n * len(videos) / seconds(lambda: [scorer.score_video(v, QUERIES[:n]) for v in videos]))
                after = engine.cache_counters()
                hits[fmt, n] = {k: after[k] - before[k] for k in after}
        engine.close()
    print(f"vLLM on {model}, dtype {args.dtype}, {len(videos)} videos of {VIDEO.max_frames} frames, prefix caching on")
    print(f"{'format':>8} {'queries/video':>13} {'pairs/s':>20} {'prefix cache hits':>26} {'mm cache hits':>14}")
    for (fmt, n), values in rates.items():
        c = hits[fmt, n]
        prefix = f"{c['vllm:prefix_cache_hits']:.0f}/{c['vllm:prefix_cache_queries']:.0f} tokens"
        mm = f"{c['vllm:mm_cache_hits']:.0f}/{c['vllm:mm_cache_queries']:.0f}"
        print(f"{fmt:>8} {n:>13} {spread(values):>20} {prefix:>26} {mm:>14}")
    print_counts(counts)
    for n in reversed(PER_VIDEO[1:]):
        print(limit_line(counts, n, upstream_towers=1))
        print(f"paper over upstream at {n} queries/video: {spread([p / u for p, u in zip(rates['paper', n], rates['upstream', n])])}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    p.add_argument("--model", help="a Qwen3-VL model folder (default: the throughput twin at --layers and --vision-depth, built now)")
    p.add_argument("--layers", type=int, default=1, help="the twin's decoder layers")
    p.add_argument("--vision-depth", type=int, default=1, help="the twin's vision layers")
    p.add_argument("--videos", type=Path, default=Path("results/demo/corpus/videos"), help="default: the demo corpus (drawn now if absent)")
    p.add_argument("--n-videos", type=int, default=2)
    p.add_argument("--naive-queries", type=int, default=2, help="queries per video timed one pair per forward")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dtype", default="bfloat16", help="vLLM's dtype")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_throughput_twin(Path(tmp) / "twin", args.layers, args.vision_depth))
        videos = full_length_videos(args.videos, args.n_videos, tmp)
        if args.backend == "vllm":
            vllm_run(args, model, videos)
        else:
            transformers_run(args, model, videos)


if __name__ == "__main__":
    main()
