"""A model's shape from its config.json alone, before any weights or GPU: where the config.json is found, whether the
model hears audio, and what an inference engine holds of the model (its served parameters and the decoder's attention
shape, which sizes the KV cache).

The architecture is built on the meta device (no memory, no weights) by the class its config.json names, so the
count is the checkpoint's own, not a formula's. An Omni model's engine serves the thinker only (vLLM's
Qwen3-Omni model is the thinker); the other parts are counted and named as not served.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rankvideo.cli import UsageError
from rankvideo.files.atomic import atomic_write_text

SERVED_PART = "thinker"  # the submodule an Omni checkpoint's inference engine loads


def shipped_config(model: str) -> Path | None:
    """The config.json this package ships for a hub model (rankvideo/models/configs/<name>.json), by the id's last part."""
    path = resources.files("rankvideo").joinpath(f"models/configs/{model.split('/')[-1]}.json")
    return Path(str(path)) if path.is_file() else None


def find_config(model: str) -> Path:
    """A model's config.json: its folder's, the local hub cache's, or the one shipped here; else an error saying what to do."""
    folder = Path(model) / "config.json"
    if folder.is_file():
        return folder
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a hub id (a folder that does not exist yet)
        cached = None
    if isinstance(cached, str):
        return Path(cached)
    shipped = shipped_config(model)
    if shipped is None:
        raise UsageError(f"no config.json for {model}: not a folder, not in the hub cache, not shipped in rankvideo/models/configs; "
                         f"run `snakemake prefetch --cores 1` on a machine with internet access, or pass a model folder")
    return shipped


def local_folder(name: str) -> Path:
    """A folder as it is, or a hub id's snapshot in the local cache (`snakemake prefetch` fills it; jobs run offline)."""
    if Path(name).is_dir():
        return Path(name)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(name, local_files_only=True))


def hears_audio(model: str) -> bool:
    """Whether the served part has an audio tower (Qwen3-Omni's thinker does; Qwen3-VL has none), read from config.json."""
    raw = json.loads(find_config(model).read_text())
    return "audio_config" in raw.get(f"{SERVED_PART}_config", raw)


def meta_model(raw: Mapping[str, Any], dtype: str | None = None) -> Any:
    """The architecture config.json names (its `architectures[0]`), built on the meta device."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(**raw)
    cls = getattr(transformers, raw["architectures"][0])
    kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
    with torch.device("meta"):
        return cls._from_config(config, **kwargs)


@dataclass(frozen=True)
class Served:
    """What an inference engine holds of a model."""

    params: int  # parameters the engine loads
    skipped: dict[str, int]  # parts of the checkpoint the engine does not load, by name
    layers: int  # decoder layers: each keeps a K and a V per token
    attention_heads: int
    kv_heads: int
    head_dim: int
    hidden_size: int
    ffn_width: int  # the MLP width a token passes through: the dense intermediate size, or its active experts' together
    vision: dict[str, int] | None  # the vision tower's patching (patch_size, spatial_merge_size, temporal_patch_size)

    def kv_bytes_per_token(self, tensor_parallel: int = 1, dtype_bytes: int = 2) -> int:
        """K and V of one token over every layer, on one GPU of `tensor_parallel`: KV heads are split across GPUs, and
        replicated once there are more GPUs than KV heads (vLLM's rule)."""
        heads_per_gpu = -(-self.kv_heads // tensor_parallel)
        return 2 * self.layers * heads_per_gpu * self.head_dim * dtype_bytes


def decoder_config(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language model's fields: the thinker's text_config, a vision-language model's text_config, or the top level."""
    part = raw.get(f"{SERVED_PART}_config", raw)
    return part.get("text_config", part)


def ffn_width(text: Mapping[str, Any]) -> int:
    if text.get("num_experts"):
        return text["num_experts_per_tok"] * text["moe_intermediate_size"]
    return text.get("intermediate_size") or text["decoder_ffn_dim"]


def vision_patching(raw: Mapping[str, Any]) -> dict[str, int] | None:
    part = raw.get(f"{SERVED_PART}_config", raw)
    vision = part.get("vision_config")
    if not vision:
        return None
    return {key: vision[key] for key in ("patch_size", "spatial_merge_size", "temporal_patch_size")}


def count_served(config_path: Path) -> Served:
    """Build the architecture on the meta device and count what an engine serves of it."""
    raw = json.loads(config_path.read_text())
    model = meta_model(raw)
    parts = dict(model.named_children())
    served = parts.get(SERVED_PART, model)
    skipped = {} if served is model else {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items()
                                          if name != SERVED_PART and any(True for _ in part.parameters())}
    text = decoder_config(raw)
    heads = text.get("num_attention_heads") or text["decoder_attention_heads"]
    hidden = text.get("hidden_size") or text["d_model"]
    return Served(params=sum(p.numel() for p in served.parameters()), skipped=skipped,
                  layers=text.get("num_hidden_layers") or text["decoder_layers"], attention_heads=heads,
                  kv_heads=text.get("num_key_value_heads") or heads, head_dim=text.get("head_dim") or hidden // heads,
                  hidden_size=hidden, ffn_width=ffn_width(text), vision=vision_patching(raw))


def cached_served(config_path: Path, cache_dir: Path) -> Served:
    """count_served, remembered by the config.json's bytes: the workflow plans every GPU job at each DAG parse, and a
    meta build takes seconds; a changed config.json is counted afresh."""
    digest = hashlib.sha256(config_path.read_bytes()).hexdigest()[:16]
    cached = cache_dir / f"served-{digest}.json"
    if cached.is_file():
        return Served(**json.loads(cached.read_text()))
    served = count_served(config_path)
    atomic_write_text(cached, json.dumps(asdict(served)))
    return served
