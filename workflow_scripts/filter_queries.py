"""Rule filter_queries: the paper's two first-stage filters; survivors carry their candidate negatives."""

import logging

from rankvideo.extract.records import write_jsonl
from rankvideo.formats.qrels import read_qrels
from rankvideo.formats.runs import read_trec_run
from rankvideo.manifest import Skip, write_skips
from rankvideo.mining import filter_queries
from rankvideo.workflow import run_script


def main(sm) -> None:
    p = sm.params
    relevant = {q: {v for v, r in judged.items() if r > 0} for q, judged in read_qrels(sm.input.qrels).items()}
    kept, dropped = filter_queries(read_trec_run(sm.input.run), relevant, p.positive_depth, p.max_negative_ratio, p.candidates)
    logging.info("%d of %d queries pass the filters", len(kept), len(relevant))
    write_jsonl(sm.output.candidates, [c.__dict__ for c in kept])
    write_skips(sm.output.dropped, [Skip(q, "filter", reason) for q, reason in sorted(dropped.items())])


run_script(main, snakemake)  # noqa: F821
