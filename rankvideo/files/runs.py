"""Runs: TREC's six columns, and upstream's JSON `{query_id: {doc_id: score}}`, both ways.

Order is always (-score, doc_id): ties break the same way in every file and every metric. Either
format may be gzip-compressed (`run.json.gz`, as upstream reads it). Scores must be finite numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import FormatError, check_known, iter_fields, read_json_object, require_entries

Run = dict[str, dict[str, float]]


def ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """Documents of one query, best first, ties by doc id."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def finite_score(path: Path, line: int | None, value: object) -> float:
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FormatError(path, line, f"score must be a number, got {value!r}") from None
    if not math.isfinite(score):
        raise FormatError(path, line, f"score is {value!r}, not a finite number; fix the system that wrote it")
    return score


def read_trec_run(path: str | Path, query_ids: set[str] | None = None, doc_ids: set[str] | None = None) -> Run:
    path = Path(path)
    run: Run = {}
    for lineno, (qid, _q0, docid, _rank, score, _tag) in iter_fields(path, 6, sep=" "):
        check_known(path, lineno, "query id", qid, query_ids)
        check_known(path, lineno, "video id", docid, doc_ids)
        scores = run.setdefault(qid, {})
        if docid in scores:
            raise FormatError(path, lineno, f"video {docid!r} listed twice for query {qid!r}")
        scores[docid] = finite_score(path, lineno, score)
    require_entries(path, run, "scores; expected lines 'query_id Q0 video_id rank score tag'")
    return run


def write_trec_run(path: str | Path, run: Mapping[str, Mapping[str, float]], tag: str, depth: int | None = None) -> None:
    with atomic_write(path) as out:
        for qid in sorted(run):
            for rank, (docid, score) in enumerate(ranked(run[qid])[:depth], start=1):
                out.write(f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n")


def read_json_run(path: str | Path, query_ids: set[str] | None = None, doc_ids: set[str] | None = None) -> Run:
    path = Path(path)
    data = read_json_object(path, "{query_id: {video_id: score}}")
    run: Run = {}
    for qid, scores in data.items():
        check_known(path, None, "query id", qid, query_ids)
        if not isinstance(scores, dict):
            raise FormatError(path, None, f"query {qid!r}: expected an object {{video_id: score}}, got {type(scores).__name__}")
        for docid in scores:
            check_known(path, None, "video id", docid, doc_ids)
        run[qid] = {docid: finite_score(path, None, s) for docid, s in scores.items()}
    require_entries(path, any(run.values()), "scores: every query's object is empty")
    return run


def write_json_run(path: str | Path, run: Mapping[str, Mapping[str, float]]) -> None:
    ordered = {qid: dict(ranked(run[qid])) for qid in sorted(run)}
    with atomic_write(path) as out:
        json.dump(ordered, out, indent=1)
        out.write("\n")


def is_json_run(path: str | Path) -> bool:
    """`.json` or `.json.gz`: upstream's JSON; anything else is TREC."""
    return Path(path).name.removesuffix(".gz").endswith(".json")


def read_run(path: str | Path, query_ids: set[str] | None = None, doc_ids: set[str] | None = None) -> Run:
    """Either format, chosen by suffix (`is_json_run`)."""
    reader = read_json_run if is_json_run(path) else read_trec_run
    return reader(path, query_ids, doc_ids)


def truncate(run: Mapping[str, Mapping[str, float]], depth: int) -> Run:
    """Keep each query's top `depth` documents in (-score, doc_id) order."""
    return {qid: dict(ranked(scores)[:depth]) for qid, scores in run.items()}
