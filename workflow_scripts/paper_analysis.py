"""Rule paper_analysis: Table 1 as CSV and against the published numbers, Tables 2, 4, 5 and 7, nDCG@10 by
query group, Figure 3."""

import csv
import json
import logging
from pathlib import Path

from rankvideo.analysis.tables import (
    OVERLAP_CUTOFFS,
    breakdown_markdown,
    compare_table,
    comparison_markdown,
    first_stages_markdown,
    group_breakdown,
    load_published,
    overlap_at,
    plot_ecdf,
    rank_changes,
    relevance_split,
    table2_markdown,
    table4_markdown,
    table5_markdown,
    table7_markdown,
    variance_decomposition,
)
from rankvideo.evaluate.metrics import cascade, evaluate_run
from rankvideo.files.atomic import atomic_write, atomic_write_text
from rankvideo.files.qrels import read_qrels
from rankvideo.files.queries import read_queries
from rankvideo.files.runs import read_run, truncate
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    results = json.loads(Path(sm.input.ndcg).read_text(encoding="utf-8"))
    metrics = [f"{m}@{k}" for k in p.cutoffs for m in ("R", "nDCG")]
    means = {name: system["mean"] for name, system in results["systems"].items()}
    with atomic_write(sm.output.table1_csv) as out:
        writer = csv.writer(out)
        writer.writerow(["system", *metrics, *(f"delta%_{m}" for m in metrics)])
        base = means[p.first_stage_name]
        for name, row in means.items():
            writer.writerow([name, *(f"{row[m]:.4f}" for m in metrics),
                             *("" if name == p.first_stage_name or not base[m] else f"{100 * (row[m] - base[m]) / base[m]:+.2f}" for m in metrics)])

    published = load_published()
    if results["dataset"] == published["dataset"]:
        rows = compare_table(means, published["table1"], metrics, p.tolerance)
        atomic_write_text(sm.output.published, comparison_markdown(rows, published["source"], p.tolerance))
    else:
        atomic_write_text(sm.output.published, f"Not compared: the published numbers are for {published['dataset']}; "
                                               f"this run evaluates {results['dataset']}.\n")

    atomic_write_text(sm.output.table7, table7_markdown(results, p.loss_ablation))

    qrels, queries = read_qrels(sm.input.qrels), read_queries(sm.input.queries)
    first_stage = truncate(read_run(sm.input.first_stage), p.depth)
    scores = {name: read_run(path) for name, path in p.scores.items()}
    after = cascade(first_stage, scores[p.reranker], p.rerank_depth)
    changes = rank_changes(first_stage, after, qrels, queries, p.rerank_depth)
    atomic_write_text(sm.output.table4, table4_markdown(changes, p.table4_queries, p.rerank_depth, p.reranker))
    atomic_write_text(sm.output.table5, table5_markdown({name: variance_decomposition(s) for name, s in scores.items()}))

    table2 = {}
    for stage, path in p.table2_runs.items():
        run = truncate(read_run(path), p.table2_depths[stage])
        table2[stage] = tuple(evaluate_run(r, qrels, list(queries), p.cutoffs)[0]
                              for r in (run, cascade(run, scores[p.reranker], p.rerank_depth)))
    atomic_write_text(sm.output.table2, table2_markdown(table2, p.reranker, p.cutoffs, f"{results['dataset']}: {p.reranker} "
                                                        f"on the top {p.rerank_depth} of each first stage, % change over it"))
    runs = {stage: truncate(read_run(path), p.table2_depths[stage]) for stage, path in p.table2_runs.items()}
    overlaps = {stage: {k: overlap_at(run, runs[p.first_stage_name], k) for k in OVERLAP_CUTOFFS}
                for stage, run in runs.items() if stage != p.first_stage_name}
    atomic_write_text(sm.output.first_stages, first_stages_markdown(
        {stage: means[stage] for stage in runs}, overlaps, p.first_stage_name, p.cutoffs,
        f"{results['dataset']}: each first stage alone, and how much of its top k the {p.first_stage_name} run shares"))

    if sm.input.groups:
        group_rows = list(csv.DictReader(Path(sm.input.groups[0]).read_text(encoding="utf-8").splitlines(), delimiter="\t"))
        per_query = {name: system["per_query"] for name, system in results["systems"].items()}
        tables = []
        for column in [c for c in group_rows[0] if c != "query_id"]:
            groups = {r["query_id"]: r[column] for r in group_rows}
            shown, group_means, sizes = group_breakdown(per_query, groups, "nDCG@10", p.min_group_queries)
            tables.append(breakdown_markdown(column, "nDCG@10", shown, group_means, sizes, p.min_group_queries))
        atomic_write_text(sm.output.groups, "\n".join(tables))
    else:
        atomic_write_text(sm.output.groups, "No query groups configured (evaluation.query_groups).\n")

    plot_ecdf({name: relevance_split(scores[name], qrels) for name in p.ecdf}, sm.output.figure3,
              f"{results['dataset']}: scores of relevant vs non-relevant pairs")
    logging.info("analysis of %d systems written", len(means))


run_script(main, snakemake)  # noqa: F821
