"""Embedding files: safetensors (no pickle) holding one float32 row per item, the items' ids and the record of what
made them (model, adapter, settings) in the file's metadata."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rankvideo.files.errors import FormatError


def write_embeddings(path: str | Path, ids: Sequence[str], vectors: np.ndarray, made_by: Mapping[str, Any]) -> None:
    """Written beside `path`, then renamed over it: a killed writer leaves no half file."""
    from safetensors.numpy import save_file

    if len(ids) != len(vectors):
        raise ValueError(f"{path}: {len(ids)} ids for {len(vectors)} vectors")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    save_file({"embeddings": np.ascontiguousarray(vectors, dtype=np.float32)}, str(tmp),
              metadata={"ids": json.dumps(list(ids)), "made_by": json.dumps(dict(made_by), sort_keys=True)})
    os.replace(tmp, path)


def read_embeddings(path: str | Path) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """(ids, vectors, made_by) of an embedding file."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            vectors = f.get_tensor("embeddings")
    except (SafetensorError, OSError) as err:
        raise FormatError(path, None, f"not an embedding file ({type(err).__name__}: {err}); delete it to re-encode") from None
    if "ids" not in meta or "made_by" not in meta:
        raise FormatError(path, None, "no ids / made_by metadata: not written by rankvideo.files.embeddings")
    ids = json.loads(meta["ids"])
    if len(ids) != len(vectors):
        raise FormatError(path, None, f"{len(ids)} ids for {len(vectors)} vectors")
    return ids, vectors, json.loads(meta["made_by"])
