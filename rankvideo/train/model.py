"""The model a training stage updates: the inference backend's own model (so training scores exactly as inference
does), with LoRA adapters when configured, saved as full safetensors weights with the adapters merged."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from rankvideo.files.video import VideoSettings
from rankvideo.models.model_card import write_model_card
from rankvideo.models.transformers_backend import TransformersBackend
from rankvideo.train.settings import LORA_TARGETS, StageSettings


def load_backend(model_path: str, video: VideoSettings, settings: StageSettings) -> TransformersBackend:
    """The inference backend in `paper` format, its model ready for training (LoRA when configured)."""
    backend = TransformersBackend(model_path, "paper", video, dtype=torch.float32)  # master weights: fp32 (compute: autocast)
    lora = settings.lora
    if lora.enabled:
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                            target_modules=list(LORA_TARGETS))
        backend.model.requires_grad_(False)  # only the adapters train: vision tower and lm_head stay as they are
        backend.model.model.language_model = get_peft_model(backend.model.model.language_model, config)
    if backend.device.startswith("cuda"):
        backend.model.gradient_checkpointing_enable()
    return backend


def save_trained(backend: TransformersBackend, out_dir: Path, provenance: Mapping[str, Any], weights: Mapping[str, torch.Tensor]) -> None:
    """Full safetensors weights (LoRA merged), the processor, and the record of how to score the model.

    `weights` is the trained model's full state (gathered from the shards under fsdp); with LoRA the adapters are merged
    into the model itself and its own state is saved."""
    language_model = backend.model.model.language_model
    if hasattr(language_model, "merge_and_unload"):
        backend.model.model.language_model = language_model.merge_and_unload()
        weights = backend.model.state_dict()
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    backend.model.save_pretrained(tmp, state_dict=dict(weights), safe_serialization=True)
    backend.processor.save_pretrained(tmp)
    write_model_card(tmp, "paper", dict(provenance))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
