"""Rule filter_queries: the paper's two first-stage filters; survivors carry their candidate negatives."""

import logging

from rankvideo.files.jsonl import write_jsonl
from rankvideo.files.qrels import read_qrels
from rankvideo.files.runs import read_trec_run
from rankvideo.files.settings import from_record
from rankvideo.files.skips import write_skips
from rankvideo.synthesize.filters import filter_queries
from rankvideo.synthesize.settings import FilterSettings
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    settings = from_record(FilterSettings, sm.params.settings)
    relevant = {q: {v for v, r in judged.items() if r > 0} for q, judged in read_qrels(sm.input.qrels).items()}
    kept, dropped = filter_queries(read_trec_run(sm.input.run), relevant, settings)
    logging.info("%d of %d queries pass the filters", len(kept), len(relevant))
    write_jsonl(sm.output.candidates, [c.__dict__ for c in kept])
    write_skips(sm.output.dropped, sorted(dropped, key=lambda s: s.item_id))


run_script(main, snakemake)  # noqa: F821
