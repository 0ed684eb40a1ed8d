"""Stage 2 losses (paper §4.2, eqs. 3-7) as pure functions of one query group's scores.

A group is one query's candidates: index 0 the positive, then K negatives. Scores are
s = logit(yes) - logit(no) (paper eq. 2), from rankvideo.models.transformers_backend.yes_no_logits as inference reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rankvideo.train.settings import LossSettings


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


def stage2_loss(scores: torch.Tensor, labels: torch.Tensor, teacher_p_yes: torch.Tensor, losses: LossSettings) -> tuple[torch.Tensor, dict[str, float]]:
    """L = L_pair + lambda_teacher * L_t + lambda_pt * L_pt over the terms `losses` holds (eq. 7)."""
    if labels[0] != 1 or (labels[1:] != 0).any():
        raise ValueError(f"a query group must be [positive, negatives...], got labels {labels.tolist()}")
    weighted: dict[str, tuple[float, torch.Tensor]] = {}
    if losses.pair is not None:
        weighted["pair"] = (1.0, pairwise_loss(scores, losses.pair.tau_pair))
    if losses.point is not None:
        point = losses.point
        weighted["point"] = (point.lambda_pt, pointwise_loss(scores, labels, point.tau_point, point.soft_negative_target, point.negative_weight))
    if losses.teacher is not None:
        weighted["teacher"] = (losses.teacher.lambda_teacher, teacher_loss(scores, teacher_p_yes, losses.teacher.tau_teacher))
    if not weighted:
        raise ValueError("a Stage 2 job needs at least one loss term")
    total = sum(weight * value for weight, value in weighted.values())
    return total, {name: float(value.detach()) for name, (_, value) in weighted.items()}


def group_tensors(labels: Sequence[int], teacher: Sequence[float | None]) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.tensor(labels, dtype=torch.long),
            torch.tensor([float("nan") if p is None else p for p in teacher], dtype=torch.float32))
