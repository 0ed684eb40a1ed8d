"""The skip manifest: every item a stage could not use, with the stage and the reason.

Nothing is dropped silently: a stage that leaves an item out writes a line here instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rankvideo.formats.errors import FormatError, iter_fields
from rankvideo.fsutil import atomic_write

HEADER = ("id", "stage", "reason")


@dataclass(frozen=True)
class Skip:
    item_id: str
    stage: str
    reason: str


def write_skips(path: str | Path, skips: Iterable[Skip]) -> None:
    with atomic_write(path) as out:
        out.write("\t".join(HEADER) + "\n")
        for s in skips:
            reason = " ".join(s.reason.split())  # one line, no tabs
            out.write(f"{s.item_id}\t{s.stage}\t{reason}\n")


def read_skips(path: str | Path) -> list[Skip]:
    rows = iter_fields(path, 3)
    first = next(rows, None)
    if first is None or tuple(first[1]) != HEADER:
        raise FormatError(path, 1, f"expected the header {HEADER}")
    return [Skip(*fields) for _, fields in rows]


def merge_skips(paths: Iterable[str | Path], out: str | Path) -> list[Skip]:
    skips = [s for p in paths for s in read_skips(p)]
    write_skips(out, skips)
    return skips
