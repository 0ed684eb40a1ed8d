"""Rules train_stage1 / train_stage2: one training stage, resumable, with its loss log and plot."""

import hashlib
import json
from pathlib import Path

from rankvideo.backends.transformers_backend import VideoSettings
from rankvideo.extract.records import read_jsonl
from rankvideo.losses import LossConfig
from rankvideo.train import TrainSettings, train_stage, write_history
from rankvideo.workflow import run_script

LOSS_KEYS = ("tau_pair", "lambda_teacher", "tau_teacher", "lambda_pt", "tau_point", "soft_negative_target", "negative_weight")


def main(sm) -> None:
    p = sm.params
    s = dict(p.settings)
    stage = p.stage
    video = VideoSettings(p.video["fps"], p.video[f"max_frames_stage{stage}"], p.video["min_pixels"], p.video["max_pixels"],
                          p.video["image_patch_size"])
    settings = TrainSettings(s["lr"], s["scheduler"], s["warmup_ratio"], s["optimizer"], s["batch_size"], s["epochs"],
                             s["checkpoint_every"], s["seed"], s["lora"])
    losses = LossConfig(**{k: s[k] for k in LOSS_KEYS}, terms=tuple(s["losses"])) if stage == 2 else None
    data_hash = hashlib.sha256(Path(sm.input.data).read_bytes()).hexdigest()
    # Checkpoints are only resumed by a run with identical data, settings, code and starting model.
    key = hashlib.sha256(json.dumps([data_hash, s, p.video, p.code, p.base], sort_keys=True).encode()).hexdigest()[:16]
    history = train_stage(stage, p.base, read_jsonl(sm.input.data), sm.output.model, Path(p.checkpoints) / key, settings, video,
                          losses, s.get("negatives", 2), {"data": sm.input.data, "data_sha256": data_hash, "settings": s, "code": p.code})
    write_history(history, sm.output.history, sm.output.plot, f"Stage {stage} training loss")


run_script(main, snakemake)  # noqa: F821
