"""Rule train_stage2: ranking with pairwise + pointwise + teacher losses, resumable, with its loss log and plot."""

from pathlib import Path

from rankvideo.config import loss_label
from rankvideo.formats.training import read_stage2_rows
from rankvideo.losses import loss_config
from rankvideo.stage2 import train_stage2
from rankvideo.train import checkpoint_key, launch, processes_for, settings_for, write_history
from rankvideo.workflow import run_script


def main(sm) -> None:
    p = sm.params
    settings, video = settings_for(2, p.settings, p.video)
    data_hash, key = checkpoint_key(sm.input.data, p.settings, p.video, p.code, p.base)
    provenance = {"data": sm.input.data, "data_sha256": data_hash, "settings": dict(p.settings), "code": p.code}
    history = launch(train_stage2, processes_for(p.settings["processes"]), p.base, read_stage2_rows(sm.input.data), sm.output.model,
                     Path(p.checkpoints) / key, settings, video, loss_config(p.settings), p.settings["negatives"], provenance)
    write_history(history, sm.output.history, sm.output.plot,
                  f"Stage 2 training loss: {sm.wildcards.stage2} ({loss_label(p.settings['losses'])})")


run_script(main, snakemake)  # noqa: F821
