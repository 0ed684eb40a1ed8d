"""Rule rerank_shard: score one shard's candidate videos; resumable through its work folder."""

import json
import logging

from rankvideo.shards import shard_of
from rankvideo.formats.queries import read_queries
from rankvideo.formats.video2queries import read_video2queries
from rankvideo.formats.video_sheet import read_video_sheet
from rankvideo.fsutil import atomic_write_text
from rankvideo.rerank import model_fingerprint, rerank_videos
from rankvideo.workflow import run_script


def main(sm) -> None:
    p = sm.params
    queries = read_queries(sm.input.queries)
    candidates = read_video2queries(sm.input.candidates, query_ids=set(queries))
    mine = {v: q for v, q in candidates.items() if shard_of(v, p.n_shards) == sm.wildcards.shard}
    results = {}
    if mine:
        from rankvideo.reranker import VLMReranker

        video = p.video
        reranker = VLMReranker(p.model, backend=p.backend, fps=video["fps"], max_frames=video["max_frames_stage2"],
                               min_pixels=video["min_pixels"], max_pixels=video["max_pixels"],
                               prompt_format=p.prompt_format, batch_size=p.batch_size, max_reasoning_tokens=p.max_reasoning_tokens)
        paths = {r.video_id: r.path for r in read_video_sheet(sm.input.videos)}
        settings = {"model": model_fingerprint(p.model), "prompt_format": p.prompt_format, "video": dict(video), "code": p.code,
                    "max_reasoning_tokens": p.max_reasoning_tokens}
        results = rerank_videos(reranker, mine, queries, {v: paths.get(v) for v in mine}, p.work_dir, settings)
    logging.info("shard %s: %d videos", sm.wildcards.shard, len(results))
    atomic_write_text(sm.output[0], json.dumps(results) + "\n")


run_script(main, snakemake)  # noqa: F821
