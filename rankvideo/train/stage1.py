"""Stage 1 perception SFT (paper §4.1, eq. 1): the model learns to caption the video, loss on the caption tokens."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from rankvideo.files.video import VideoSettings
from rankvideo.models.prompts import caption_target, render_caption
from rankvideo.models.transformers_backend import TransformersBackend
from rankvideo.train.loop import train_and_save
from rankvideo.train.model import load_backend
from rankvideo.train.settings import Stage1Settings

log = logging.getLogger(__name__)

def caption_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Stage 1 (eq. 1): mean next-token cross-entropy over the caption tokens only (labels -100 elsewhere)."""
    return F.cross_entropy(logits[:-1].float(), labels[1:], ignore_index=-100)


def caption_example_loss(backend: TransformersBackend, sampled, caption: str) -> torch.Tensor:
    """Stage 1 loss of one video: the Figure 11 prompt, loss on the caption tokens only."""
    prompt = backend.model_inputs(render_caption(), sampled)
    target = backend.tokenizer(caption_target(caption), add_special_tokens=False, return_tensors="pt")["input_ids"][0].to(backend.device)
    ids = torch.cat([prompt["input_ids"][0], target]).unsqueeze(0)
    labels = torch.cat([torch.full_like(prompt["input_ids"][0], -100), target])
    out = backend.model(input_ids=ids, mm_token_type_ids=backend._mm_types(ids), pixel_values_videos=prompt["pixel_values_videos"],
                        video_grid_thw=prompt["video_grid_thw"])
    return caption_loss(out.logits[0], labels)


def one_row_per_video(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The first row of each video (its doc_id, else its path), in order: upstream's Stage 1 dedupe by doc_id."""
    seen: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        seen.setdefault(row.get("doc_id") or row["videos"][0], row)
    return list(seen.values())


def train_stage1(model_path: str, rows: Sequence[Mapping[str, Any]], out_dir: str | Path, ckpt_root: str | Path,
                 settings: Stage1Settings, video: VideoSettings, provenance: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Stage 1 (perception SFT) from `model_path`; saves the model to `out_dir`, returns the per-step log."""
    stage = settings.stage
    backend = load_backend(model_path, video, stage)
    sample = lru_cache(maxsize=512)(video.sample)
    items = one_row_per_video(rows) if settings.dedupe_by_video else list(rows)
    log.info("stage 1: %d rows, %d of them trained on (dedupe_by_video %s)", len(rows), len(items), settings.dedupe_by_video)

    def for_epoch(epoch: int) -> list[Mapping[str, Any]]:
        order = list(items)
        random.Random(f"{stage.seed}:epoch:{epoch}").shuffle(order)
        return order

    def loss_fn(row):
        loss = caption_example_loss(backend, sample(row["videos"][0]), row["caption"])
        return loss, {"caption": float(loss.detach())}

    return train_and_save(backend, 1, model_path, for_epoch, settings.batch_size, loss_fn, stage, ckpt_root, out_dir, provenance)
