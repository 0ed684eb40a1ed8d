"""Rerank candidate videos: `python -m rankvideo.rerank` (upstream's flags, and upstream's files as they are).

Work is per video: each video is decoded and encoded once for all its candidate queries. Every
finished video is appended to `scores.jsonl` in the output folder, so a crashed or preempted run
resumes where it stopped; a video that fails costs only its own pairs, listed with the reason.
Videos are found flat (`<dir>/<id>.mp4`) or in MultiVENT's sharded layout (`--video-layout`); a
query id of the work list that the queries file lacks is skipped and listed in `skipped.tsv`
(`--strict`: an error). Outputs: `scores.json` + `run.trec` (ours), or upstream's per-video files
(`--output-format upstream`), and `failed.tsv` in both cases.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from rankvideo.cli import UsageError, run_cli
from rankvideo.files.predictions import upstream_model_name
from rankvideo.files.queries import read_queries
from rankvideo.files.video2queries import read_video2queries, split_unknown_queries
from rankvideo.files.video_sheet import read_video_sheet
from rankvideo.rerank.work import model_fingerprint, rerank_videos, write_outputs, write_table

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")
VIDEO_LAYOUTS = ("auto", "flat", "multivent")
OUTPUT_FORMATS = ("rankvideo", "upstream")
SKIPPED = "skipped.tsv"
QUERIES_BESIDE = "queries.tsv"  # upstream README: data/queries.tsv beside data/video2queries.json


def multivent_path(video_dir: str | Path, video_id: str) -> Path | None:
    """MultiVENT 2.0's sharded layout, as upstream's rerank.py builds it: `<dir>/<int(id)//100 + 1 as 6 digits>/<id>.mp4`."""
    if not video_id.isdigit():
        return None
    return Path(video_dir) / f"{int(video_id) // 100 + 1:06d}" / f"{video_id}.mp4"


def video_candidates(video_dir: str | Path, video_id: str, layout: str) -> list[Path]:
    """Where a video may lie: flat `<dir>/<id><suffix>`, MultiVENT's shard folders, or (auto) both in that order."""
    if layout not in VIDEO_LAYOUTS:
        raise UsageError(f"unknown video layout {layout!r}; expected one of {VIDEO_LAYOUTS}")
    flat = [Path(video_dir) / f"{video_id}{s}" for s in VIDEO_SUFFIXES] if layout != "multivent" else []
    sharded = multivent_path(video_dir, video_id) if layout != "flat" else None
    return flat + ([sharded] if sharded else [])


def resolve_video_paths(video_ids: Sequence[str], video_dir: str | None = None, video_sheet: str | None = None,
                        layout: str = "auto") -> dict[str, Path | None]:
    """Each video's file: from the sheet when given, else the first existing `video_candidates`; None when absent."""
    if video_sheet:
        sheet = {r.video_id: r.path for r in read_video_sheet(video_sheet)}
        return {v: sheet.get(v) for v in video_ids}
    if not video_dir:
        raise UsageError("give --video-dir or --video-sheet")
    if not Path(video_dir).is_dir():
        raise UsageError(f"--video-dir {video_dir}: no such folder")
    return {v: next((c for c in video_candidates(video_dir, v, layout) if c.is_file()), None) for v in video_ids}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rankvideo.rerank", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="hltcoe/RankVideo", help="model folder or hub id (read from the local cache); "
                   "default: the released checkpoint, as upstream")
    p.add_argument("--video2queries", required=True, help="JSON {video_id: [query_id, ...]}")
    p.add_argument("--query-mapping", help="queries TSV: query_id<TAB>text (further columns are ignored); "
                   f"default: {QUERIES_BESIDE} beside --video2queries")
    p.add_argument("--video-dir", help="folder of videos: <id>.mp4 (or .webm, .mkv, .mov, .avi) or MultiVENT's <shard>/<id>.mp4")
    p.add_argument("--video-layout", choices=VIDEO_LAYOUTS, default="auto",
                   help="flat: <dir>/<id>.<ext>; multivent: <dir>/<int(id)//100+1 as 6 digits>/<id>.mp4; auto: either")
    p.add_argument("--video-sheet", help="video sheet TSV mapping video_id to path (instead of --video-dir)")
    p.add_argument("--output-dir", default="outputs/reranking")
    p.add_argument("--output-format", choices=OUTPUT_FORMATS, default="rankvideo",
                   help="rankvideo: scores.json + run.trec; upstream: <video_id>_reranking_<model>.json per video")
    p.add_argument("--strict", action="store_true", help="a query id missing from the queries file is an error, not a skip")
    p.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    p.add_argument("--prompt-format", choices=("upstream", "paper", "qwen3-vl-reranker"),
                   help="default: the model's recorded format, else upstream")
    p.add_argument("--max-reasoning-tokens", type=int, default=0, help="> 0: a reasoning model (QVL-T) thinks first")
    p.add_argument("--fps", type=float, help="default: 2 (upstream and paper)")
    p.add_argument("--max-frames", type=int, help="default: the prompt format's (upstream 32, paper Table 6: 24)")
    p.add_argument("--min-pixels", type=int, help="default: 128*32*32 per frame (upstream)")
    p.add_argument("--max-pixels", type=int, help="default: 128*32*32 per frame (upstream)")
    p.add_argument("--batch-size", type=int, default=16, help="queries per forward (transformers)")
    p.add_argument("--cache-dir")
    p.add_argument("--tag", default="rankvideo", help="run tag in run.trec")
    return p


