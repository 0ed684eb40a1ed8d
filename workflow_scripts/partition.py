"""Rule partition: trusted / suspected-positive / hard negatives per query (alpha1, alpha2)."""

import logging

from rankvideo.files.jsonl import read_jsonl, write_jsonl
from rankvideo.files.settings import from_record
from rankvideo.files.skips import write_skips
from rankvideo.judge.partition import partition, partition_rows
from rankvideo.judge.settings import PartitionSettings
from rankvideo.judge.teacher import read_judgments
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    settings = from_record(PartitionSettings, sm.params.settings)
    kept, dropped = partition(read_judgments(read_jsonl(sm.input[0]), settings.yes_threshold), settings)
    logging.info("%d queries kept, %d dropped", len(kept), len(dropped))
    write_jsonl(sm.output.partition, partition_rows(kept))
    write_skips(sm.output.dropped, sorted(dropped, key=lambda s: s.item_id))


run_script(main, snakemake)  # noqa: F821
