"""Rule train_stage1: perception SFT (caption generation), resumable, with its loss log and plot."""

from rankvideo.files.settings import from_record
from rankvideo.files.training_rows import read_stage1_rows
from rankvideo.files.video import VideoSettings
from rankvideo.train.history import write_history
from rankvideo.train.job import train_job
from rankvideo.train.settings import Stage1Settings
from rankvideo.train.stage1 import train_stage1
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    settings = from_record(Stage1Settings, p.settings)
    history = train_job(train_stage1, read_stage1_rows(sm.input.data), sm.input.data, p.base, sm.output.model, p.checkpoints, settings, VideoSettings(**p.video), p.code)
    write_history(history, sm.output.history, sm.output.plot, "Stage 1 training loss")


run_script(main, snakemake)  # noqa: F821
