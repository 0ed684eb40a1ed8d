"""Rule rerank_shard: score one shard's candidate videos with one reranker; resumable through its work folder."""

import json
import logging

from rankvideo.files.atomic import atomic_write_text
from rankvideo.files.settings import from_record
from rankvideo.files.video import VideoSettings
from rankvideo.models.serving import EngineSettings
from rankvideo.rerank.assemble import configured_reranker, reranker_evidence
from rankvideo.rerank.settings import RerankSettings
from rankvideo.rerank.work import model_fingerprint, rerank_videos, shard_work
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    queries, mine = shard_work(sm.input.candidates, sm.input.queries, sm.wildcards.shard, p.n_shards)
    results = {}
    if mine:
        reranker = configured_reranker(p.spec, from_record(RerankSettings, p.settings), VideoSettings(**p.video), EngineSettings(**p.engine))
        evidence, missing = reranker_evidence(p.spec, [sm.input.evidence], list(mine))
        settings = {**p.spec, "model": model_fingerprint(p.spec["model"]), "video": dict(p.video), "code": p.code}
        results = rerank_videos(reranker, mine, queries, evidence, p.work_dir, settings, missing)
    logging.info("shard %s: %d videos", sm.wildcards.shard, len(results))
    atomic_write_text(sm.output[0], json.dumps(results) + "\n")


run_script(main, snakemake)  # noqa: F821
