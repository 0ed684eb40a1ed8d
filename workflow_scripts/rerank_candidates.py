"""Rule rerank_candidates: the (video -> queries) work list of the first stage's top rerank.depth."""

from rankvideo.formats.runs import read_trec_run, truncate
from rankvideo.formats.video2queries import video2queries_from_run, write_video2queries
from rankvideo.workflow import run_script


def main(sm) -> None:
    write_video2queries(sm.output[0], video2queries_from_run(truncate(read_trec_run(sm.input.run), sm.params.depth)))


run_script(main, snakemake)  # noqa: F821
