"""The memory plan of a training job, before any GPU is asked for: the base model's architecture built on the meta
device from its config.json (no weights), its parameters counted, and per-GPU memory estimated for each strategy.

Strategies, per GPU (P parameters, A adapter parameters, G GPUs; AdamW keeps two fp32 moments):
- ddp: a full replica with fp32 master weights, fp32 gradients and AdamW state: 16 bytes per parameter.
- fsdp: the same 16 bytes per parameter sharded over the G GPUs.
- lora: the frozen base in bf16 (2 bytes per parameter), adapters trained in fp32 (16 bytes per adapter parameter).
- qlora: the frozen base's linear layers in 4-bit NF4 with double-quantised scales (about 0.52 bytes per parameter; the
  embeddings, norms and lm_head stay bf16), adapters as lora.
Activations (bf16 compute, gradient checkpointing as the trainer enables on GPU) are the checkpointed layer inputs of the
vision tower and the language model, one layer's recomputed working set, and the logits, for every candidate whose graph
a step holds at once (Stage 2: the positive and its K negatives), plus a fixed runtime overhead (CUDA context, allocator).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankvideo.files.atomic import atomic_write_text
from rankvideo.files.video import VideoSettings
from rankvideo.models.architecture import meta_model
from rankvideo.train.settings import LORA_TARGETS

GB = 1e9
STRATEGIES = ("ddp", "fsdp", "lora", "qlora")
RUNTIME_OVERHEAD_GB = 3.0  # CUDA context, cuBLAS workspaces, allocator fragmentation: a rounded allowance, not a measurement
NF4_BYTES = 0.5 + 0.127 / 8  # 4-bit weights + double-quantised absmax (bitsandbytes: 0.127 bits per parameter)
PROMPT_TOKENS = 200  # the paper prompt's text around the video tokens, rounded up


@dataclass(frozen=True)
class ModelCount:
    """What the meta-device build of a model tells the plan."""

    params: int
    by_dtype: dict[str, int]
    quantizable: int  # parameters of the linear layers 4-bit quantisation would hold (all but the lm_head)
    lora_params: int  # adapter parameters of a rank-1 LoRA on LORA_TARGETS; scales linearly with r
    text: Mapping[str, Any]
    vision: Mapping[str, Any]


def count_model(config_path: Path) -> ModelCount:
    """Build the architecture on the meta device (no memory, no weights) and count its parameters."""
    import torch

    raw = json.loads(config_path.read_text())
    stored = raw.get("text_config", {}).get("dtype") or raw.get("torch_dtype") or "float32"  # the checkpoint's dtype
    model = meta_model(raw, stored)
    by_dtype = Counter()
    for param in model.parameters():
        by_dtype[str(param.dtype).removeprefix("torch.")] += param.numel()
    linear = [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not name.endswith("lm_head")]
    lora = sum(m.in_features + m.out_features for name, m in model.named_modules()
               if isinstance(m, torch.nn.Linear) and "language_model" in name and name.split(".")[-1] in LORA_TARGETS)
    return ModelCount(sum(by_dtype.values()), dict(by_dtype), sum(m.weight.numel() for m in linear), lora,
                      raw["text_config"], raw["vision_config"])


def cached_count(config_path: Path, cache_dir: Path) -> ModelCount:
    """count_model, remembered by the config.json's bytes: the workflow checks the plan at every DAG parse, and a meta
    build needs torch and transformers imported (seconds); a changed config.json is counted afresh."""
    digest = hashlib.sha256(config_path.read_bytes()).hexdigest()[:16]
    cached = cache_dir / f"model-count-{digest}.json"
    if cached.is_file():
        return ModelCount(**json.loads(cached.read_text()))
    count = count_model(config_path)
    atomic_write_text(cached, json.dumps(asdict(count)))
    return count


def tokens(video: VideoSettings, vision: Mapping[str, Any]) -> tuple[int, int]:
    """(vision patches, language-model tokens) of one video at the job's frame settings."""
    frames = video.max_frames
    patches_per_frame = video.max_pixels // vision["patch_size"] ** 2
    merged = patches_per_frame // vision["spatial_merge_size"] ** 2
    return frames * patches_per_frame, frames // vision["temporal_patch_size"] * merged + PROMPT_TOKENS


def activation_gb(count: ModelCount, video: VideoSettings, candidates: int) -> float:
    """Activations of one step's graph in bf16 with gradient checkpointing (see the module docstring)."""
    text, vision = count.text, count.vision
    patches, seq = tokens(video, vision)
    vision_bytes = 2 * patches * (vision["depth"] * vision["hidden_size"] + 10 * vision["hidden_size"] + 2 * vision["intermediate_size"])
    text_bytes = 2 * seq * (text["num_hidden_layers"] * text["hidden_size"] + 10 * text["hidden_size"] + 3 * text["intermediate_size"])
    logits_bytes = 2 * seq * text["vocab_size"]
    return candidates * (vision_bytes + text_bytes + logits_bytes) / GB


def plan(count: ModelCount, video: VideoSettings, gpus: int, lora_r: int, candidates: int) -> dict[str, dict[str, float]]:
    """Per-GPU GB of weights, gradients, optimizer state and activations for each strategy."""
    p, adapters = count.params, count.lora_params * lora_r
    frozen_qlora = count.quantizable * NF4_BYTES + (p - count.quantizable) * 2
    states = {"ddp": (4 * p, 4 * p, 8 * p), "fsdp": (4 * p / gpus, 4 * p / gpus, 8 * p / gpus),
              "lora": (2 * p + 4 * adapters, 4 * adapters, 8 * adapters), "qlora": (frozen_qlora + 4 * adapters, 4 * adapters, 8 * adapters)}
    act = activation_gb(count, video, candidates) + RUNTIME_OVERHEAD_GB
    rows = {}
    for name, (weights, grads, optim) in states.items():
        row = {"weights": weights / GB, "gradients": grads / GB, "optimizer": optim / GB, "activations": act}
        rows[name] = {**row, "total": sum(row.values())}
    return rows


def plan_markdown(rows: Mapping[str, Mapping[str, float]], limit_gb: float, title: str) -> str:
    cols = ("weights", "gradients", "optimizer", "activations", "total")
    lines = [f"{title}\n", "| strategy | " + " | ".join(f"{c} GB" for c in cols) + f" | fits {limit_gb:g} GB |",
             "|---|" + "---:|" * len(cols) + "---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + f" | {'yes' if row['total'] <= limit_gb else 'no'} |")
    return "\n".join(lines) + "\n"


def fitting(rows: Mapping[str, Mapping[str, float]], limit_gb: float) -> Sequence[str]:
    """The strategies a config can select whose plan fits `limit_gb` per GPU."""
    return [name for name in STRATEGIES if rows[name]["total"] <= limit_gb]


def configured_strategy(strategy: str, lora: Mapping[str, Any]) -> str:
    """The plan row a training config runs: qlora or lora when adapters are on (train.lora), else train.strategy."""
    if not lora["enabled"]:
        return strategy
    return "qlora" if lora["load_in_4bit"] else "lora"
