"""Stage 2 losses against values derived by hand in the test (never by calling the function under test)."""

import math

import pytest
import torch

from rankvideo.train.losses import group_tensors, pairwise_loss, pointwise_loss, stage2_loss, teacher_loss
from rankvideo.train.settings import LossSettings
from rankvideo.train.stage1 import caption_loss
from tests.conftest import PAPER_CONFIG, PAPER_LOSSES


def softplus(x):
    return math.log1p(math.exp(x))


def bce(x, y):
    """-(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) = softplus(x) - y x."""
    return softplus(x) - y * x


S = [2.0, -1.0, 0.5]  # positive first, then two negatives


def test_pairwise_by_hand():
    z = [s / 10 for s in S]
    expected = -(z[0] - math.log(sum(math.exp(v) for v in z)))
    assert pairwise_loss(torch.tensor(S), tau=10).item() == pytest.approx(expected, rel=1e-6)


def test_pairwise_when_the_positive_already_wins_by_far():
    loss = pairwise_loss(torch.tensor([60.0, -40.0, -40.0]), tau=10).item()
    expected = math.log(1 + 2 * math.exp(-10))  # -log(e^6 / (e^6 + 2e^-4))
    assert loss == pytest.approx(expected, abs=1e-6) and loss < 1e-4


def test_teacher_by_hand_and_with_a_missing_probability():
    p = [0.9, 0.2, float("nan")]
    expected = (bce(2.0 / 5, 0.9) + bce(-1.0 / 5, 0.2)) / 2  # the NaN candidate is left out of the mean
    assert teacher_loss(torch.tensor(S), torch.tensor(p), tau=5).item() == pytest.approx(expected, rel=1e-6)
    none = teacher_loss(torch.tensor(S, requires_grad=True), torch.tensor([float("nan")] * 3), tau=5)
    assert none.item() == 0.0 and none.requires_grad


def test_pointwise_by_hand():
    labels = torch.tensor([1, 0, 0])
    expected = (1.0 * bce(2.0, 1.0) + 0.5 * bce(-1.0, 0.1) + 0.5 * bce(0.5, 0.1)) / 3
    got = pointwise_loss(torch.tensor(S), labels, tau=1, soft_negative_target=0.1, negative_weight=0.5)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_total_and_ablations():
    labels, p = torch.tensor([1, 0, 0]), torch.tensor([0.9, 0.2, 0.1])
    pair = -(0.2 - math.log(math.exp(0.2) + math.exp(-0.1) + math.exp(0.05)))
    point = (bce(2.0, 1.0) + 0.5 * bce(-1.0, 0.1) + 0.5 * bce(0.5, 0.1)) / 3
    teacher = (bce(0.4, 0.9) + bce(-0.2, 0.2) + bce(0.1, 0.1)) / 3
    total, parts = stage2_loss(torch.tensor(S), labels, p, PAPER_LOSSES)
    assert total.item() == pytest.approx(pair + 5 * teacher + 0.5 * point, rel=1e-6)
    assert parts == pytest.approx({"pair": pair, "point": point, "teacher": teacher}, rel=1e-6)
    only_pair, parts = stage2_loss(torch.tensor(S), labels, p, losses("pair"))
    assert only_pair.item() == pytest.approx(pair, rel=1e-6) and set(parts) == {"pair"}
    p_pt, _ = stage2_loss(torch.tensor(S), labels, p, losses("pair", "point"))
    assert p_pt.item() == pytest.approx(pair + 0.5 * point, rel=1e-6)


def test_group_order_is_checked():
    with pytest.raises(ValueError, match="must be \\[positive, negatives...\\]"):
        stage2_loss(torch.tensor(S), torch.tensor([0, 1, 0]), torch.tensor([0.5] * 3), PAPER_LOSSES)


def test_caption_loss_counts_caption_tokens_only():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6]]))
    labels = torch.tensor([-100, -100, 1, 2])  # prompt, prompt, caption, caption
    expected = -(math.log(0.8) + math.log(0.4)) / 2  # position t predicts token t+1
    assert caption_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_a_variant_holds_the_settings_of_its_terms_only():
    stage2 = {"tau_pair": 4.0, "lambda_pt": 0.25, "tau_point": 2.0, "soft_negative_target": 0.2, "negative_weight": 0.3,
              "lambda_teacher": 3.0, "tau_teacher": 6.0}
    variant = LossSettings.from_config(stage2, ["point", "pair"])
    assert variant.terms == ("pair", "point") and variant.teacher is None
    assert variant.pair.tau_pair == 4.0
    assert (variant.point.lambda_pt, variant.point.tau_point, variant.point.soft_negative_target, variant.point.negative_weight) == (0.25, 2.0, 0.2, 0.3)


def test_group_tensors_mark_a_missing_teacher_as_nan():
    labels, teacher = group_tensors([1, 0, 0], [0.75, None, 0.25])
    assert labels.dtype == torch.long and labels.tolist() == [1, 0, 0]
    assert teacher.dtype == torch.float32 and teacher[0].item() == 0.75 and math.isnan(teacher[1].item()) and teacher[2].item() == 0.25


def test_pointwise_divides_by_tau_and_keeps_the_scores_dtype():
    labels = torch.tensor([1, 0, 0])
    expected = (bce(1.0, 1.0) + 0.5 * bce(-0.5, 0.1) + 0.5 * bce(0.25, 0.1)) / 3
    got = pointwise_loss(torch.tensor(S, dtype=torch.float64), labels, tau=2, soft_negative_target=0.1, negative_weight=0.5)
    assert got.dtype == torch.float64 and got.item() == pytest.approx(expected, rel=1e-9)  # targets are float32 constants


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1, 0], [1, 0, 1]])
def test_every_group_label_is_checked(labels):
    with pytest.raises(ValueError) as info:
        stage2_loss(torch.tensor(S), torch.tensor(labels), torch.tensor([0.5] * 3), PAPER_LOSSES)
    assert str(info.value) == f"a query group must be [positive, negatives...], got labels {labels}"


def test_an_unknown_loss_term_is_named():
    with pytest.raises(ValueError) as info:
        LossSettings.from_config(PAPER_CONFIG["train"]["stage2"], ["pair", "margin"])
    assert str(info.value) == "train.stage2.losses: unknown loss terms ['margin']; expected some of ['pair', 'point', 'teacher']"


def losses(*terms: str) -> LossSettings:
    """The paper config's loss settings for a subset of the terms (paper Table 7)."""
    return LossSettings.from_config(PAPER_CONFIG["train"]["stage2"], terms)


def test_a_job_without_loss_terms_is_refused():
    with pytest.raises(ValueError) as info:
        stage2_loss(torch.tensor(S), torch.tensor([1, 0, 0]), torch.tensor([0.5] * 3), LossSettings(None, None, None))
    assert str(info.value) == "a Stage 2 job needs at least one loss term"
