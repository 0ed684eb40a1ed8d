"""Rule rerank_candidates: the (video -> queries) work list of the top rerank.depth of one first stage, or
pooled over every first stage for the reranker of paper Table 2."""

from rankvideo.files.runs import read_trec_run, truncate
from rankvideo.files.video2queries import pooled_video2queries, write_video2queries
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    runs = [truncate(read_trec_run(path), sm.params.depth) for path in sm.input.runs]
    write_video2queries(sm.output[0], pooled_video2queries(runs))


run_script(main, snakemake)  # noqa: F821
