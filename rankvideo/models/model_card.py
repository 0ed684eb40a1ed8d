"""The model card (rankvideo.json) a model folder carries: how it must be prompted and scored, and how it was made."""

from __future__ import annotations

import json
from pathlib import Path

from rankvideo.files.atomic import atomic_write_text

MODEL_CARD = "rankvideo.json"


def write_model_card(model_dir: str | Path, prompt_format: str, provenance: dict) -> None:
    """Record how a model directory must be prompted and scored, so inference matches its training."""
    atomic_write_text(Path(model_dir) / MODEL_CARD, json.dumps({"prompt_format": prompt_format, **provenance}, indent=1) + "\n")
