"""Retrieval metrics (R@k, nDCG@k with trec_eval's definitions via pytrec_eval) and the cascade rule.

Ties are broken by (-score, doc_id) before trec_eval sees a run, so every metric is deterministic
and agrees with the order our TREC files are written in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytrec_eval

from rankvideo.files.runs import Run, ranked

METRIC_FAMILIES = (("R", "recall"), ("nDCG", "ndcg_cut"))


def metric_names(cutoffs: Sequence[int]) -> list[str]:
    """Table 1's column order: R@10, nDCG@10, R@20, nDCG@20, ..."""
    return [f"{short}@{k}" for k in cutoffs for short, _ in METRIC_FAMILIES]


def rank_scores(run: Mapping[str, Mapping[str, float]]) -> Run:
    """Replace scores by descending rank values so trec_eval's own tie-breaking never applies."""
    out: Run = {}
    for qid, scores in run.items():
        order = ranked(scores)
        out[qid] = {docid: float(len(order) - i) for i, (docid, _) in enumerate(order)}
    return out


def evaluate_run(run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]], query_ids: Sequence[str],
                 cutoffs: Sequence[int]) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, str]]:
    """Mean and per-query metrics over `query_ids`.

    A query with no relevant video in the qrels cannot be measured: it is excluded, with the reason.
    A measurable query the run does not answer scores 0 (a system gets no credit for skipping it).
    """
    excluded = {q: "no relevant video in the qrels" for q in query_ids if not any(r > 0 for r in qrels.get(q, {}).values())}
    measured = [q for q in query_ids if q not in excluded]
    families = {f"{name}.{','.join(map(str, cutoffs))}" for _, name in METRIC_FAMILIES}
    evaluator = pytrec_eval.RelevanceEvaluator({q: dict(qrels[q]) for q in measured}, families)
    scored = rank_scores({q: run[q] for q in measured if run.get(q)})
    raw = evaluator.evaluate(scored)
    per_query: dict[str, dict[str, float]] = {}
    for q in measured:
        values = raw.get(q, {})
        per_query[q] = {f"{short}@{k}": float(values.get(f"{name}_{k}", 0.0)) for k in cutoffs for short, name in METRIC_FAMILIES}
    names = metric_names(cutoffs)
    mean = {m: (sum(per_query[q][m] for q in measured) / len(measured) if measured else 0.0) for m in names}
    return mean, per_query, excluded


def cascade(first_stage: Mapping[str, Mapping[str, float]], rerank_scores: Mapping[str, Mapping[str, float]], depth: int) -> Run:
    """Rerank the top `depth` of each first-stage list; everything below keeps first-stage order.

    Inside the top `depth`: scored videos by (-model score, -first-stage score, doc_id), then videos
    the reranker failed to score, in first-stage order, below every scored one. The result's scores
    are descending rank values, so the order is explicit.
    """
    out: Run = {}
    for qid, fs_scores in first_stage.items():
        order = [docid for docid, _ in ranked(fs_scores)]
        head, tail = order[:depth], order[depth:]
        model = rerank_scores.get(qid, {})
        scored = sorted((d for d in head if d in model), key=lambda d: (-model[d], -fs_scores[d], d))
        failed = [d for d in head if d not in model]
        final = scored + failed + tail
        out[qid] = {docid: float(len(final) - i) for i, docid in enumerate(final)}
    return out


def relative_delta(value: float, baseline: float) -> float | None:
    """Percent change over the baseline, as Table 1 reports it; None where the baseline is 0."""
    return None if baseline == 0 else 100.0 * (value - baseline) / baseline


def table_markdown(systems: Mapping[str, Mapping[str, float]], baseline: str, cutoffs: Sequence[int], title: str) -> str:
    """Table 1's shape: one row of raw scores per system, and below each other system its % deltas."""
    names = metric_names(cutoffs)
    lines = [f"**{title}**", "", "| Method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for system, mean in systems.items():
        lines.append(f"| {system} | " + " | ".join(f"{mean[m]:.3f}" for m in names) + " |")
        if system != baseline:
            deltas = [relative_delta(mean[m], systems[baseline][m]) for m in names]
            lines.append("| Δ% vs " + baseline + " | " + " | ".join("N/A" if d is None else f"{d:+.2f}" for d in deltas) + " |")
    return "\n".join(lines) + "\n"
