"""Rule latency: one reranker's per-pair latency on the fixed sample of pairs (paper Figure 4)."""

import json
import logging

from rankvideo.analysis.latency import device_name, measure_latency, sample_pairs
from rankvideo.files.atomic import atomic_write_text
from rankvideo.files.queries import read_queries
from rankvideo.files.settings import from_record
from rankvideo.files.video import VideoSettings
from rankvideo.files.video2queries import read_video2queries
from rankvideo.models.serving import EngineSettings
from rankvideo.rerank.assemble import configured_reranker, reranker_evidence
from rankvideo.rerank.settings import RerankSettings
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    queries = read_queries(sm.input.queries)
    video2queries = {v: list(q) for v, q in read_video2queries(sm.input.candidates, query_ids=set(queries)).items()}
    pairs = sample_pairs(video2queries, p.pairs, p.seed)
    evidence, _ = reranker_evidence(p.spec, sm.input.evidence, sorted({v for v, _ in pairs}))
    reranker = configured_reranker(p.spec, from_record(RerankSettings, p.settings), VideoSettings(**p.video), EngineSettings(**p.engine))
    result = measure_latency(reranker, pairs, queries, evidence, video2queries)
    logging.info("%s: median %.3f s per pair alone, %.3f s per pair shared (%.1f queries per video)", sm.wildcards.reranker,
                 result["median_s"], result["shared_median_s_per_pair"], result["queries_per_video"])
    atomic_write_text(sm.output[0], json.dumps({"reranker": sm.wildcards.reranker, "device": device_name(), "seed": p.seed, **result}, indent=1) + "\n")


run_script(main, snakemake)  # noqa: F821
