"""Resumable checkpoints: weights (safetensors), optimizer, scheduler, RNG and data position.

A checkpoint is complete only once its marker is written and its folder renamed into place; its folder name is
keyed by everything the run depends on, so only an identical run resumes it.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from rankvideo.files.video import VideoSettings
from rankvideo.models.model_card import MODEL_CARD

COMPLETE = "COMPLETE"


def complete_checkpoints(root: Path) -> list[Path]:
    done = [p for p in root.glob("step-*") if (p / COMPLETE).is_file() and p.name.split("-")[1].isdigit()]
    return sorted(done, key=lambda p: int(p.name.split("-")[1]))


def save_checkpoint(root: Path, step: int, model, optimizer, scheduler, state: Mapping[str, Any], keep: int = 2) -> Path:
    """Write into a temp folder, mark it complete, then rename it into place; old checkpoints pruned."""
    final, tmp = root / f"step-{step}", root / f".step-{step}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate()}}, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps(state))
    (tmp / COMPLETE).write_text("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in complete_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model, optimizer, scheduler) -> dict[str, Any]:
    from safetensors.torch import load_file

    model.load_state_dict(load_file(path / "model.safetensors"))
    trainer = torch.load(path / "trainer.pt", weights_only=True)  # tensors, numbers and RNG tuples: no code runs on load
    optimizer.load_state_dict(trainer["optimizer"])
    scheduler.load_state_dict(trainer["scheduler"])
    torch.set_rng_state(trainer["rng"]["torch"])
    random.setstate(trainer["rng"]["python"])
    return json.loads((path / "state.json").read_text())


def model_identity(model: str) -> str:
    """A starting model as checkpoints see it: its name or path, and the record of how it was trained when it
    has one, so a retrained Stage 1 at the same path never resumes a Stage 2 that started from the old weights."""
    card = Path(model) / MODEL_CARD
    return model + ("\n" + card.read_text() if card.is_file() else "")


def checkpoint_key(data: str | Path, settings: Any, video: VideoSettings, code: str, base: str) -> tuple[str, str]:
    """(data sha256, key): checkpoints are only resumed by a run with identical data, settings, code and starting model."""
    data_hash = hashlib.sha256(Path(data).read_bytes()).hexdigest()
    record = [data_hash, asdict(settings), asdict(video), code, model_identity(base)]
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
    return data_hash, key
