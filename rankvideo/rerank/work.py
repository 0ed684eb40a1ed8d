"""The rerank driver: per-video work, resumable through scores.jsonl, and the score files it writes (ours or upstream's)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rankvideo.corpus.shards import shard_of
from rankvideo.files.atomic import atomic_write, atomic_write_text
from rankvideo.files.predictions import RERANK_RECORD, write_prediction
from rankvideo.files.queries import read_queries
from rankvideo.files.runs import write_json_run, write_trec_run
from rankvideo.files.video2queries import read_video2queries

log = logging.getLogger(__name__)


PROGRESS = "scores.jsonl"


SETTINGS = RERANK_RECORD


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
