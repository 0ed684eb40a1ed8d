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


# Full states keyed by parameter name, on the CPU: the same files whether the weights are whole on every process or
# sharded (fsdp). Gathering them is a collective when sharded: every process calls these, rank 0 writes.
def full_model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def full_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def save_checkpoint(root: Path, step: int, model_state: Mapping[str, torch.Tensor], optimizer_state: Mapping[str, Any], scheduler,
                    state: Mapping[str, Any], keep: int = 2) -> Path:
    """Write into a temp folder, mark it complete, then rename it into place; old checkpoints pruned."""
    final, tmp = root / f"step-{step}", root / f".step-{step}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in model_state.items()}, tmp / "model.safetensors")
    torch.save({"optimizer": optimizer_state, "scheduler": scheduler.state_dict(),
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate()}}, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps(state))
    (tmp / COMPLETE).write_text("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in complete_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model, optimizer, scheduler) -> dict[str, Any]:
    """Every process reads the full states and keeps its part of them (all of it, or its shard under fsdp)."""
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True)
    trainer = torch.load(path / "trainer.pt", weights_only=True)  # tensors, numbers and RNG tuples: no code runs on load
    set_model_state_dict(model, load_file(path / "model.safetensors"), options=options)
    set_optimizer_state_dict(model, optimizer, trainer["optimizer"], options=options)
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
