"""Paper §3's first-stage filters over synthetic queries: (a) the positive in the top k, (b) no hard negative above ratio x the positive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rankvideo.files.runs import ranked
from rankvideo.files.skips import Skip, Why
from rankvideo.synthesize.settings import FilterSettings


@dataclass(frozen=True)
class Candidate:
    query_id: str
    positive: str
    positive_score: float
    negatives: list[tuple[str, float]]  # first-stage (video, score), best first


def pick_positive(scores: Mapping[str, float], relevant: set[str]) -> str | None:
    """The best-ranked relevant video: one positive per query, as in the paper's 9,267 pairs."""
    return next((vid for vid, _ in ranked(scores) if vid in relevant), None)


def filtered(query_id: str, code: Why, reason: str) -> Skip:
    return Skip(query_id, "filter", code, reason)


def filter_queries(run: Mapping[str, Mapping[str, float]], relevant: Mapping[str, set[str]],
                   settings: FilterSettings) -> tuple[list[Candidate], list[Skip]]:
    """Paper §3 filters: (a) the positive must be in the first-stage top `positive_depth`; (b) drop the
    query when its top hard negative scores more than `max_negative_ratio` times its positive. A kept query carries
    its first `candidates` negatives.

    Filter (b) compares raw first-stage scores and so assumes they are positive (OmniEmbed's are);
    a query whose positive scores <= 0 is dropped, since no ratio can be judged for it.
    """
    positive_depth, max_negative_ratio = settings.positive_depth, settings.max_negative_ratio
    kept: list[Candidate] = []
    dropped: list[Skip] = []
    for qid in sorted(relevant):
        order = ranked(run.get(qid, {}))[:positive_depth]
        scores = dict(order)
        positive = pick_positive(scores, relevant[qid])
        if positive is None:
            dropped.append(filtered(qid, Why.FILTER_A, f"filter a: no relevant video in the first-stage top {positive_depth}"))
            continue
        negatives = [(v, s) for v, s in order if v not in relevant[qid]]
        if scores[positive] <= 0:
            dropped.append(filtered(qid, Why.FILTER_B, f"filter b: positive scores {scores[positive]:.4f} <= 0, no ratio to judge"))
            continue
        if negatives and negatives[0][1] > max_negative_ratio * scores[positive]:
            dropped.append(filtered(qid, Why.FILTER_B, f"filter b: top hard negative {negatives[0][0]} scores {negatives[0][1]:.4f} > "
                                                      f"{max_negative_ratio} x positive {scores[positive]:.4f}"))
            continue
        kept.append(Candidate(qid, positive, scores[positive], negatives[:settings.candidates]))
    return kept, dropped
