"""One training job as a rule (and the curriculum check) runs it: checkpoints keyed by everything the run depends on,
one process per GPU, the model saved with its provenance.

The stage's trainer comes in as an argument, so a rule's code fingerprint holds its own stage's code only: a changed
Stage 2 loss reruns Stage 2, not Stage 1.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rankvideo.files.video import VideoSettings
from rankvideo.train.checkpoints import checkpoint_key
from rankvideo.train.loop import launch, processes_for
from rankvideo.train.settings import Stage1Settings, Stage2Settings

log = logging.getLogger(__name__)


def launch_record(processes: int) -> dict[str, Any]:
    """Where the job ran: a multi-GPU job must start its script once (Slurm task count 1) and see all its GPUs, then start
    one training process per GPU itself. Recorded in the model card, so a job split into one-GPU tasks shows."""
    env = {name: os.environ.get(name) for name in ("SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS")}
    return {**env, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"), "processes": processes}


def train_job(train: Callable[..., list[dict[str, Any]]], rows: Sequence[Mapping[str, Any]], data: str | Path, base: str,
              out_dir: str | Path, checkpoints: str | Path, settings: Stage1Settings | Stage2Settings, video: VideoSettings,
              code: str) -> list[dict[str, Any]]:
    """`train` (train_stage1 or train_stage2) from `base` on `rows`, read from `data`; returns the per-step log.

    Checkpoints go to `checkpoints/<key>`: only a run with the same data, settings, frames, code and starting model resumes them.
    """
    data_hash, key = checkpoint_key(data, settings, video, code, base)
    processes = processes_for(settings.stage.processes)
    started = launch_record(processes)
    log.info("launch: %s", started)
    provenance = {"data": str(data), "data_sha256": data_hash, "settings": asdict(settings), "code": code, "launch": started}
    return launch(train, processes, base, rows, out_dir, Path(checkpoints) / key, settings, video, provenance)
