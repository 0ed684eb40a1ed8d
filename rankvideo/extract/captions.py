"""Video captions from a video LLM through the reranker's backends, with the paper's Figure 11 prompt."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rankvideo.files.video import VideoDecodeError
from rankvideo.models.prompts import render_caption
from rankvideo.models.serving import EngineSettings

CAPTION_BATCH = 16  # videos per generate call: vLLM batches them, transformers captions them one by one

THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)


def parse_caption(raw: str) -> str:
    """The caption inside <think>...</think> when the model used the tags, else the whole answer."""
    match = THINK.search(raw)
    text = match.group(1) if match else raw
    return " ".join(text.replace("</think>", " ").split())


class VlmCaptioner:
    def __init__(self, backend, max_new_tokens: int = 128):
        self.backend = backend
        self.max_new_tokens = max_new_tokens

    def captions(self, paths: Sequence[str | Path]) -> list[str | Exception]:
        """One caption per video, generated together (vLLM batches them). A video that cannot be sampled gets its error;
        a batch the engine refuses is captioned one video at a time, so one bad video costs only itself."""
        sampled: list[Any] = []
        for path in paths:
            try:
                sampled.append(self.backend.video.sample(path))
            except (VideoDecodeError, ValueError) as err:
                sampled.append(err)
        decoded = [s for s in sampled if not isinstance(s, Exception)]
        texts = iter(self._generate(decoded))
        return [s if isinstance(s, Exception) else next(texts) for s in sampled]

    def _generate(self, decoded: list[Any]) -> list[str | Exception]:
        prompt = render_caption()
        try:
            return [parse_caption(t) for t in self.backend.greedy_texts([(s, prompt) for s in decoded], self.max_new_tokens)]
        except (RuntimeError, ValueError) as err:  # an engine that died raises EngineDied, which is neither
            if len(decoded) == 1:
                return [err]
            return [c for s in decoded for c in self._generate([s])]


def load_captioner(model: str, backend: str, video, max_new_tokens: int = 128, engine: EngineSettings | None = None) -> VlmCaptioner:
    """A captioner on the transformers or vLLM backend; `video` is a VideoSettings, `engine` sizes a vLLM one."""
    if backend == "vllm":
        from rankvideo.models.vllm_backend import VLLMBackend

        return VlmCaptioner(VLLMBackend(model, "paper", video, **(asdict(engine) if engine else {})), max_new_tokens)
    from rankvideo.models.transformers_backend import TransformersBackend

    return VlmCaptioner(TransformersBackend(model, "paper", video), max_new_tokens)
