"""Rerank candidate videos: `python -m rankvideo.rerank` (upstream's flags).

Work is per video: each video is decoded and encoded once for all its candidate queries. Every
finished video is appended to `scores.jsonl` in the output folder, so a crashed or preempted run
resumes where it stopped; a video that fails costs only its own pairs, listed with the reason.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rankvideo.config import is_text_reranker
from rankvideo.formats.queries import read_queries
from rankvideo.formats.runs import write_json_run, write_trec_run
from rankvideo.formats.video2queries import read_video2queries
from rankvideo.formats.video_sheet import read_video_sheet
from rankvideo.fsutil import atomic_write, atomic_write_text
from rankvideo.shards import shard_of

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")
PROGRESS = "scores.jsonl"
SETTINGS = "settings.json"


def resolve_video_paths(video_ids: Sequence[str], video_dir: str | None = None, video_sheet: str | None = None) -> dict[str, Path | None]:
    """Each video's file: from the sheet when given, else `<video_dir>/<video_id><suffix>`; None when absent."""
    if video_sheet:
        sheet = {r.video_id: r.path for r in read_video_sheet(video_sheet)}
        return {v: sheet.get(v) for v in video_ids}
    if not video_dir:
        raise ValueError("give --video-dir or --video-sheet")
    found: dict[str, Path | None] = {}
    for v in video_ids:
        candidates = [Path(video_dir) / f"{v}{s}" for s in VIDEO_SUFFIXES]
        found[v] = next((c for c in candidates if c.is_file()), None)
    return found


def model_fingerprint(model: str) -> str:
    """Identity of a model for resuming: a local folder by its files' names, sizes and mtimes; a hub id by name.

    A retrained model in the same folder must never resume from the old model's scores.
    """
    import hashlib

    folder = Path(model)
    if not folder.is_dir():
        return model
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return f"{model}@{digest.hexdigest()[:16]}"


def shard_work(candidates: str | Path, queries_path: str | Path, shard: str, n_shards: int) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The test queries and the (video -> queries) work list of one shard's candidate videos."""
    queries = read_queries(queries_path)
    video2queries = read_video2queries(candidates, query_ids=set(queries))
    return queries, {v: list(q) for v, q in video2queries.items() if shard_of(v, n_shards) == shard}


def configured_reranker(spec: Mapping[str, Any], backend: str, video: Mapping[str, Any], batch_size: int) -> Any:
    """A reranker from its config entry: VLMReranker over frames, or TextReranker over caption + ASR (kind: text)."""
    if is_text_reranker(spec):
        from rankvideo.text_reranker import TextReranker
        from rankvideo.textllm import load_text_llm

        return TextReranker(load_text_llm(backend, spec["model"]), spec["mode"], spec.get("max_reasoning_tokens", 0))
    from rankvideo.reranker import VLMReranker

    return VLMReranker(spec["model"], backend=backend, fps=video["fps"], max_frames=video["max_frames_stage2"],
                       min_pixels=video["min_pixels"], max_pixels=video["max_pixels"], prompt_format=spec["prompt_format"],
                       batch_size=batch_size, max_reasoning_tokens=spec.get("max_reasoning_tokens", 0))


def reranker_evidence(spec: Mapping[str, Any], sources: Sequence[str | Path], video_ids: Sequence[str]) -> tuple[dict[str, Any], str]:
    """What a reranker reads per video, from `sources` (the video sheet, or extraction records for a text
    reranker), and the reason a video without any fails."""
    if is_text_reranker(spec):
        from rankvideo.extract.records import read_jsonl

        records = {r["video_id"]: r for path in sources for r in read_jsonl(path)}
        return {v: records.get(v) for v in video_ids}, "no extraction record (caption, ASR) for this video: see results/skipped.tsv"
    paths = {r.video_id: r.path for path in sources for r in read_video_sheet(path)}
    return {v: paths.get(v) for v in video_ids}, "video file not found"


