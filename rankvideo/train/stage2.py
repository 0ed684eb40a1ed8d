"""Stage 2 ranking (paper §4.2): query groups of 1 positive + K rotating negatives, scored through the
inference scoring function, trained on the pairwise + pointwise + teacher losses of rankvideo.train.losses."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from rankvideo.files.video import VideoSettings
from rankvideo.judge.training_sets import rotate
from rankvideo.models.transformers_backend import TransformersBackend
from rankvideo.train.loop import train_and_save
from rankvideo.train.losses import group_tensors, stage2_loss
from rankvideo.train.model import load_backend
from rankvideo.train.settings import Stage2Settings

log = logging.getLogger(__name__)


def group_scores(backend: TransformersBackend, sample, query: str, paths: Sequence[str]) -> torch.Tensor:
    """s = logit(yes) - logit(no) of each candidate, through the inference scoring function."""
    pairs = [backend.pair_logits(sample(p), query) for p in paths]
    return torch.stack([yes - no for yes, no in pairs])


def stage2_groups(rows: Sequence[Mapping[str, Any]], k: int, seed: int) -> Callable[[int], list[dict[str, Any]]]:
    """Per epoch, each query's positive with K rotating negatives, in a seeded query order."""
    by_query: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = by_query.setdefault(row["query_id"], {"query": row["query"], "positive": None, "negatives": []})
        if row["true_label"]:
            group["positive"] = row
        else:
            group["negatives"].append(row)
    usable = {q: g for q, g in sorted(by_query.items()) if g["positive"] is not None and g["negatives"]}
    if len(usable) < len(by_query):
        log.warning("%d queries without a positive or without negatives are left out", len(by_query) - len(usable))

    def for_epoch(epoch: int) -> list[dict[str, Any]]:
        order = list(usable)
        random.Random(f"{seed}:epoch:{epoch}").shuffle(order)
        return [{"query_id": q, "query": usable[q]["query"],
                 "rows": [usable[q]["positive"], *rotate(sorted(usable[q]["negatives"], key=lambda r: r["doc_id"]), k, seed, q, epoch)]}
                for q in order]

    return for_epoch


def train_stage2(model_path: str, rows: Sequence[Mapping[str, Any]], out_dir: str | Path, ckpt_root: str | Path,
                 settings: Stage2Settings, video: VideoSettings, provenance: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Stage 2 from `model_path` (Stage 1's merged weights); saves the model to `out_dir`, returns the per-step log."""
    stage, negatives = settings.stage, settings.negatives
    backend = load_backend(model_path, video, stage)
    sample = lru_cache(maxsize=512)(video.sample)

    def loss_fn(group):
        labels, teacher = group_tensors([r["true_label"] for r in group["rows"]], [r.get("teacher_p_yes") for r in group["rows"]])
        scores = group_scores(backend, sample, group["query"], [r["videos"][0] for r in group["rows"]])
        return stage2_loss(scores, labels, teacher, settings.losses)

    return train_and_save(backend, 2, model_path, stage2_groups(rows, negatives, stage.seed), settings.groups_per_step, loss_fn, stage,
                          ckpt_root, out_dir, provenance)
