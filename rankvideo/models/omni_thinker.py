"""Qwen3-Omni's thinker on transformers: greedy text from a video, its audio track and a prompt (the captioner's path).

The released checkpoint (Qwen/Qwen3-Omni-30B-A3B-Instruct) is the top-level Qwen3OmniMoeForConditionalGeneration: the
thinker (vision and audio towers, the MoE text model) and the talker with its code2wav vocoder, which speak. A caption
is the thinker's text, so only the `thinker.*` weights load, as vLLM serves them (rankvideo.models.architecture); the
talker's and code2wav's are skipped and their names logged. AutoModelForImageTextToText, which TransformersBackend
loads, maps only the thinker's own model type (`qwen3_omni_moe_thinker`), not the top-level checkpoint's.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rankvideo.files.video import SampledVideo, VideoSettings
from rankvideo.models.architecture import SERVED_PART, local_folder

log = logging.getLogger(__name__)
SHOWN = 20  # skipped weight names written out in the log line; the rest are counted


def checkpoint_keys(folder: Path) -> list[str]:
    """Every weight name of a safetensors checkpoint, from its index or its files' headers (no tensor is read)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return sorted(json.loads(index.read_text())["weight_map"])
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no safetensors weights")
    keys: list[str] = []
    for file in files:
        with safe_open(file, "pt") as weights:
            keys += list(weights.keys())
    return sorted(keys)


def skipped_keys(keys: Sequence[str]) -> list[str]:
    """The weights a thinker-only load leaves out of a top-level Omni checkpoint: all but `thinker.*` (talker, code2wav).
    A thinker-only checkpoint (no key under `thinker.`) has none to leave."""
    prefix = f"{SERVED_PART}."
    if not any(k.startswith(prefix) for k in keys):
        return []
    return [k for k in keys if not k.startswith(prefix)]


def describe_skipped(skipped: Sequence[str]) -> str:
    """The log line of the weights left out: their count, per part, and the first names."""
    parts = ", ".join(f"{part}: {n}" for part, n in sorted(Counter(k.split(".")[0] for k in skipped).items()))
    more = f", ... and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else ""
    return f"skipped {len(skipped)} talker keys ({parts}): {', '.join(skipped[:SHOWN])}{more}"


def load_thinker(model_path: str, dtype: torch.dtype, cache_dir: str | None = None):
    """Qwen3OmniMoeThinkerForConditionalGeneration from a top-level or a thinker-only checkpoint (safetensors, no remote
    code). transformers ignores the talker's keys without a word; their count and names are logged here, and a thinker
    weight the checkpoint lacks is an error rather than a random initialisation."""
    from transformers import Qwen3OmniMoeThinkerForConditionalGeneration

    skipped = skipped_keys(checkpoint_keys(local_folder(model_path)))
    if skipped:
        log.info("%s", describe_skipped(skipped))
    model, info = Qwen3OmniMoeThinkerForConditionalGeneration.from_pretrained(
        model_path, cache_dir=cache_dir, dtype=dtype, use_safetensors=True, trust_remote_code=False, output_loading_info=True)
    if info["missing_keys"]:
        raise ValueError(f"{model_path} lacks {len(info['missing_keys'])} thinker weights: {sorted(info['missing_keys'])[:10]}")
    return model


class OmniThinkerBackend:
    """The thinker and its processor; each (video, prompt) item is generated alone, greedy, as the captioner asks."""

    def __init__(self, model_path: str, video: VideoSettings, device: str | None = None, dtype: torch.dtype | None = None,
                 cache_dir: str | None = None):
        from transformers import AutoProcessor

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = dtype or (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        self.processor = AutoProcessor.from_pretrained(model_path, cache_dir=cache_dir, trust_remote_code=False)
        self.tokenizer = self.processor.tokenizer
        self.model = load_thinker(model_path, self.dtype, cache_dir).to(self.device).eval()
        self.video = video
        log.info("backend transformers: %s's thinker on %s in %s", model_path, self.device, self.dtype)

    def model_inputs(self, sampled: SampledVideo, prompt: str, audio: np.ndarray | None) -> dict:
        """The processor's tensors for one prompt holding the video once: the frames as sampled, with no frame rate, as
        vLLM's request has none (rankvideo.models.vllm_backend.media_input), and the audio track interleaved with them
        inside the video's placeholder (`load_audio_from_video`)."""
        heard = {"audio": [audio], "load_audio_from_video": True, "audio_from_video_indices": [0]} if audio is not None else {}
        inputs = self.processor(text=[prompt], videos=[sampled.frames], do_resize=False, do_sample_frames=False,
                                cap_pixels_per_frame=True, return_tensors="pt", **heard).to(self.device)
        for key in ("pixel_values_videos", "input_features"):
            if key in inputs:
                inputs[key] = inputs[key].to(self.dtype)
        return inputs

    @torch.no_grad()
    def generate_text(self, sampled: SampledVideo, prompt: str, max_new_tokens: int, audio: np.ndarray | None = None) -> str:
        inputs = self.model_inputs(sampled, prompt, audio)
        out = self.model.generate(**inputs, use_audio_in_video=audio is not None, max_new_tokens=max_new_tokens, do_sample=False)
        return self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def greedy_texts(self, items: Sequence[tuple[SampledVideo, str]], max_new_tokens: int,
                     audios: Sequence[np.ndarray | None] | None = None) -> list[str]:
        """generate_text over (video, prompt) items, one at a time; `audios`: each video's audio track (None: frames alone)."""
        return [self.generate_text(sampled, prompt, max_new_tokens, audio)
                for (sampled, prompt), audio in zip(items, audios or [None] * len(items), strict=True)]
