"""Per-video extraction records: one JSONL line per video with every modality and its provenance."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rankvideo.files.skips import Skip, Why

log = logging.getLogger(__name__)


def merge_modalities(videos: Iterable[Any], modalities: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One record per usable video: metadata from the sheet, then each modality's text, model and error."""
    records = []
    for video in videos:
        record: dict[str, Any] = {"video_id": video.video_id, "path": str(video.path), "metadata": dict(video.metadata),
                                  "models": {}, "errors": {}}
        for modality, rows in modalities.items():
            row = rows.get(video.video_id)
            if row is None:
                raise ValueError(f"modality {modality!r} has no row for video {video.video_id}; rerun its extraction")
            record[modality] = row["text"]
            record["models"][modality] = row["model"]
            if row.get("error"):
                record["errors"][modality] = row["error"]
            if "language" in row:
                record[f"{modality}_language"] = row["language"]
        records.append(record)
    return records


def extract_each(videos: Sequence[Any], modality: str, model: str, read: Callable[[Any], Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[Skip]]:
    """Run one extractor over videos; a video it cannot read gets empty text and a skip line, not a crash.

    `read(video)` returns {"text": ..., optional extra fields}; raising records the error for that video.
    """
    from tqdm import tqdm

    rows, skips = [], []
    for video in tqdm(videos, desc=modality, unit="video"):
        try:
            row = {"video_id": video.video_id, "model": model, "error": "", **read(video)}
        except Exception as err:  # any extractor failure costs this video this modality only
            log.exception("%s failed on %s", modality, video.video_id)
            row = {"video_id": video.video_id, "model": model, "text": "", "error": f"{type(err).__name__}: {err}"}
        if row["error"]:
            skips.append(Skip(video.video_id, modality, Why.EXTRACTION_FAILED, row["error"]))
        rows.append(row)
    return rows, skips
