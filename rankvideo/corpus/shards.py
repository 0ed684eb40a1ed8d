"""Shards: per-video work split into a few hundred jobs, each loading its model once.

A video's shard depends on its id alone, so adding a video changes only its own shard's sheet.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from rankvideo.files.video_sheet import VideoRecord, read_video_sheet, write_video_sheet


@cache
def shard_names(n_shards: int) -> tuple[str, ...]:
    width = len(str(n_shards - 1))
    return tuple(f"{i:0{width}d}" for i in range(n_shards))


def shard_of(video_id: str, n_shards: int) -> str:
    """Stable shard of a video: adding a video to the sheet touches only its own shard's content."""
    index = int.from_bytes(hashlib.sha1(video_id.encode()).digest()[:8], "big") % n_shards
    return shard_names(n_shards)[index]


def write_shard_sheets(sheet: str | Path, out_dir: str | Path, n_shards: int) -> dict[str, int]:
    """One sheet per shard; a new video changes only its own shard's file, so only that shard reruns."""
    groups: dict[str, list[VideoRecord]] = {shard: [] for shard in shard_names(n_shards)}
    for record in read_video_sheet(sheet):
        groups[shard_of(record.video_id, n_shards)].append(record)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for shard, rows in groups.items():
        write_video_sheet(out_dir / f"{shard}.tsv", rows)
    return {shard: len(rows) for shard, rows in groups.items()}
