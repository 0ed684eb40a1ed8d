"""Rule train_stage2: ranking with pairwise + pointwise + teacher losses, resumable, with its loss log and plot."""

from rankvideo.files.settings import from_record
from rankvideo.files.training_rows import read_stage2_rows
from rankvideo.files.video import VideoSettings
from rankvideo.train.history import write_history
from rankvideo.train.job import train_job
from rankvideo.train.settings import Stage2Settings, loss_label
from rankvideo.train.stage2 import train_stage2
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    settings = from_record(Stage2Settings, p.settings)
    history = train_job(train_stage2, read_stage2_rows(sm.input.data), sm.input.data, p.base, sm.output.model, p.checkpoints, settings, VideoSettings(**p.video), p.code)
    write_history(history, sm.output.history, sm.output.plot,
                  f"Stage 2 training loss: {sm.wildcards.stage2} ({loss_label(settings.losses.terms)})")


run_script(main, snakemake)  # noqa: F821
