"""The `extract` block of config.yaml as the typed settings of each job that reads it, one field per key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OcrSettings:
    """Rule extract_ocr: Tesseract's language packs and the frames it reads."""

    ocr_languages: str  # Tesseract's "+"-joined language packs
    ocr_fps: float
    ocr_max_frames: int


@dataclass(frozen=True)
class CaptionSettings:
    """Rule extract_captions (paper §3): how the captioner (models.captioner) runs."""

    caption_backend: str  # vllm on the cluster, transformers on CPU
    caption_max_tokens: int
