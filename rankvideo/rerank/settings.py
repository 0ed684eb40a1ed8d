"""The `rerank` block of config.yaml as the typed settings of the jobs that score with a reranker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rankvideo.files.settings import from_block


@dataclass(frozen=True)
class RerankSettings:
    """Rules rerank_shard and latency: how every configured reranker is served. rerank.depth shapes the DAG's
    candidate lists (rules/rerank.smk), not a job's scoring."""

    backend: str  # rerank.backend: vllm (upstream inference.py) or transformers
    batch_size: int  # queries per forward on the transformers backend

    @classmethod
    def from_config(cls, rerank: Mapping[str, Any]) -> RerankSettings:
        return from_block(cls, rerank)