def read_progress(out_dir: Path, settings: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Videos already scored by an interrupted run with the same settings; a torn last line is dropped."""
    progress, recorded = out_dir / PROGRESS, out_dir / SETTINGS
    if not progress.is_file():
        return {}
    if not recorded.is_file() or json.loads(recorded.read_text()) != dict(settings):
        log.warning("%s was written with other settings; starting afresh", progress)
        progress.rename(progress.with_suffix(".jsonl.stale"))
        return {}
    done: dict[str, list[dict[str, Any]]] = {}
    lines = progress.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = []
    for line in lines:
        if not line.endswith("\n"):
            log.warning("dropping a torn last line of %s", progress)
            break
        record = json.loads(line)
        done[record["video_id"]] = record["results"]
        kept.append(line)
    if len(kept) != len(lines):
        with atomic_write(progress) as out:
            out.writelines(kept)
    return done


def rerank_videos(reranker: Any, video2queries: Mapping[str, Sequence[str]], queries: Mapping[str, str],
                  evidence: Mapping[str, Any], out_dir: str | Path, settings: Mapping[str, Any],
                  missing: str = "video file not found") -> dict[str, list[dict[str, Any]]]:
    """Score every (query, video) candidate, resuming from `out_dir`; returns results per video.

    `evidence` is what the reranker's `score_video` reads for a video: its file for a video reranker, its
    extraction record for a text reranker. A video without any fails its pairs with the reason `missing`.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = read_progress(out_dir, settings)
    atomic_write_text(out_dir / SETTINGS, json.dumps(dict(settings), sort_keys=True))
    # A video counts as done only for the very queries it was scored on: a grown work list (a pool widened for
    # Table 2) rescores it.
    todo = [v for v in video2queries if [r["query_id"] for r in done.get(v, [])] != list(video2queries[v])]
    if len(todo) < len(video2queries):
        log.info("resuming: %d videos already scored, %d to go", len(video2queries) - len(todo), len(todo))
    chunk = getattr(reranker, "videos_per_call", 1)  # a text LLM scores many videos' pairs in one call
    pairs, start = 0, time.perf_counter()
    with open(out_dir / PROGRESS, "a", encoding="utf-8") as progress, tqdm(total=len(todo), desc="rerank", unit="video") as bar:
        for first in range(0, len(todo), chunk):
            videos = todo[first:first + chunk]
            ready = [v for v in videos if evidence.get(v) is not None]
            scores = dict(zip(ready, reranker.score_videos([(evidence[v], [queries[q] for q in video2queries[v]]) for v in ready])))
            for vid in videos:
                qids = list(video2queries[vid])
                if vid in scores:
                    results = [{"query_id": q, **_pair_fields(r)} for q, r in zip(qids, scores[vid])]
                else:
                    results = [{"query_id": q, "failed": True, "error": missing} for q in qids]
                progress.write(json.dumps({"video_id": vid, "results": results}) + "\n")
                done[vid] = results
                pairs += len(qids)
            progress.flush()
            bar.update(len(videos))
            bar.set_postfix(pairs_per_s=f"{pairs / max(time.perf_counter() - start, 1e-9):.2f}")
    return {v: done[v] for v in video2queries}


def _pair_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("failed", "error", "p_yes", "logit_delta", "yes_logit", "no_logit")
    return {k: result[k] for k in keys}


def write_outputs(results: Mapping[str, Sequence[Mapping[str, Any]]], out_dir: str | Path, tag: str) -> tuple[int, int]:
    """scores.json ({qid: {vid: logit_delta}}), run.trec and failed.tsv; returns (scored, failed) pair counts."""
    out_dir = Path(out_dir)
    run: dict[str, dict[str, float]] = {}
    failures = []
    for vid, rows in results.items():
        for row in rows:
            if row["failed"]:
                failures.append((row["query_id"], vid, row["error"]))
            else:
                run.setdefault(row["query_id"], {})[vid] = row["logit_delta"]
    write_json_run(out_dir / "scores.json", run)
    write_trec_run(out_dir / "run.trec", run, tag=tag)
    with atomic_write(out_dir / "failed.tsv") as out:
        out.write("query_id\tvideo_id\treason\n")
        out.writelines(f"{q}\t{v}\t{' '.join(str(r).split())}\n" for q, v, r in sorted(failures))
    return sum(len(s) for s in run.values()), len(failures)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rankvideo.rerank", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="model folder or hub id (read from the local cache)")
    p.add_argument("--video2queries", required=True, help="JSON {video_id: [query_id, ...]}")
    p.add_argument("--query-mapping", required=True, help="queries TSV: query_id<TAB>text")
    p.add_argument("--video-dir", help="folder of <video_id>.mp4 (or .webm, .mkv, .mov, .avi) files")
    p.add_argument("--video-sheet", help="video sheet TSV mapping video_id to path (instead of --video-dir)")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    p.add_argument("--prompt-format", choices=("upstream", "paper", "qwen3-vl-reranker"),
                   help="default: the model's recorded format, else upstream")
    p.add_argument("--max-reasoning-tokens", type=int, default=0, help="> 0: a reasoning model (QVL-T) thinks first")
    p.add_argument("--fps", type=float, default=2.0)
    p.add_argument("--max-frames", type=int, default=24)
    p.add_argument("--min-pixels", type=int, default=128 * 32 * 32)
    p.add_argument("--max-pixels", type=int, default=128 * 32 * 32)
    p.add_argument("--batch-size", type=int, default=16, help="queries per forward (transformers)")
    p.add_argument("--cache-dir")
    p.add_argument("--tag", default="rankvideo", help="run tag in run.trec")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from rankvideo.reranker import VLMReranker

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    queries = read_queries(args.query_mapping)
    video2queries = read_video2queries(args.video2queries, query_ids=set(queries))
    paths = resolve_video_paths(list(video2queries), args.video_dir, args.video_sheet)
    reranker = VLMReranker(args.model, cache_dir=args.cache_dir, backend=args.backend, fps=args.fps, max_frames=args.max_frames,
                           min_pixels=args.min_pixels, max_pixels=args.max_pixels, prompt_format=args.prompt_format,
                           batch_size=args.batch_size, max_reasoning_tokens=args.max_reasoning_tokens)
    settings = {"model": model_fingerprint(args.model), "prompt_format": reranker.prompt_format, "fps": args.fps, "max_frames": args.max_frames,
                "min_pixels": args.min_pixels, "max_pixels": args.max_pixels, "backend": args.backend,
                "max_reasoning_tokens": args.max_reasoning_tokens}
    results = rerank_videos(reranker, video2queries, queries, paths, args.output_dir, settings)
    n_scored, n_failed = write_outputs(results, args.output_dir, args.tag)
    log.info("%d pairs scored, %d failed (see %s)", n_scored, n_failed, Path(args.output_dir) / "failed.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
