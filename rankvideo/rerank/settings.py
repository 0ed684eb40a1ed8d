"""The `rerank` block of config.yaml as the typed settings of the jobs that score with a reranker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RerankSettings:
    """Rules rerank_shard and latency: how every configured reranker is served. rerank.depth shapes the DAG's
    candidate lists (rules/rerank.smk), not a job's scoring."""

    backend: str  # rerank.backend: vllm (upstream inference.py) or transformers
    batch_size: int  # queries per forward on the transformers backend
