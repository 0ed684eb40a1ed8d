"""The `judge` block of config.yaml as the typed settings of each job that reads it, one field per key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TeacherSettings:
    """Rule judge: how the teacher (models.teacher) is served and read."""

    backend: str  # judge.backend: vllm on the cluster, transformers on CPU
    mode: str  # judge.mode: reason (answer after the reasoning) or direct
    max_reasoning_tokens: int


@dataclass(frozen=True)
class PartitionSettings:
    """Rule partition (paper §4.2, App. A): the teacher's answer and the margins that sort judged negatives."""

    yes_threshold: float  # y_T = 1 when the margin delta exceeds it
    alpha1: float  # trusted negative: y_T = 0 and delta <= alpha1
    alpha2: float  # suspected positive (dropped): y_T = 1 and delta > alpha2
    min_trusted_negatives: int  # a query keeps at least this many trusted negatives, or is dropped
