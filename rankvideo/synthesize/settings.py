"""The `synthesis` block of config.yaml as the typed settings of each job that reads it, one field per key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rankvideo.files.settings import from_block


@dataclass(frozen=True)
class SynthesisSettings:
    """Rule synthesize_queries (paper §3): how the query writer (models.query_writer) runs, and the variants it writes."""

    backend: str  # synthesis.backend: vllm on the cluster, transformers on CPU
    variants: tuple[str, ...]  # paper §3: caption, audio, ocr, metadata, all
    retries: int  # a malformed answer is sampled again this many times
    max_new_tokens: int

    @classmethod
    def from_config(cls, synthesis: Mapping[str, Any]) -> SynthesisSettings:
        return from_block(cls, {**synthesis, "variants": tuple(synthesis["variants"])})


@dataclass(frozen=True)
class FilterSettings:
    """Rule filter_queries (paper §3): the two first-stage filters and the negatives kept for judging."""

    positive_depth: int  # filter (a): the positive must be in the first-stage top positive_depth
    max_negative_ratio: float  # filter (b): drop a query whose top hard negative scores above this times its positive
    candidates: int  # negatives judged per kept query
