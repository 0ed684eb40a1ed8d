"""Rule evaluate: results/eval/ndcg.json and the Table-1-shaped Markdown beside it."""

from rankvideo.evaluate.systems import evaluate_systems, write_results
from rankvideo.files.queries import read_queries
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    results = evaluate_systems(sm.input.first_stage, dict(p.rerankers), sm.input.qrels, list(read_queries(sm.input.queries)),
                               p.cutoffs, p.depth, p.rerank_depth, p.first_stage_name, p.dataset,
                               other_first_stages={name: (path, p.other_depths[name]) for name, path in p.other_runs.items()})
    print(write_results(results, sm.output.json, sm.output.table))


run_script(main, snakemake)  # noqa: F821
