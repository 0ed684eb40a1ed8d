"""The systems of an evaluation: a first-stage run and each reranker's scores, read from our files or upstream's, cascaded and scored."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rankvideo.cli import UsageError
from rankvideo.evaluate.metrics import cascade, evaluate_run, table_markdown
from rankvideo.files.atomic import atomic_write, atomic_write_text
from rankvideo.files.predictions import RERANK_RECORD, prediction_files, read_predictions
from rankvideo.files.qrels import read_qrels
from rankvideo.files.runs import Run, read_run, truncate

SCORE_SUFFIXES = (".json", ".trec", ".run", ".txt")


def load_scores(source: str | Path, score_field: str = "logit_delta") -> Run:
    """A reranker's scores: a run file, or a glob of upstream's per-video files (`pred_dir_systems`)."""
    if "*" in str(source):
        return read_predictions(sorted(Path(source).parent.glob(Path(source).name)), score_field)
    return read_run(source)


def pred_dir_systems(pred_dir: str | Path) -> dict[str, str]:
    """The rerankers in a --pred-dir by name, each with the file (or per-video file glob) holding its scores."""
    folder = Path(pred_dir)
    if not folder.is_dir():
        raise UsageError(f"--pred-dir {folder}: no such folder")
    if (folder / RERANK_RECORD).is_file() and (folder / "scores.json").is_file():
        return {folder.name: str(folder / "scores.json")}
    groups = prediction_files(folder)
    systems = {model: str(folder / f"*_reranking_{model}.json") for model in groups}
    per_video = {path for paths in groups.values() for path in paths}
    for path in sorted(folder.iterdir()):
        name = path.name.removesuffix(".gz")
        if path.is_file() and path not in per_video and path.name != RERANK_RECORD and name.endswith(SCORE_SUFFIXES):
            systems[name.rsplit(".", 1)[0]] = str(path)
    if not systems:
        raise UsageError(f"--pred-dir {folder} holds no score files ({'/'.join(SCORE_SUFFIXES)}, optionally .gz, or "
                         "upstream's <video_id>_reranking_<model>.json)")
    return systems


def _system_entry(kind: str, source: str, run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]],
                  query_ids: Sequence[str], cutoffs: Sequence[int]) -> tuple[dict[str, Any], dict[str, str]]:
    mean, per_query, excluded = evaluate_run(run, qrels, query_ids, cutoffs)
    return {"kind": kind, "source": source, "mean": mean, "per_query": per_query}, excluded


def evaluate_systems(first_stage: str | Path, rerankers: Mapping[str, str | Path], qrels_path: str | Path,
                     query_ids: Sequence[str] | None, cutoffs: Sequence[int], depth: int, rerank_depth: int,
                     first_stage_name: str, dataset: str, score_field: str = "logit_delta",
                     other_first_stages: Mapping[str, tuple[str | Path, int]] | None = None) -> dict[str, Any]:
    """Metrics for the first stage and every reranker cascaded on it, then for each other first stage (its run and
    depth) on its own: the content of ndcg.json."""
    qrels = read_qrels(qrels_path)
    fs_run = truncate(read_run(first_stage), depth)
    if query_ids is None:
        query_ids = sorted(set(fs_run) & set(qrels))
    systems: dict[str, Any] = {}
    systems[first_stage_name], excluded = _system_entry("first_stage", str(first_stage), fs_run, qrels, query_ids, cutoffs)
    for name, path in rerankers.items():
        reranked = cascade(fs_run, load_scores(path, score_field), rerank_depth)
        systems[name], _ = _system_entry("reranker", str(path), reranked, qrels, query_ids, cutoffs)
    for name, (path, other_depth) in (other_first_stages or {}).items():
        systems[name], _ = _system_entry("first_stage", str(path), truncate(read_run(path), other_depth), qrels, query_ids, cutoffs)
    return {
        "dataset": dataset,
        "first_stage": first_stage_name,
        "first_stage_depth": depth,
        "rerank_depth": rerank_depth,
        "cutoffs": list(cutoffs),
        "queries_evaluated": len(query_ids) - len(excluded),
        "excluded_queries": excluded,
        "systems": systems,
    }


def write_results(results: Mapping[str, Any], json_path: str | Path, table_path: str | Path) -> str:
    with atomic_write(json_path) as out:
        json.dump(results, out, indent=1, sort_keys=False)
        out.write("\n")
    means = {name: entry["mean"] for name, entry in results["systems"].items()}
    title = (f"{results['dataset']}: {results['queries_evaluated']} queries; rerankers reorder the top "
             f"{results['rerank_depth']} of the depth-{results['first_stage_depth']} {results['first_stage']} list")
    table = table_markdown(means, results["first_stage"], results["cutoffs"], title)
    atomic_write_text(table_path, table)
    return table
