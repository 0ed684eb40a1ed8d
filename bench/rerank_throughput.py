"""Benchmark: pairs/s of upstream-style scoring vs shared video encoding, side by side in one run.

Upstream decodes and encodes the video for every (query, video) pair, one pair per forward. We
decode each video once, run its vision tower once and score all its queries on the shared prefix.
    python bench/rerank_throughput.py [--model PATH] [--videos DIR] [--prompt-format paper|upstream]
The last line is `speedup at 4 queries/video: X.XX`.

With `--backend vllm` (vLLM's own interpreter: RANKVIDEO_VLLM_PYTHON, docs/vllm.md) it times the vLLM backend
instead: prefix caching on and off, upstream's and the paper's prompt format, 4 engines in one run on the Qwen3-VL
twin (64-wide heads: vLLM's CPU attention refuses the demo model's 16). The last line is
`prefix caching speedup, paper format: X.XX`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rankvideo.demo.topics import TOPICS
from rankvideo.rerank.reranker import VLMReranker

QUERIES = [q for topic in TOPICS for q in topic.queries]


def pairs_per_second(fn, n_pairs: int) -> float:
    start = time.perf_counter()
    fn()
    return n_pairs / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model folder (default: the package's tiny Qwen3-VL, built now)")
    p.add_argument("--videos", default="results/demo/corpus/videos", help="folder of videos (default: the demo corpus)")
    p.add_argument("--n-videos", type=int, default=6)
    p.add_argument("--prompt-format", choices=("paper", "upstream"), default="paper")
    p.add_argument("--max-frames", type=int, default=24)
    p.add_argument("--min-pixels", type=int, default=12544, help="demo config's per-frame pixels")
    p.add_argument("--max-pixels", type=int, default=50176)
    p.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    p.add_argument("--dtype", default="float32", help="vLLM's dtype (its CPU build would serve a float32 model in bfloat16)")
    args = p.parse_args()
    if args.backend == "vllm":
        vllm_table(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from rankvideo.demo.tiny import build_tiny_qwen3vl

            model = str(build_tiny_qwen3vl(Path(tmp) / "tiny"))
        videos = bench_videos(args, tmp)
        reranker = VLMReranker(model, prompt_format=args.prompt_format, max_frames=args.max_frames,
                               min_pixels=args.min_pixels, max_pixels=args.max_pixels)
        reranker.score_video(videos[0], QUERIES[:2])  # warm-up
        print(f"model {model}, format {args.prompt_format}, {len(videos)} videos, device {reranker.backend.device}")
        print(f"{'queries/video':>13} {'naive pairs/s':>14} {'shared pairs/s':>15} {'speedup':>8}")
        speedups = {}
        for qpv in (1, 4, 16):
            queries = QUERIES[:qpv]
            n = qpv * len(videos)
            naive = pairs_per_second(lambda: [reranker.backend.score_naive(v, q) for v in videos for q in queries], n)
            shared = pairs_per_second(lambda: [reranker.score_video(v, queries) for v in videos], n)
            speedups[qpv] = shared / naive
            print(f"{qpv:>13} {naive:>14.2f} {shared:>15.2f} {speedups[qpv]:>7.2f}x")
        print(f"speedup at 4 queries/video: {speedups[4]:.2f}")


def bench_videos(args, tmp: str) -> list[Path]:
    videos = sorted(Path(args.videos).glob("*.mp4"))[: args.n_videos]
    if videos:
        return videos
    from rankvideo.demo.corpus import generate_demo_corpus

    generate_demo_corpus(Path(tmp) / "corpus", seed=13)
    return sorted((Path(tmp) / "corpus" / "videos").glob("*.mp4"))[: args.n_videos]


def vllm_table(args) -> None:
    """pairs/s of the vLLM backend at 4 queries per video, prefix caching on and off, both prompt formats."""
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from rankvideo.demo.twins import build_qwen3vl_twin

            model = str(build_qwen3vl_twin(Path(tmp) / "qwen3vl"))
        videos, queries = bench_videos(args, tmp), QUERIES[:4]
        rates = {}
        for fmt in ("upstream", "paper"):
            for caching in (True, False):
                reranker = VLMReranker(model, backend="vllm", prompt_format=fmt, max_frames=args.max_frames, min_pixels=args.min_pixels,
                                       max_pixels=args.max_pixels, dtype=args.dtype, max_model_len=8192, enable_prefix_caching=caching)
                reranker.score_video(videos[0], QUERIES[:2])  # warm-up
                rates[fmt, caching] = pairs_per_second(lambda r=reranker: [r.score_video(v, queries) for v in videos], len(queries) * len(videos))
                reranker.backend.engine.close()
        print(f"vLLM on {model}, dtype {args.dtype}, {len(videos)} videos x {len(queries)} queries")
        print(f"{'format':>8} {'caching on pairs/s':>19} {'caching off pairs/s':>20} {'on/off':>7}")
        for fmt in ("upstream", "paper"):
            print(f"{fmt:>8} {rates[fmt, True]:>19.2f} {rates[fmt, False]:>20.2f} {rates[fmt, True] / rates[fmt, False]:>6.2f}x")
        print(f"paper/upstream with caching on: {rates['paper', True] / rates['upstream', True]:.2f}x")
        print(f"prefix caching speedup, paper format: {rates['paper', True] / rates['paper', False]:.2f}")


if __name__ == "__main__":
    main()
