"""The `train` block of config.yaml as typed settings, one field per key, read by name where it is used.

Defaults live in config.yaml alone: every field is required. A Stage 2 job holds the settings of its own loss
terms only (`LossSettings`: None for a term it leaves out), so a changed `lambda_teacher` retrains the variants
that use the teacher term and leaves the others alone (paper Table 7's ablations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rankvideo.files.errors import ConfigError
from rankvideo.files.settings import pick


@dataclass(frozen=True)
class LoraSettings:
    """train.lora: adapters on the language model's attention projections, merged into the weights on save; with
    load_in_4bit the frozen base is held in 4-bit NF4 (QLoRA, bitsandbytes), as upstream trains."""

    enabled: bool
    r: int
    alpha: float
    dropout: float
    load_in_4bit: bool


@dataclass(frozen=True)
class StageSettings:
    """train.stage1 / train.stage2's optimisation keys and the train.* keys both stages share."""

    lr: float
    scheduler: str
    warmup_ratio: float
    optimizer: str
    epochs: int
    checkpoint_every: int
    seed: int
    processes: int | str
    strategy: str
    compute_dtype: str
    lora: LoraSettings

    @classmethod
    def from_config(cls, train: Mapping[str, Any], stage: str) -> StageSettings:
        """`train` is config.yaml's train block; `stage` is "stage1" or "stage2"."""
        shared = {**pick(cls, train), "lora": LoraSettings(**train["lora"])}
        return cls(**pick(cls, train[stage]), **shared)


@dataclass(frozen=True)
class Stage1Settings:
    """One Stage 1 job: its optimisation and batch_size, the captioned videos whose gradients one optimizer step sums
    (accumulated one forward at a time, split over the job's processes); dedupe_by_video: one row per video (doc_id),
    as upstream's trainer reads Stage 1 rows, so a video with many queries is not captioned many times an epoch."""

    stage: StageSettings
    batch_size: int
    dedupe_by_video: bool = True

    @classmethod
    def from_config(cls, train: Mapping[str, Any]) -> Stage1Settings:
        block = train["stage1"]
        return cls(StageSettings.from_config(train, "stage1"), block["batch_size"], block["dedupe_by_video"])


@dataclass(frozen=True)
class PairLoss:
    """Paper eq. 3: -log softmax(s / tau_pair)[positive]."""

    tau_pair: float


@dataclass(frozen=True)
class PointLoss:
    """Paper eqs. 5-6: BCE(s / tau_point) against 1 / soft_negative_target, weights 1 / negative_weight, times lambda_pt."""

    lambda_pt: float
    tau_point: float
    soft_negative_target: float
    negative_weight: float


@dataclass(frozen=True)
class TeacherLoss:
    """Paper eq. 4: BCE(s / tau_teacher, teacher p_yes), times lambda_teacher."""

    lambda_teacher: float
    tau_teacher: float


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")  # train.lora adapts the language model's attention projections


LOSS_TERMS = {"pair": PairLoss, "point": PointLoss, "teacher": TeacherLoss}  # train.stage2.losses names -> their settings
LOSS_LABELS = {"pair": "P", "point": "PT", "teacher": "T"}  # paper App. B Table 7's names of the loss terms


def loss_label(terms: Sequence[str]) -> str:
    """A loss subset as paper Table 7 names it, in one order whatever the config's: [point, pair] -> "P+PT"."""
    return "+".join(label for term, label in LOSS_LABELS.items() if term in terms)


@dataclass(frozen=True)
class LossSettings:
    """The loss terms of one Stage 2 job (paper eq. 7), each with its settings; None: the term is off."""

    pair: PairLoss | None
    point: PointLoss | None
    teacher: TeacherLoss | None

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(name for name in LOSS_TERMS if getattr(self, name) is not None)

    @classmethod
    def from_config(cls, stage2: Mapping[str, Any], terms: Sequence[str]) -> LossSettings:
        """train.stage2's loss keys for the terms `terms` (train.stage2.losses, or one subset of evaluation.loss_ablation)."""
        unknown = sorted(set(terms) - set(LOSS_TERMS))
        if unknown:
            raise ConfigError(f"train.stage2.losses: unknown loss terms {unknown}; expected some of {list(LOSS_TERMS)}")
        return cls(**{name: kind(**pick(kind, stage2)) if name in terms else None for name, kind in LOSS_TERMS.items()})


@dataclass(frozen=True)
class Stage2Settings:
    """One Stage 2 job: its optimisation, K negatives per query group (paper §4.2 footnote 2), the query groups whose
    gradients one optimizer step sums (accumulated one forward at a time, split over the job's processes) and its losses."""

    stage: StageSettings
    negatives: int
    groups_per_step: int
    losses: LossSettings

    @classmethod
    def from_config(cls, train: Mapping[str, Any], terms: Sequence[str]) -> Stage2Settings:
        stage2 = train["stage2"]
        return cls(StageSettings.from_config(train, "stage2"), stage2["negatives"], stage2["groups_per_step"],
                   LossSettings.from_config(stage2, terms))
