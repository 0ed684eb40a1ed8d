"""Corpus checks: which videos every stage can use (each decoded as the model will sample it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import FormatError, iter_fields
from rankvideo.files.skips import Skip, Why
from rankvideo.files.video import VideoDecodeError, decode_sampled
from rankvideo.files.video_sheet import VideoRecord, read_video_sheet

PROBE_COLUMNS = ("video_id", "status", "reason", "has_audio", "total_frames", "fps", "width", "height")


@dataclass(frozen=True)
class ProbeResult:
    video_id: str
    ok: bool
    reason: str = ""
    has_audio: bool = False
    total_frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0


def probe_record(record: VideoRecord, fps: float, max_frames: int) -> ProbeResult:
    """Decode the frames the model would sample; a video that fails is recorded, not raised."""
    try:
        info, _, _, _ = decode_sampled(record.path, fps, max_frames)
    except VideoDecodeError as err:
        return ProbeResult(record.video_id, False, err.reason)
    return ProbeResult(record.video_id, True, "", info.has_audio, info.total_frames, info.fps, info.width, info.height)


def write_probe(path: str | Path, results: Sequence[ProbeResult]) -> None:
    with atomic_write(path) as out:
        out.write("\t".join(PROBE_COLUMNS) + "\n")
        for r in results:
            status = "ok" if r.ok else "skipped"
            out.write(f"{r.video_id}\t{status}\t{r.reason}\t{int(r.has_audio)}\t{r.total_frames}\t{r.fps:.4f}\t{r.width}\t{r.height}\n")


def read_probe(path: str | Path) -> list[ProbeResult]:
    rows = iter_fields(path, len(PROBE_COLUMNS))
    if tuple(next(rows, (0, []))[1]) != PROBE_COLUMNS:
        raise FormatError(path, 1, f"expected the header {PROBE_COLUMNS}")
    return [ProbeResult(vid, status == "ok", reason, audio == "1", int(n), float(fps), int(w), int(h))
            for _, (vid, status, reason, audio, n, fps, w, h) in rows]


def split_usable(sheet: str | Path, probes: Iterable[ProbeResult]) -> tuple[list[VideoRecord], list[Skip]]:
    """Usable videos (with has_audio added to their metadata) and the skips, checked against the sheet."""
    records = read_video_sheet(sheet)
    by_id = {p.video_id: p for p in probes}
    missing = [r.video_id for r in records if r.video_id not in by_id]
    if missing:
        raise ValueError(f"{sheet}: videos {missing[:5]} were never probed; rerun the probe rules")
    usable, skips = [], []
    for r in records:
        p = by_id[r.video_id]
        if not p.ok:
            skips.append(Skip(r.video_id, "probe", Why.UNREADABLE_VIDEO, p.reason))
            continue
        if not p.has_audio:
            skips.append(Skip(r.video_id, "audio", Why.NO_AUDIO, "no audio stream: kept for every video stage; speech stages see no speech"))
        usable.append(VideoRecord(r.video_id, r.path, {**r.metadata, "has_audio": str(int(p.has_audio))}))
    return usable, skips

