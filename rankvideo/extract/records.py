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


# A video's {"text": ..., optional extra fields, optional "lacks": [(Why, reason), ...] it was read without}, or why it
# has none
Reading = Mapping[str, Any] | Exception


def each_video(read: Callable[[Any], Mapping[str, Any]]) -> Callable[[Sequence[Any]], list[Reading]]:
    """A one-video reader as a batch reader; whatever one video raises stays that video's."""
    def read_batch(batch: Sequence[Any]) -> list[Reading]:
        readings: list[Reading] = []
        for video in batch:
            try:
                readings.append(read(video))
            except Exception as err:  # any extractor failure costs this video this modality only
                log.exception("reading %s failed", video.video_id)
                readings.append(err)
        return readings
    return read_batch


def extract_each(videos: Sequence[Any], modality: str, model: str, read_batch: Callable[[Sequence[Any]], list[Reading]],
                 batch_size: int = 1) -> tuple[list[dict[str, Any]], list[Skip]]:
    """Run one extractor over videos, `batch_size` at a time (an engine that batches gets many); a video it cannot read
    gets empty text and a skip line, not a crash. A reading made without part of its video (a caption without the audio
    track) keeps its text and gets a skip line per lack."""
    from tqdm import tqdm

    rows, skips = [], []
    with tqdm(total=len(videos), desc=modality, unit="video") as progress:
        for start in range(0, len(videos), batch_size):
            batch = videos[start:start + batch_size]
            try:
                readings = read_batch(batch)
            except Exception as err:  # a failed batch (an engine error) costs its videos this modality only
                log.exception("%s failed on %s", modality, [v.video_id for v in batch])
                readings = [err] * len(batch)
            for video, reading in zip(batch, readings, strict=True):
                if isinstance(reading, Exception):
                    row = {"video_id": video.video_id, "model": model, "text": "", "error": f"{type(reading).__name__}: {reading}"}
                else:
                    fields = {k: v for k, v in reading.items() if k != "lacks"}
                    row = {"video_id": video.video_id, "model": model, "error": "", **fields}
                    skips += [Skip(video.video_id, modality, code, reason) for code, reason in reading.get("lacks", ())]
                if row["error"]:
                    skips.append(Skip(video.video_id, modality, Why.EXTRACTION_FAILED, row["error"]))
                rows.append(row)
            progress.update(len(batch))
    return rows, skips
