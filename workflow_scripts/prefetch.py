"""Rule prefetch (`snakemake prefetch` on a login node): the one rule that goes online."""

import os

os.environ["HF_HUB_OFFLINE"] = "0"  # before huggingface_hub reads it; every other job runs offline
os.environ["TRANSFORMERS_OFFLINE"] = "0"

from pathlib import Path

from rankvideo.workflow.prefetch import configured_checkpoints, prefetch, write_manifest
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    from huggingface_hub import constants

    whisper_root = Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
    records = prefetch(configured_checkpoints(sm.config), Path(constants.HF_HUB_CACHE), whisper_root)
    write_manifest(sm.output[0], records)


run_script(main, snakemake)  # noqa: F821
