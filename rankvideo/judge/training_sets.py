"""The two training sets (paper §4): Stage 1 caption rows and Stage 2 query groups, and the rotation of negatives over epochs."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from rankvideo.judge.partition import Partition
from rankvideo.judge.teacher import Judgment


def rotate(pool: Sequence[Any], k: int, seed: int, key: str, epoch: int) -> list[Any]:
    """K items of `pool` for one epoch: a seeded order walked k at a time, so over epochs all are seen."""
    pool = list(pool)
    random.Random(f"{seed}:{key}").shuffle(pool)
    if len(pool) <= k:
        return pool
    start = (epoch * k) % len(pool)
    return [pool[(start + i) % len(pool)] for i in range(k)]


def sample_negatives(part: Partition, k: int, seed: int, epoch: int = 0) -> list[Judgment]:
    """K negatives of a query for one epoch."""
    return rotate(sorted(part.usable_negatives, key=lambda j: j.video_id), k, seed, part.query_id, epoch)


def stage1_rows(parts: Sequence[Partition], queries: Mapping[str, str], records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stage 1: one video per query (its positive) with the teacher caption as target."""
    rows = []
    for p in parts:
        vid = p.positive.video_id
        rows.append({"query_id": p.query_id, "query": queries[p.query_id], "doc_id": vid, "videos": [records[vid]["path"]],
                     "caption": records[vid]["caption"]})
    return rows


def stage2_rows(parts: Sequence[Partition], queries: Mapping[str, str], records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stage 2 in upstream's training format: the positive and every usable negative of each query."""
    rows = []
    for p in parts:
        for j in [p.positive, *sorted(p.usable_negatives, key=lambda x: x.video_id)]:
            record = records[j.video_id]
            rows.append({"query_id": p.query_id, "query": queries[p.query_id], "doc_id": j.video_id, "videos": [record["path"]],
                         "true_label": int(j.is_positive), "teacher_p_yes": j.p_yes, "teacher_delta": j.delta,
                         "evidence": {"caption": record["caption"], "asr": record["asr"]}, "teacher_reasoning": j.reasoning})
    return rows
