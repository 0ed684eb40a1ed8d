"""Rule merge_rerank: one reranker's shards into scores.json, run.trec and failed.tsv."""

import json
import logging
from pathlib import Path

from rankvideo.rerank.work import write_outputs
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    results = {}
    for path in sm.input:
        results.update(json.loads(Path(path).read_text()))
    scored, failed = write_outputs(results, Path(sm.output.scores).parent, tag=sm.wildcards.reranker)
    logging.info("%s: %d pairs scored, %d failed", sm.wildcards.reranker, scored, failed)


run_script(main, snakemake)  # noqa: F821
