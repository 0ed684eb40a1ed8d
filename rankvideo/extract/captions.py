"""Video captions from a video LLM through the reranker's backends, with the paper's Figure 11 prompt.

A captioner with an audio tower (the paper's Qwen3-Omni, paper §3) hears each video's audio track with its frames, on
either backend: the track goes inside the video's placeholder, interleaved with the frames by time
(`use_audio_in_video`). A video without an audio track is captioned from its frames alone and recorded as `no_audio`.
A captioner without an audio tower (the demo's Qwen3-VL) sees frames only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rankvideo.files.skips import Why
from rankvideo.files.video import SampledVideo, VideoDecodeError, decode_audio
from rankvideo.models.prompts import render_caption
from rankvideo.models.serving import EngineSettings

CAPTION_BATCH = 16  # videos per generate call: vLLM batches them, transformers captions them one by one

THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)

Lacks = list[tuple[Why, str]]  # what a caption was made without, with its skip code


def parse_caption(raw: str) -> str:
    """The caption inside <think>...</think> when the model used the tags, else the whole answer."""
    match = THINK.search(raw)
    text = match.group(1) if match else raw
    return " ".join(text.replace("</think>", " ").split())


@dataclass(frozen=True)
class Hearing:
    """How a captioner with an audio tower takes audio: its feature extractor's sampling rate and hop (samples per
    feature frame)."""

    rate: int
    hop: int


def heard_audio(path: str | Path, hearing: Hearing) -> tuple[np.ndarray | None, Lacks]:
    """A video's audio track as the captioner hears it, or None and why.

    Mono at the feature extractor's rate, zero-padded to whole feature frames as vLLM's Qwen3-Omni processor pads it, so
    both backends get the same samples."""
    try:
        audio = decode_audio(path, hearing.rate)
    except VideoDecodeError as err:
        return None, [(Why.NO_AUDIO, f"audio not decoded ({err.reason}): captioned from frames alone")]
    if audio is None or not len(audio):
        return None, [(Why.NO_AUDIO, "no audio track: captioned from frames alone")]
    return np.pad(audio, (0, -len(audio) % hearing.hop)), []


@dataclass(frozen=True)
class Clip:
    """What the captioner is given of one video."""

    video: SampledVideo
    audio: np.ndarray | None  # heard_audio's samples; None: frames alone
    lacks: Lacks = field(default_factory=list)


@dataclass(frozen=True)
class Caption:
    text: str
    lacks: Lacks  # the clip's: a captioner that hears got no audio for this video


class VlmCaptioner:
    def __init__(self, backend, max_new_tokens: int = 128, hearing: Hearing | None = None):
        """`hearing`: the model's audio input (None: a model without an audio tower, captioned from frames)."""
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.hearing = hearing

    def clip(self, path: str | Path) -> Clip:
        """The video's frames and, for a captioner that hears, its audio track; raises when the frames cannot be read."""
        sampled = self.backend.video.sample(path)
        if self.hearing is None:
            return Clip(sampled, None)
        audio, lacks = heard_audio(path, self.hearing)
        return Clip(sampled, audio, lacks)

    def captions(self, paths: Sequence[str | Path]) -> list[Caption | Exception]:
        """One caption per video, generated together (vLLM batches them). A video that cannot be sampled gets its error."""
        clips: list[Clip | Exception] = []
        for path in paths:
            try:
                clips.append(self.clip(path))
            except (VideoDecodeError, ValueError) as err:
                clips.append(err)
        captions = iter(self.caption_clips([c for c in clips if not isinstance(c, Exception)]))
        return [c if isinstance(c, Exception) else next(captions) for c in clips]

    def caption_clips(self, clips: list[Clip]) -> list[Caption | Exception]:
        """Captions of clips in one generate call; a batch the engine refuses is captioned one clip at a time, so one bad
        video costs only itself."""
        heard: dict[str, Any] = {"audios": [c.audio for c in clips]} if self.hearing else {}
        try:
            texts = self.backend.greedy_texts([(c.video, render_caption()) for c in clips], self.max_new_tokens, **heard)
        except (RuntimeError, ValueError) as err:  # an engine that died raises EngineDied, which is neither
            if len(clips) == 1:
                return [err]
            return [c for clip in clips for c in self.caption_clips([clip])]
        return [Caption(parse_caption(t), c.lacks) for t, c in zip(texts, clips, strict=True)]


def model_hearing(model: str) -> Hearing | None:
    """The captioner's audio input, read from its processor's feature extractor (16 kHz, 160-sample hop for Qwen3-Omni),
    when its config has an audio tower; else None."""
    from rankvideo.models.architecture import hears_audio

    if not hears_audio(model):
        return None
    from transformers import AutoFeatureExtractor

    features = AutoFeatureExtractor.from_pretrained(model, trust_remote_code=False)
    return Hearing(features.sampling_rate, features.hop_length)


def load_captioner(model: str, backend: str, video, max_new_tokens: int = 128, engine: EngineSettings | None = None) -> VlmCaptioner:
    """A captioner on the transformers or vLLM backend; `video` is a VideoSettings, `engine` sizes a vLLM one. A model
    with an audio tower hears the videos' audio; on transformers its thinker loads from the top-level checkpoint."""
    hearing = model_hearing(model)
    if backend == "vllm":
        from rankvideo.models.vllm_backend import VLLMBackend

        vllm = VLLMBackend(model, "paper", video, hears_audio=hearing is not None, **(asdict(engine) if engine else {}))
        return VlmCaptioner(vllm, max_new_tokens, hearing)
    if hearing is not None:
        from rankvideo.models.omni_thinker import OmniThinkerBackend

        return VlmCaptioner(OmniThinkerBackend(model, video), max_new_tokens, hearing)
    from rankvideo.models.transformers_backend import TransformersBackend

    return VlmCaptioner(TransformersBackend(model, "paper", video), max_new_tokens)
