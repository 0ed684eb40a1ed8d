"""Qrels in TREC's four columns: `query_id iteration doc_id relevance`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import FormatError, check_known, iter_fields, require_entries

Qrels = dict[str, dict[str, int]]


def read_qrels(path: str | Path, query_ids: set[str] | None = None, doc_ids: set[str] | None = None) -> Qrels:
    qrels: Qrels = {}
    for lineno, (qid, _iteration, docid, rel) in iter_fields(path, 4, sep=" "):
        check_known(path, lineno, "query id", qid, query_ids)
        check_known(path, lineno, "video id", docid, doc_ids)
        try:
            relevance = int(rel)
        except ValueError:
            raise FormatError(path, lineno, f"relevance must be an integer, got {rel!r}") from None
        judged = qrels.setdefault(qid, {})
        if docid in judged:
            raise FormatError(path, lineno, f"duplicate judgment for ({qid}, {docid})")
        judged[docid] = relevance
    require_entries(path, qrels, "judgments; expected lines 'query_id 0 video_id relevance'")
    return qrels


def write_qrels(path: str | Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    with atomic_write(path) as out:
        for qid, judged in qrels.items():
            for docid, rel in sorted(judged.items()):
                out.write(f"{qid} 0 {docid} {int(rel)}\n")
