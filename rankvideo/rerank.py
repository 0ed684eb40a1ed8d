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
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rankvideo.cli import UsageError, run_cli
from rankvideo.config import is_text_reranker
from rankvideo.formats.predictions import RERANK_RECORD, upstream_model_name, write_prediction
from rankvideo.formats.queries import read_queries
from rankvideo.formats.runs import write_json_run, write_trec_run
from rankvideo.formats.video2queries import read_video2queries, split_unknown_queries
from rankvideo.formats.video_sheet import read_video_sheet
from rankvideo.fsutil import atomic_write, atomic_write_text
from rankvideo.shards import shard_of

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")
VIDEO_LAYOUTS = ("auto", "flat", "multivent")
OUTPUT_FORMATS = ("rankvideo", "upstream")
PROGRESS = "scores.jsonl"
SETTINGS = RERANK_RECORD
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
    from rankvideo.video import configured_video, video_for_format

    frames = video_for_format(spec["prompt_format"], configured_video(video, 2))
    return VLMReranker(spec["model"], backend=backend, fps=frames.fps, max_frames=frames.max_frames, min_pixels=frames.min_pixels,
                       max_pixels=frames.max_pixels, prompt_format=spec["prompt_format"], batch_size=batch_size,
                       max_reasoning_tokens=spec.get("max_reasoning_tokens", 0))


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
    keys = ("failed", "error", "p_yes", "logit_delta", "yes_logit", "no_logit", "logprob_yes", "logprob_no")
    return {k: result[k] for k in keys}


def write_outputs(results: Mapping[str, Sequence[Mapping[str, Any]]], out_dir: str | Path, tag: str,
                  output_format: str = "rankvideo", model_name: str = "") -> tuple[int, int]:
    """The scores and failed.tsv; returns (scored, failed) pair counts.

    `rankvideo`: scores.json ({qid: {vid: logit_delta}}) and run.trec. `upstream`: one
    `<video_id>_reranking_<model_name>.json` per video with a scored pair, as upstream's rerank.py writes them.
    """
    out_dir = Path(out_dir)
    run: dict[str, dict[str, float]] = {}
    failures = []
    for vid, rows in results.items():
        for row in rows:
            if row["failed"]:
                failures.append((row["query_id"], vid, row["error"]))
            else:
                run.setdefault(row["query_id"], {})[vid] = row["logit_delta"]
        if output_format == "upstream" and (ok := {r["query_id"]: r for r in rows if not r["failed"]}):
            write_prediction(out_dir, vid, model_name, ok)
    if output_format == "rankvideo":
        write_json_run(out_dir / "scores.json", run)
        write_trec_run(out_dir / "run.trec", run, tag=tag)
    write_table(out_dir / "failed.tsv", ("query_id", "video_id", "reason"), sorted(failures))
    return sum(len(s) for s in run.values()), len(failures)


def write_table(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A TSV with a header; free text is folded onto one line."""
    with atomic_write(path) as out:
        out.write("\t".join(header) + "\n")
        out.writelines("\t".join(" ".join(str(f).split()) for f in row) + "\n" for row in rows)


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
    from rankvideo.reranker import VLMReranker

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


if __name__ == "__main__":
    sys.exit(main())