def query_mapping_path(args: argparse.Namespace) -> Path:
    """--query-mapping, else queries.tsv beside the video2queries file (upstream's data/ folder)."""
    if args.query_mapping:
        return Path(args.query_mapping)
    beside = Path(args.video2queries).parent / QUERIES_BESIDE
    if not beside.is_file():
        raise UsageError(f"no --query-mapping given and {beside} does not exist; pass --query-mapping QUERIES.tsv")
    return beside


def work_list(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The queries and the (video -> known queries) work list; unknown query ids go to skipped.tsv (or stop, --strict)."""
    mapping = query_mapping_path(args)
    queries = read_queries(mapping)
    if args.strict:
        return queries, read_video2queries(args.video2queries, query_ids=set(queries))
    video2queries, skipped = split_unknown_queries(read_video2queries(args.video2queries), set(queries))
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    reason = f"query id not in {mapping}"
    write_table(Path(args.output_dir) / SKIPPED, ("video_id", "query_id", "reason"), [(v, q, reason) for v, q in skipped])
    if skipped:
        log.warning("%d (video, query) pairs name a query id the queries file lacks; listed in %s", len(skipped),
                    Path(args.output_dir) / SKIPPED)
    return queries, video2queries


def rerank(args: argparse.Namespace) -> int:
    from rankvideo.rerank.reranker import VLMReranker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    queries, video2queries = work_list(args)
    paths = resolve_video_paths(list(video2queries), args.video_dir, args.video_sheet, args.video_layout)
    reranker = VLMReranker(args.model, cache_dir=args.cache_dir, backend=args.backend, fps=args.fps, max_frames=args.max_frames,
                           min_pixels=args.min_pixels, max_pixels=args.max_pixels, prompt_format=args.prompt_format,
                           batch_size=args.batch_size, max_reasoning_tokens=args.max_reasoning_tokens)
    video = reranker.backend.video
    settings = {"model": model_fingerprint(args.model), "prompt_format": reranker.prompt_format, "fps": video.fps,
                "max_frames": video.max_frames, "min_pixels": video.min_pixels, "max_pixels": video.max_pixels,
                "backend": args.backend, "max_reasoning_tokens": args.max_reasoning_tokens}
    missing = f"video file not found in {args.video_sheet}" if args.video_sheet else \
        f"video file not found under {args.video_dir} ({args.video_layout} layout)"
    results = rerank_videos(reranker, video2queries, queries, paths, args.output_dir, settings, missing)
    n_scored, n_failed = write_outputs(results, args.output_dir, args.tag, args.output_format, upstream_model_name(args.model))
    log.info("%d pairs scored, %d failed (see %s)", n_scored, n_failed, Path(args.output_dir) / "failed.tsv")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(rerank, _parser(), argv)
