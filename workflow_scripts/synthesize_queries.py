"""Rule synthesize_queries: five query variants per video of one shard."""

import logging

from rankvideo.extract.records import read_jsonl, write_jsonl
from rankvideo.manifest import write_skips
from rankvideo.synthesis import as_rows, synthesize
from rankvideo.workflow import run_script


def main(sm) -> None:
    records = read_jsonl(sm.input.records)
    queries, skips = [], []
    if records:
        from rankvideo.textllm import load_text_llm

        queries, skips = synthesize(records, load_text_llm(sm.params.backend, sm.params.model), sm.params.variants, sm.params.retries, sm.params.max_new_tokens)
    logging.info("%d queries written, %d skipped", len(queries), len(skips))
    write_jsonl(sm.output.rows, as_rows(queries))
    write_skips(sm.output.skipped, skips)


run_script(main, snakemake)  # noqa: F821
