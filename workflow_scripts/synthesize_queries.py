"""Rule synthesize_queries: five query variants per video of one shard."""

import logging

from rankvideo.files.jsonl import read_jsonl, write_jsonl
from rankvideo.files.settings import from_record
from rankvideo.files.skips import write_skips
from rankvideo.models.serving import EngineSettings
from rankvideo.synthesize.queries import as_rows, synthesize
from rankvideo.synthesize.settings import SynthesisSettings
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    records = read_jsonl(sm.input.records)
    queries, skips = [], []
    if records:
        from rankvideo.models.textllm import load_text_llm

        settings = from_record(SynthesisSettings, sm.params.settings)
        queries, skips = synthesize(records, load_text_llm(settings.backend, sm.params.model, EngineSettings(**sm.params.engine)), settings)
    logging.info("%d queries written, %d skipped", len(queries), len(skips))
    write_jsonl(sm.output.rows, as_rows(queries))
    write_skips(sm.output.skipped, skips)


run_script(main, snakemake)  # noqa: F821
