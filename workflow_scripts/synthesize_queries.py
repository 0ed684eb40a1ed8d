"""Rule synthesize_queries: five query variants per video of one shard."""

import logging

from rankvideo.files.jsonl import read_jsonl, write_jsonl
from rankvideo.files.skips import write_skips
from rankvideo.synthesize.queries import as_rows, synthesize
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    records = read_jsonl(sm.input.records)
    queries, skips = [], []
    if records:
        from rankvideo.models.textllm import load_text_llm

        queries, skips = synthesize(records, load_text_llm(sm.params.backend, sm.params.model), sm.params.variants, sm.params.retries, sm.params.max_new_tokens)
    logging.info("%d queries written, %d skipped", len(queries), len(skips))
    write_jsonl(sm.output.rows, as_rows(queries))
    write_skips(sm.output.skipped, skips)


run_script(main, snakemake)  # noqa: F821
