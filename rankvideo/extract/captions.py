"""Video captions from a video LLM through the reranker's backends, with the paper's Figure 11 prompt."""

from __future__ import annotations

import re
from pathlib import Path

from rankvideo.models.prompts import render_caption

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

    def caption(self, path: str | Path) -> str:
        sampled = self.backend.video.sample(path)
        return parse_caption(self.backend.generate_text(sampled, render_caption(), self.max_new_tokens))


def load_captioner(model: str, backend: str, video, max_new_tokens: int = 128) -> VlmCaptioner:
    """A captioner on the transformers or vLLM backend; `video` is a VideoSettings."""
    if backend == "vllm":
        from rankvideo.models.vllm_backend import VLLMBackend

        return VlmCaptioner(VLLMBackend(model, "paper", video), max_new_tokens)
    from rankvideo.models.transformers_backend import TransformersBackend

    return VlmCaptioner(TransformersBackend(model, "paper", video), max_new_tokens)
