"""Stage 2 losses (paper §4.2, eqs. 3-7) as pure functions of one query group's scores.

A group is one query's candidates: index 0 the positive, then K negatives. Scores are
s = logit(yes) - logit(no) (paper eq. 2), from rankvideo.backends.transformers_backend.yes_no_logits as inference reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F

LOSS_TERMS = ("pair", "point", "teacher")


@dataclass(frozen=True)
class LossConfig:
    tau_pair: float = 10.0
    lambda_teacher: float = 5.0
    tau_teacher: float = 5.0
    lambda_pt: float = 0.5
    tau_point: float = 1.0
    soft_negative_target: float = 0.1
    negative_weight: float = 0.5
    terms: tuple[str, ...] = LOSS_TERMS  # paper Table 7 ablations: (pair,), (pair, point), (pair, point, teacher)


def loss_config(settings: Mapping[str, Any]) -> LossConfig:
    """A Stage 2 job's settings as its LossConfig: the loss settings it holds and its terms (`losses`).

    A loss-ablation variant holds only the settings its terms read; the others keep defaults no term reads.
    """
    names = {f.name for f in fields(LossConfig)} - {"terms"}
    return LossConfig(**{k: settings[k] for k in names if k in settings}, terms=tuple(settings["losses"]))


def pairwise_loss(scores: torch.Tensor, tau: float) -> torch.Tensor:
    """-log softmax(s / tau)[positive], the positive at index 0 (eq. 3)."""
    return -torch.log_softmax(scores / tau, dim=-1)[0]


def teacher_loss(scores: torch.Tensor, teacher_p_yes: torch.Tensor, tau: float) -> torch.Tensor:
    """BCE-with-logits(s / tau, p_yes_teacher) averaged over candidates that have a teacher probability (eq. 4).

    A candidate without one (NaN) contributes nothing; a group with none gives 0, so a missing teacher
    probability never turns into a made-up target.
    """
    present = ~torch.isnan(teacher_p_yes)
    if not present.any():
        return scores.sum() * 0.0
    return F.binary_cross_entropy_with_logits(scores[present] / tau, teacher_p_yes[present])


def pointwise_loss(scores: torch.Tensor, labels: torch.Tensor, tau: float, soft_negative_target: float,
                   negative_weight: float) -> torch.Tensor:
    """BCE-with-logits(s / tau, y~; weight w), y~ = 1 / soft target and w = 1 / negative weight (eqs. 5-6).

    Mean over the group's candidates of w * bce (PyTorch's weighted mean reduction).
    """
    targets = torch.where(labels > 0, 1.0, soft_negative_target).to(scores.dtype)
    weights = torch.where(labels > 0, 1.0, negative_weight).to(scores.dtype)
    return F.binary_cross_entropy_with_logits(scores / tau, targets, weight=weights)


def stage2_loss(scores: torch.Tensor, labels: torch.Tensor, teacher_p_yes: torch.Tensor, cfg: LossConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """L = L_pair + lambda_teacher * L_t + lambda_pt * L_pt over the enabled terms (eq. 7)."""
    if labels[0] != 1 or (labels[1:] != 0).any():
        raise ValueError(f"a query group must be [positive, negatives...], got labels {labels.tolist()}")
    parts = {
        "pair": (1.0, lambda: pairwise_loss(scores, cfg.tau_pair)),
        "point": (cfg.lambda_pt, lambda: pointwise_loss(scores, labels, cfg.tau_point, cfg.soft_negative_target, cfg.negative_weight)),
        "teacher": (cfg.lambda_teacher, lambda: teacher_loss(scores, teacher_p_yes, cfg.tau_teacher)),
    }
    unknown = set(cfg.terms) - set(parts)
    if unknown:
        raise ValueError(f"unknown loss terms {sorted(unknown)}; expected some of {LOSS_TERMS}")
    values = {name: parts[name][1]() for name in cfg.terms}
    total = sum(parts[name][0] * value for name, value in values.items())
    return total, {name: float(value.detach()) for name, value in values.items()}


def group_tensors(labels: Sequence[int], teacher: Sequence[float | None]) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.tensor(labels, dtype=torch.long),
            torch.tensor([float("nan") if p is None else p for p in teacher], dtype=torch.float32))
