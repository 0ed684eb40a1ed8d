"""One place turns a `rerankers` entry of config.yaml into a reranker and the evidence it reads: the rerank and latency
rules go through it. `python -m rankvideo.rerank` and the Python API take explicit arguments
(VLMReranker's constructor) instead of a config entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rankvideo.files.video import VideoSettings, video_for_format
from rankvideo.files.video_sheet import read_video_sheet
from rankvideo.models.serving import EngineSettings
from rankvideo.rerank.settings import RerankSettings


def is_text_reranker(spec: Mapping[str, Any]) -> bool:
    """A reranker entry of kind text (caption + ASR records); an entry without a kind reads video frames."""
    return spec.get("kind", "video") == "text"


def configured_reranker(spec: Mapping[str, Any], settings: RerankSettings, video: VideoSettings, engine: EngineSettings) -> Any:
    """A reranker from its config entry: VLMReranker over frames, or TextReranker over caption + ASR (kind: text);
    `engine` sizes it on the vLLM backend."""
    if is_text_reranker(spec):
        from rankvideo.models.textllm import load_text_llm
        from rankvideo.rerank.text_reranker import TextReranker

        return TextReranker(load_text_llm(settings.backend, spec["model"], engine), spec["mode"], spec.get("max_reasoning_tokens", 0))
    from rankvideo.rerank.reranker import VLMReranker

    frames = video_for_format(spec["prompt_format"], video)
    served = asdict(engine) if settings.backend == "vllm" else {}
    return VLMReranker(spec["model"], backend=settings.backend, fps=frames.fps, max_frames=frames.max_frames, min_pixels=frames.min_pixels,
                       max_pixels=frames.max_pixels, prompt_format=spec["prompt_format"], batch_size=settings.batch_size,
                       max_reasoning_tokens=spec.get("max_reasoning_tokens", 0), **served)


def reranker_evidence(spec: Mapping[str, Any], sources: Sequence[str | Path], video_ids: Sequence[str]) -> tuple[dict[str, Any], str]:
    """What a reranker reads per video, from `sources` (the video sheet, or extraction records for a text
    reranker), and the reason a video without any fails."""
    if is_text_reranker(spec):
        from rankvideo.files.jsonl import read_jsonl

        records = {r["video_id"]: r for path in sources for r in read_jsonl(path)}
        return {v: records.get(v) for v in video_ids}, "no extraction record (caption, ASR) for this video: see results/skipped.tsv"
    paths = {r.video_id: r.path for path in sources for r in read_video_sheet(path)}
    return {v: paths.get(v) for v in video_ids}, "video file not found"
