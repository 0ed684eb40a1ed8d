"""Rule probe_shard: decode each video of one shard as the model will sample it; record failures."""

import logging

from tqdm import tqdm

from rankvideo.corpus.probe import probe_record, split_usable, write_probe
from rankvideo.files.video_sheet import read_video_sheet, write_video_sheet
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    records = read_video_sheet(sm.input.sheet)
    results = [probe_record(r, sm.params.fps, sm.params.max_frames) for r in tqdm(records, desc=f"probe shard {sm.wildcards.shard}")]
    for r in results:
        if not r.ok:
            logging.warning("skipping %s: %s", r.video_id, r.reason)
    write_probe(sm.output.probe, results)
    usable, _ = split_usable(sm.input.sheet, results)
    write_video_sheet(sm.output.usable, usable)


run_script(main, snakemake)  # noqa: F821
