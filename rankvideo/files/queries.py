"""Queries TSV, upstream's format: `query_id<TAB>text`, no header.

Further columns are allowed and ignored: the text is always the second column, as upstream's
rerank.py reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import FormatError, iter_fields, require_entries


def read_queries(path: str | Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for lineno, (qid, text, *_extra) in iter_fields(path, min_fields=2):
        qid, text = qid.strip(), text.strip()
        if not qid:
            raise FormatError(path, lineno, "empty query id")
        if not text:
            raise FormatError(path, lineno, f"query {qid!r} has empty text")
        if qid in queries:
            raise FormatError(path, lineno, f"duplicate query id {qid!r} (first on line {first_line[qid]})")
        queries[qid] = text
        first_line[qid] = lineno
    require_entries(path, queries, "queries; expected lines 'query_id<TAB>text'")
    return queries


def write_queries(path: str | Path, queries: Mapping[str, str]) -> None:
    with atomic_write(path) as out:
        for qid, text in queries.items():
            if "\t" in qid + text or "\n" in qid + text:
                raise ValueError(f"query {qid!r} contains a tab or newline")
            out.write(f"{qid}\t{text}\n")
