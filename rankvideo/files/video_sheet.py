"""The video sheet: a TSV with a header naming at least `video_id` and `path`, plus metadata columns.

Relative paths resolve against the sheet's own folder, so a corpus folder can move as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import FormatError, iter_fields

REQUIRED_COLUMNS = ("video_id", "path")


@dataclass(frozen=True)
class VideoRecord:
    video_id: str
    path: Path
    metadata: dict[str, str] = field(default_factory=dict)


def read_video_sheet(path: str | Path) -> list[VideoRecord]:
    path = Path(path)
    rows = iter_fields(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise FormatError(path, 1, "empty video sheet; expected a header line 'video_id<TAB>path<TAB>...'") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FormatError(path, 1, f"header lacks column(s) {missing}; found {header}")
    if len(set(header)) != len(header):
        raise FormatError(path, 1, f"duplicate column names in header {header}")
    records: list[VideoRecord] = []
    seen: dict[str, int] = {}
    for lineno, fields in rows:
        if len(fields) != len(header):
            raise FormatError(path, lineno, f"expected {len(header)} tab-separated fields (as the header), found {len(fields)}")
        row = dict(zip(header, fields))
        video_id = row.pop("video_id").strip()
        if not video_id:
            raise FormatError(path, lineno, "empty video_id")
        if video_id in seen:
            raise FormatError(path, lineno, f"duplicate video_id {video_id!r} (first on line {seen[video_id]})")
        seen[video_id] = lineno
        video_path = Path(row.pop("path"))
        if not video_path.is_absolute():
            video_path = path.parent / video_path
        records.append(VideoRecord(video_id, video_path, row))
    return records


def write_video_sheet(path: str | Path, records: Iterable[VideoRecord]) -> None:
    """Write records; a video inside the sheet's folder is stored relative to it, any other absolute."""
    path = Path(path)
    records = list(records)
    base = path.parent.resolve()
    columns = sorted({k for r in records for k in r.metadata})
    with atomic_write(path) as out:
        out.write("\t".join([*REQUIRED_COLUMNS, *columns]) + "\n")
        for r in records:
            stored = Path(r.path).resolve()
            stored = stored.relative_to(base) if stored.is_relative_to(base) else stored
            values = [r.metadata.get(c, "") for c in columns]
            for value in [r.video_id, str(stored), *values]:
                if "\t" in value or "\n" in value:
                    raise ValueError(f"video {r.video_id}: value {value!r} contains a tab or newline")
            out.write("\t".join([r.video_id, str(stored), *values]) + "\n")
