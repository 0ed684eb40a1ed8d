"""Per-pair reranking latency (paper Figure 4 / §5.4): the median over a fixed sample of (query, video) pairs,
each scored alone with batch size 1 as the paper measures, beside the per-pair cost of the shared-video
scoring the rerank rules do (one decode and encode of a video for all its candidate queries)."""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def sample_pairs(video2queries: Mapping[str, Sequence[str]], n: int, seed: int) -> list[tuple[str, str]]:
    """A fixed, seeded sample of n (video, query) pairs of the rerank pool (all of them when fewer)."""
    pairs = sorted((v, q) for v, qs in video2queries.items() for q in qs)
    return random.Random(seed).sample(pairs, min(n, len(pairs)))


def measure_latency(reranker: Any, pairs: Sequence[tuple[str, str]], queries: Mapping[str, str], evidence: Mapping[str, Any],
                    video2queries: Mapping[str, Sequence[str]], clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Seconds per pair scored alone, and per pair when each sampled video is scored once for all its candidate
    queries. The first call is a warm-up (kernel compilation, caches) and is not counted."""
    usable = [(v, q) for v, q in pairs if evidence.get(v) is not None]
    if not usable:
        raise ValueError("latency: no sampled pair has its video (file or extraction record); see the rerank failed.tsv")
    first_video, first_query = usable[0]
    reranker.score_video(evidence[first_video], [queries[first_query]])
    single = [_timed(lambda: reranker.score_video(evidence[v], [queries[q]]), clock) for v, q in usable]
    shared = []
    for video in dict.fromkeys(v for v, _ in usable):
        qids = list(video2queries[video])
        shared.append(_timed(lambda: reranker.score_video(evidence[video], [queries[q] for q in qids]), clock) / len(qids))
    return {"pairs": len(usable), "skipped_pairs": len(pairs) - len(usable), "median_s": statistics.median(single),
            "per_pair_s": single, "shared_median_s_per_pair": statistics.median(shared), "shared_videos": len(shared),
            "queries_per_video": sum(map(len, video2queries.values())) / len(video2queries)}


def device_name() -> str:
    """Where the latency was measured, for the figure: the GPU's name, else the CPU's core count."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"


def _timed(call: Callable[[], Any], clock: Callable[[], float]) -> float:
    start = clock()
    call()
    return clock() - start
