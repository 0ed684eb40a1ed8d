"""Evaluate a first stage and the rerankers cascaded on it: `python -m rankvideo.evaluate`.

Flags follow upstream's evaluate.py (--pred-dir, --first-stage, --qrels, --score-field). In --pred-dir,
each reranker is cascaded over the first stage: the output folder of `python -m rankvideo.rerank` is one
reranker; otherwise each score file (`NAME.json` as {qid: {vid: score}}, or a TREC run, either may be
gzipped) is one, and upstream's per-video files (`<video>_reranking_<model>.json`) are one per model.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rankvideo.cli import run_cli
from rankvideo.evaluate.metrics import table_markdown
from rankvideo.evaluate.systems import evaluate_systems, pred_dir_systems, write_results
from rankvideo.files.predictions import SCORE_FIELDS
from rankvideo.files.queries import read_queries


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rankvideo.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--first-stage", required=True, help="first-stage run: TREC file or {qid: {vid: score}} JSON, optionally .gz")
    p.add_argument("--qrels", required=True, help="TREC qrels")
    p.add_argument("--pred-dir", help="a rankvideo.rerank output folder, or a folder of score files (one reranker each) "
                   "and upstream's per-video files (one reranker per model)")
    p.add_argument("--score-field", choices=SCORE_FIELDS, default="logit_delta", help="the key read from upstream's per-video files")
    p.add_argument("--queries", help="queries TSV restricting the evaluated queries (default: every query in the run and qrels)")
    p.add_argument("--first-stage-name", default="first_stage")
    p.add_argument("--depth", type=int, default=1000, help="first-stage depth (paper: 1000)")
    p.add_argument("--rerank-depth", type=int, default=100, help="rerank the top N (paper: 100)")
    p.add_argument("--cutoffs", type=int, nargs="+", default=[10, 20, 50, 100])
    p.add_argument("--dataset", default="")
    p.add_argument("--output", help="write the full results (means and per query) as JSON here")
    p.add_argument("--table", help="write the Markdown table here")
    return p


def evaluate(args: argparse.Namespace) -> int:
    rerankers = pred_dir_systems(args.pred_dir) if args.pred_dir else {}
    query_ids = list(read_queries(args.queries)) if args.queries else None
    results = evaluate_systems(args.first_stage, rerankers, args.qrels, query_ids, args.cutoffs, args.depth, args.rerank_depth,
                               args.first_stage_name, args.dataset or Path(args.qrels).parent.name, args.score_field)
    means = {name: entry["mean"] for name, entry in results["systems"].items()}
    if args.output or args.table:
        table = write_results(results, args.output or Path(args.table).with_suffix(".json"), args.table or Path(args.output).with_suffix(".md"))
    else:
        table = table_markdown(means, args.first_stage_name, args.cutoffs, results["dataset"])
    print(table, end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(evaluate, _parser(), argv)
