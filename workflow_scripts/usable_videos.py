"""Rule usable_videos: merge the shard probes into the usable-video sheet and the skip manifest."""

import logging

from rankvideo.corpus.probe import read_probe, split_usable
from rankvideo.files.skips import write_skips
from rankvideo.files.video_sheet import write_video_sheet
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    probes = [p for path in sm.input.probes for p in read_probe(path)]
    usable, skips = split_usable(sm.input.sheet, probes)
    write_video_sheet(sm.output.videos, usable)
    write_skips(sm.output.skipped, skips)
    logging.info("%d usable videos, %d skip records", len(usable), len(skips))


run_script(main, snakemake)  # noqa: F821
