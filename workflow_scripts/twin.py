"""Rule twin: build one of the paper models' tiny twins (safetensors, offline) under results/models/twins/."""

from rankvideo.demo.twins import TWINS
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    TWINS[sm.wildcards.twin](sm.output[0], seed=sm.params.seed)


run_script(main, snakemake)  # noqa: F821
