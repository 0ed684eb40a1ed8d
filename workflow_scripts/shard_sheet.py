"""Checkpoint shard_sheet: the video sheet split into one sheet per shard."""

import logging

from rankvideo.corpus.shards import write_shard_sheets
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    counts = write_shard_sheets(sm.input.sheet, sm.output[0], sm.params.n_shards)
    logging.info("%d videos in %d shards (largest %d)", sum(counts.values()), len(counts), max(counts.values()))


run_script(main, snakemake)  # noqa: F821
