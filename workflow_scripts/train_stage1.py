"""Rule train_stage1: perception SFT (caption generation), resumable, with its loss log and plot."""

from pathlib import Path

from rankvideo.formats.training import read_stage1_rows
from rankvideo.train import checkpoint_key, launch, processes_for, settings_for, train_stage1, write_history
from rankvideo.workflow import run_script


def main(sm) -> None:
    p = sm.params
    settings, video = settings_for(1, p.settings, p.video)
    data_hash, key = checkpoint_key(sm.input.data, p.settings, p.video, p.code, p.base)
    provenance = {"data": sm.input.data, "data_sha256": data_hash, "settings": dict(p.settings), "code": p.code}
    history = launch(train_stage1, processes_for(p.settings["processes"]), p.base, read_stage1_rows(sm.input.data), sm.output.model,
                     Path(p.checkpoints) / key, settings, video, provenance)
    write_history(history, sm.output.history, sm.output.plot, "Stage 1 training loss")


run_script(main, snakemake)  # noqa: F821
