"""Rule partition: trusted / suspected-positive / hard negatives per query (alpha1, alpha2)."""

import logging

from rankvideo.extract.records import read_jsonl, write_jsonl
from rankvideo.manifest import Skip, write_skips
from rankvideo.mining import partition, partition_rows, read_judgments
from rankvideo.workflow import run_script


def main(sm) -> None:
    p = sm.params
    kept, dropped = partition(read_judgments(read_jsonl(sm.input[0]), p.yes_threshold), p.alpha1, p.alpha2, p.min_trusted)
    logging.info("%d queries kept, %d dropped", len(kept), len(dropped))
    write_jsonl(sm.output.partition, partition_rows(kept))
    write_skips(sm.output.dropped, [Skip(q, "judge", reason) for q, reason in sorted(dropped.items())])


run_script(main, snakemake)  # noqa: F821
