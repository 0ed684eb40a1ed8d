"""The model a training stage updates: the inference backend's own model (so training scores exactly as inference
does), with LoRA adapters when configured (over a 4-bit base for QLoRA), saved as full safetensors weights with the
adapters merged into the full-precision base."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from rankvideo.files.errors import ConfigError
from rankvideo.files.video import VideoSettings
from rankvideo.models.model_card import write_model_card
from rankvideo.models.transformers_backend import TransformersBackend
from rankvideo.train.settings import LORA_TARGETS, LoraSettings, StageSettings


def four_bit(settings: StageSettings) -> Any:
    """QLoRA's base as upstream quantizes it: NF4 with double-quantised scales, computing in train.compute_dtype."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=getattr(torch, settings.compute_dtype))


def lora_config(lora: LoraSettings) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=list(LORA_TARGETS))


def load_backend(model_path: str, video: VideoSettings, settings: StageSettings) -> TransformersBackend:
    """The inference backend in `paper` format, its model ready for training.

    Full fine-tuning keeps fp32 master weights (compute: autocast). LoRA freezes the base in train.compute_dtype, since
    no update touches it, with fp32 adapters; load_in_4bit holds that base in NF4 (QLoRA)."""
    lora = settings.lora
    if lora.load_in_4bit and not lora.enabled:
        raise ConfigError("train.lora.load_in_4bit trains adapters over a 4-bit base: set train.lora.enabled: true as well")
    dtype = getattr(torch, settings.compute_dtype) if lora.enabled else torch.float32
    backend = TransformersBackend(model_path, "paper", video, dtype=dtype, quantization=four_bit(settings) if lora.load_in_4bit else None)
    if lora.enabled:
        from peft import get_peft_model

        backend.model.requires_grad_(False)  # only the adapters train: vision tower and lm_head stay as they are
        backend.model.model.language_model = get_peft_model(backend.model.model.language_model, lora_config(lora))
    if backend.device.startswith("cuda"):
        backend.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})  # a frozen input still gets its graph
    return backend


def merged_model(backend: TransformersBackend, base_path: str, lora: LoraSettings) -> Any:
    """The base model as it is on disk, in fp32, with the trained adapters merged in: a bf16 or 4-bit base would round the
    adapters' update away, as it would a full fine-tuning step's."""
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(base_path, dtype=torch.float32, use_safetensors=True)
    model.model.language_model = get_peft_model(model.model.language_model, lora_config(lora))
    adapters = {name: t.float().cpu() for name, t in get_peft_model_state_dict(backend.model.model.language_model).items()}
    unmatched = set_peft_model_state_dict(model.model.language_model, adapters).unexpected_keys
    if unmatched:
        raise RuntimeError(f"adapter weights that match no module of {base_path}: {sorted(unmatched)[:5]}")
    model.model.language_model = model.model.language_model.merge_and_unload()
    return model


def save_trained(backend: TransformersBackend, base_path: str, out_dir: Path, provenance: Mapping[str, Any],
                 weights: Mapping[str, torch.Tensor], lora: LoraSettings) -> None:
    """Full safetensors weights (LoRA merged), the processor, and the record of how to score the model.

    `weights` is the trained model's full state (gathered from the shards under fsdp); with LoRA the adapters are merged
    into the base read from `base_path` and that model is saved."""
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if lora.enabled:
        merged_model(backend, base_path, lora).save_pretrained(tmp, safe_serialization=True)
    else:
        backend.model.save_pretrained(tmp, state_dict=dict(weights), safe_serialization=True)
    backend.processor.save_pretrained(tmp)
    write_model_card(tmp, "paper", dict(provenance))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
