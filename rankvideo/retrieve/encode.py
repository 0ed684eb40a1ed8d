"""Resumable encoding of one shard's videos: embeddings go to numbered parts in a work folder as they are made, so a
killed job re-encodes only the videos of the part it was writing. Parts made with other settings are discarded."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rankvideo.files.atomic import atomic_write_text
from rankvideo.files.embeddings import read_embeddings, write_embeddings
from rankvideo.files.skips import Skip, Why

log = logging.getLogger(__name__)
PART = "part-{:05d}.safetensors"


Part = tuple[list[str], np.ndarray, list[Skip]]  # one part file's ids, vectors and skip lines


def skips_path(part: Path) -> Path:
    return part.with_suffix(".skips.json")


def read_part(part: Path, stage: str) -> tuple[Part, dict[str, Any]]:
    """A finished part and the settings it was made with."""
    ids, vectors, made_by = read_embeddings(part)
    skips = [Skip(i, stage, Why(code), reason) for i, code, reason in json.loads(skips_path(part).read_text())]
    return (ids, vectors, skips), made_by


def finished_parts(work_dir: Path, made_by: Mapping[str, Any], stage: str) -> list[Part]:
    """The complete parts made with `made_by`, each read once; the work folder is emptied when it holds parts made
    otherwise."""
    read = [read_part(p, stage) for p in sorted(work_dir.glob("part-*.safetensors"))]
    if any(made != dict(made_by) for _, made in read):
        log.warning("%s holds embeddings made with other settings: encoding afresh", work_dir)
        shutil.rmtree(work_dir)
        return []
    return [part for part, _ in read]


def encode_items(items: Sequence[str], encode: Callable[[], Callable[[str], tuple[np.ndarray, list[tuple[Why, str]]]]],
                 work_dir: str | Path, made_by: Mapping[str, Any], chunk: int, stage: str) -> tuple[list[str], np.ndarray, list[Skip]]:
    """Every item's vector (in `items` order) and the skip lines of what each lacked, resuming from `work_dir`.

    `encode` makes the encoding function (loads the model): it is called only when some item is left to encode."""
    from tqdm import tqdm

    work_dir = Path(work_dir)
    parts = finished_parts(work_dir, made_by, stage)
    done = {i for ids, _, _ in parts for i in ids}
    todo = [i for i in items if i not in done]
    if done:
        log.info("resuming: %d of %d already encoded in %s", len(done), len(items), work_dir)
    encode_one = encode() if todo else None
    with tqdm(total=len(items), initial=len(items) - len(todo), desc="encode", unit="video") as bar:
        for start in range(0, len(todo), chunk):
            ids, vectors, lacks = [], [], []
            for item in todo[start:start + chunk]:
                vector, lacking = encode_one(item)
                ids.append(item)
                vectors.append(vector)
                lacks += [[item, str(code), reason] for code, reason in lacking]
                bar.update(1)
            part = work_dir / PART.format(len(parts))
            atomic_write_text(skips_path(part), json.dumps(lacks) + "\n")  # before the part: the part's rename commits both
            write_embeddings(part, ids, np.stack(vectors), made_by)
            parts.append((ids, np.stack(vectors), [Skip(i, stage, Why(code), reason) for i, code, reason in lacks]))
    by_id: dict[str, np.ndarray] = {}
    skips = []
    for ids, vectors, part_skips in parts:
        by_id.update(zip(ids, vectors))
        skips += part_skips
    ordered = [i for i in items if i in by_id]
    missing = sorted(set(items) - set(ordered))
    if missing:
        raise RuntimeError(f"{work_dir}: no embedding for {missing[:5]} after encoding")
    return ordered, np.stack([by_id[i] for i in ordered]) if ordered else np.zeros((0, 0), np.float32), skips
