"""video2queries JSON, upstream's reranking work list: `{video_id: [query_id, ...]}`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import FormatError, check_known, read_json_object


def read_video2queries(path: str | Path, query_ids: set[str] | None = None, video_ids: set[str] | None = None) -> dict[str, list[str]]:
    path = Path(path)
    data = read_json_object(path, "{video_id: [query_id, ...]}")
    for vid, qids in data.items():
        check_known(path, None, "video id", vid, video_ids)
        if not isinstance(qids, list) or not all(isinstance(q, str) for q in qids):
            raise FormatError(path, None, f"video {vid!r}: expected a list of query id strings")
        if len(set(qids)) != len(qids):
            raise FormatError(path, None, f"video {vid!r}: a query id is listed twice")
        for qid in qids:
            check_known(path, None, "query id", qid, query_ids)
    return data


def split_unknown_queries(mapping: Mapping[str, Sequence[str]], query_ids: set[str]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The work list without query ids outside `query_ids`, and the (video_id, query_id) pairs left out.

    Upstream's rerank.py drops unknown ids from the queries but zips the scores onto the unfiltered id list,
    shifting every later score onto the wrong query; here each kept id stays with its own query.
    """
    kept: dict[str, list[str]] = {}
    skipped: list[tuple[str, str]] = []
    for vid, qids in mapping.items():
        known = [q for q in qids if q in query_ids]
        skipped += [(vid, q) for q in qids if q not in query_ids]
        if known:
            kept[vid] = known
    return kept, skipped


def video2queries_from_run(run: Mapping[str, Mapping[str, float]]) -> dict[str, list[str]]:
    """Invert a (truncated) run into the per-video work list, queries sorted for stable output."""
    out: dict[str, list[str]] = {}
    for qid in sorted(run):
        for vid in run[qid]:
            out.setdefault(vid, []).append(qid)
    return dict(sorted(out.items()))


def pooled_video2queries(runs: Sequence[Mapping[str, Mapping[str, float]]]) -> dict[str, list[str]]:
    """The work list of several (truncated) runs at once: each (query, video) pair once, however many runs hold it."""
    pooled: dict[str, dict[str, float]] = {}
    for run in runs:
        for qid, scores in run.items():
            pooled.setdefault(qid, {}).update(dict.fromkeys(scores, 0.0))
    return video2queries_from_run(pooled)


def write_video2queries(path: str | Path, mapping: Mapping[str, Sequence[str]]) -> None:
    with atomic_write(path) as out:
        json.dump({vid: list(qids) for vid, qids in mapping.items()}, out, indent=1)
        out.write("\n")
