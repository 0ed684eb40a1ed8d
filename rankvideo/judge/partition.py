"""Paper §4.2's partition of judged negatives: trusted (y=0, delta <= alpha1), suspected positives (dropped), hard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankvideo.files.skips import Skip, Why
from rankvideo.judge.settings import PartitionSettings
from rankvideo.judge.teacher import Judgment, judgment_rows, read_judgments


@dataclass
class Partition:
    query_id: str
    positive: Judgment
    trusted: list[Judgment] = field(default_factory=list)
    suspected: list[Judgment] = field(default_factory=list)
    hard: list[Judgment] = field(default_factory=list)

    @property
    def usable_negatives(self) -> list[Judgment]:
        return self.trusted + self.hard


def partition(judgments: Sequence[Judgment], settings: PartitionSettings) -> tuple[list[Partition], list[Skip]]:
    """Paper §4.2: trusted negatives (y=0, delta <= alpha1), suspected positives (y=1, delta > alpha2,
    dropped as likely false negatives), hard negatives (the rest). A query whose positive the teacher
    misjudges, or with fewer than `min_trusted_negatives` trusted negatives, is dropped with the reason."""
    by_query: dict[str, list[Judgment]] = {}
    for j in judgments:
        by_query.setdefault(j.query_id, []).append(j)
    kept: list[Partition] = []
    dropped: list[Skip] = []
    for qid in sorted(by_query):
        positives = [j for j in by_query[qid] if j.is_positive]
        if len(positives) != 1:
            raise ValueError(f"query {qid}: expected one judged positive, found {len(positives)}")
        if not positives[0].says_yes:
            dropped.append(Skip(qid, "judge", Why.MISJUDGED_POSITIVE, f"teacher misjudged the positive {positives[0].video_id} (delta {positives[0].delta:.3f})"))
            continue
        part = Partition(qid, positives[0])
        for j in by_query[qid]:
            if j.is_positive:
                continue
            if not j.says_yes and j.delta <= settings.alpha1:
                part.trusted.append(j)
            elif j.says_yes and j.delta > settings.alpha2:
                part.suspected.append(j)
            else:
                part.hard.append(j)
        if len(part.trusted) < settings.min_trusted_negatives:
            dropped.append(Skip(qid, "judge", Why.FEW_TRUSTED_NEGATIVES, f"{len(part.trusted)} trusted negative(s) < {settings.min_trusted_negatives}"))
            continue
        kept.append(part)
    return kept, dropped


def partition_rows(parts: Sequence[Partition]) -> list[dict[str, Any]]:
    """The rows of partition.jsonl: each kept query with its positive and its judged negatives by kind."""
    return [{"query_id": part.query_id, "positive": judgment_rows([part.positive])[0],
             **{k: judgment_rows(getattr(part, k)) for k in ("trusted", "suspected", "hard")}} for part in parts]


def read_partitions(rows: Sequence[Mapping[str, Any]]) -> list[Partition]:
    return [Partition(r["query_id"], read_judgments([r["positive"]], r["positive"]["yes_threshold"])[0],
                      *(read_judgments(r[k], r["positive"]["yes_threshold"]) for k in ("trusted", "suspected", "hard"))) for r in rows]
