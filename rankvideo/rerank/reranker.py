"""VLMReranker: upstream's library surface, with scores aligned to their inputs by construction.

Pairs are grouped by video; each video is decoded once and all its queries are scored on it. A pair
that cannot be scored (unreadable video, failed forward) is returned with `failed=True` and its
reason, never with a neutral score, and ranks below every scored candidate.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rankvideo.files.video import VideoDecodeError, VideoSettings, video_for_format
from rankvideo.models.model_card import MODEL_CARD
from rankvideo.models.prompts import check_format, log_sigmoid, sigmoid

log = logging.getLogger(__name__)
BACKENDS = ("transformers", "vllm")


SCORE_KEYS = ("yes_logit", "no_logit", "logprob_yes", "logprob_no", "logit_delta", "logit_delta_yes_minus_no", "p_yes")


def scored(query: str, video_path: str, yes: float, no: float) -> dict[str, Any]:
    """One pair's score under every name users read it by.

    yes/no_logit: logsumexp of the answer tokens' logits; logit_delta (upstream's key) = their difference, also
    under the model card's name logit_delta_yes_minus_no; p_yes = sigmoid(delta); logprob_yes/no (upstream's keys):
    log-probabilities of "yes" and "no" given that the answer is one of them.
    """
    delta = yes - no
    return {"query": query, "video_path": video_path, "failed": False, "error": None, "yes_logit": yes, "no_logit": no,
            "logprob_yes": log_sigmoid(delta), "logprob_no": log_sigmoid(-delta), "logit_delta": delta,
            "logit_delta_yes_minus_no": delta, "p_yes": sigmoid(delta)}


def failed(query: str, video_path: str, reason: str) -> dict[str, Any]:
    return {"query": query, "video_path": video_path, "failed": True, "error": reason, **dict.fromkeys(SCORE_KEYS)}


def model_prompt_format(model_path: str) -> str:
    """The prompt format a model directory records; upstream's for models without a record (hltcoe/RankVideo)."""
    card = Path(model_path) / MODEL_CARD
    if card.is_file():
        return check_format(json.loads(card.read_text())["prompt_format"])
    log.info("%s records no prompt format (%s); scoring it the upstream way", model_path, MODEL_CARD)
    return "upstream"


def format_video(prompt_format: str, fps: float | None = None, max_frames: int | None = None, min_pixels: int | None = None,
                 max_pixels: int | None = None) -> VideoSettings:
    """The format's frames (`video_for_format`: upstream's 32 for `upstream`, the paper's 24 otherwise), with any
    setting given explicitly taking its place."""
    base = video_for_format(prompt_format, VideoSettings())  # the defaults are the paper's 24 frames
    given = {"fps": fps, "max_frames": max_frames, "min_pixels": min_pixels, "max_pixels": max_pixels}
    return replace(base, **{k: v for k, v in given.items() if v is not None})


class VLMReranker:
    """Scores (query, video) pairs with a Qwen3-VL reranker.

    Frame settings left as None follow the prompt format: a model scored `upstream` (hltcoe/RankVideo, or any
    folder without a record of its format) sees upstream's 32 frames at fps 2, so its scores are upstream's.
    """

    def __init__(self, model_path: str, cache_dir: str | None = None, backend: str = "transformers", fps: float | None = None,
                 max_frames: int | None = None, min_pixels: int | None = None, max_pixels: int | None = None,
                 prompt_format: str | None = None, batch_size: int = 16, device: str | None = None,
                 trust_remote_code: bool = False, max_reasoning_tokens: int = 0, **backend_kwargs: Any):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
        self.prompt_format = check_format(prompt_format or model_prompt_format(model_path))
        if max_reasoning_tokens and self.prompt_format != "paper":
            raise ValueError("a reasoning reranker (max_reasoning_tokens > 0) reads its answer after <answer>: use prompt_format 'paper'")
        video = format_video(self.prompt_format, fps, max_frames, min_pixels, max_pixels)
        if backend == "transformers":
            from rankvideo.models.transformers_backend import TransformersBackend

            self.backend = TransformersBackend(model_path, self.prompt_format, video, device=device, batch_size=batch_size,
                                               cache_dir=cache_dir, trust_remote_code=trust_remote_code,
                                               max_reasoning_tokens=max_reasoning_tokens, **backend_kwargs)
        else:
            from rankvideo.models.vllm_backend import VLLMBackend

            self.backend = VLLMBackend(model_path, self.prompt_format, video, cache_dir=cache_dir, trust_remote_code=trust_remote_code,
                                       max_reasoning_tokens=max_reasoning_tokens, **backend_kwargs)

    def score_video(self, video_path: str | Path, queries: Sequence[str]) -> list[dict[str, Any]]:
        """Score every query against one video, decoding and encoding the video once."""
        path = str(video_path)
        try:
            sampled = self.backend.video.sample(path)
        except VideoDecodeError as err:
            return [failed(q, path, err.reason) for q in queries]
        try:
            pairs = self.backend.score_sampled(sampled, list(queries))
        except (RuntimeError, ValueError) as err:
            log.exception("scoring %s failed", path)
            return [failed(q, path, f"{type(err).__name__}: {err}") for q in queries]
        return [failed(q, path, s) if isinstance(s, str) else scored(q, path, *s) for q, s in zip(queries, pairs)]

    def score_videos(self, items: Sequence[tuple[str | Path, Sequence[str]]]) -> list[list[dict[str, Any]]]:
        """score_video over (video, queries) items, one video at a time: the rerank driver's interface."""
        return [self.score_video(path, queries) for path, queries in items]

    def score_batch(self, queries: Sequence[str], video_paths: Sequence[str | Path]) -> list[dict[str, Any]]:
        """One result per (query, video) pair, in input order."""
        if len(queries) != len(video_paths):
            raise ValueError(f"score_batch needs as many queries as video paths, got {len(queries)} and {len(video_paths)}")
        by_video: dict[str, list[int]] = {}
        for i, path in enumerate(video_paths):
            by_video.setdefault(str(path), []).append(i)
        results: list[dict[str, Any] | None] = [None] * len(queries)
        for path, positions in by_video.items():
            for i, result in zip(positions, self.score_video(path, [queries[i] for i in positions])):
                results[i] = result
        return results  # type: ignore[return-value]

    def rank(self, query: str, video_paths: Sequence[str | Path]) -> list[dict[str, Any]]:
        """Videos for one query, best first; failed pairs last, in input order."""
        results = self.score_batch([query] * len(video_paths), video_paths)
        return sorted(results, key=lambda r: (r["failed"], -(r["logit_delta"] or 0.0)))
