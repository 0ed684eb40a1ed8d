"""Mixed precision done right: bf16 compute over fp32 master weights keeps an Adam step at the paper's lr 1e-5;
stepping bf16 weights rounds most of it away."""

import torch

from rankvideo.train.loop import run_loop
from rankvideo.train.losses import group_tensors, stage2_loss
from rankvideo.train.model import load_backend
from rankvideo.train.stage2 import group_scores
from tests.conftest import PAPER_LOSSES, stage_settings
from tests.test_train import VIDEO, stage2_rows

PAPER_LR = 1e-5  # paper §5 / Table 6


def one_group(corpus) -> dict:
    rows = [r for r in stage2_rows(corpus) if r["query_id"] == "q1"]
    return {"query": rows[0]["query"], "rows": sorted(rows, key=lambda r: -r["true_label"])}


def changed_fraction(before: dict[str, torch.Tensor], model: torch.nn.Module, grads: dict[str, torch.Tensor]) -> float:
    """Of the weights that received a nonzero gradient, the fraction whose value moved."""
    moved = total = 0
    for name, param in model.named_parameters():
        got = grads[name] != 0
        moved += int((param.detach() != before[name])[got].sum())
        total += int(got.sum())
    return moved / total


def train_one_step(backend, group, settings, ckpt_root) -> tuple[dict, dict]:
    """One optimizer step on one query group; the weights before it and the gradient it took."""
    before = {n: p.detach().clone() for n, p in backend.model.named_parameters()}
    grads: dict[str, torch.Tensor] = {}

    def loss_fn(item):
        labels, teacher = group_tensors([r["true_label"] for r in item["rows"]], [r["teacher_p_yes"] for r in item["rows"]])
        scores = group_scores(backend, VIDEO.sample, item["query"], [r["videos"][0] for r in item["rows"]])
        return stage2_loss(scores, labels, teacher, PAPER_LOSSES)

    hooks = [p.register_post_accumulate_grad_hook(lambda p, n=n: grads.__setitem__(n, p.grad.detach().clone()))
             for n, p in backend.model.named_parameters()]
    run_loop(backend.model, lambda epoch: [group], 1, loss_fn, settings, ckpt_root)
    for hook in hooks:
        hook.remove()
    return before, grads


def test_bf16_compute_over_fp32_weights_keeps_the_paper_lr_step(spread_model, demo_corpus, tmp_path):
    settings = stage_settings(lr=PAPER_LR, scheduler="constant", warmup_ratio=0.0, epochs=1, compute_dtype="bfloat16")
    backend = load_backend(str(spread_model), VIDEO, settings)
    assert all(p.dtype == torch.float32 for p in backend.model.parameters())  # master weights
    before, grads = train_one_step(backend, one_group(demo_corpus), settings, tmp_path / "ckpt")
    assert all(g.dtype == torch.float32 for g in grads.values())  # gradients (and their reduction) in fp32
    assert changed_fraction(before, backend.model, grads) >= 0.99


def test_stepping_bf16_weights_loses_most_of_the_update(spread_model, demo_corpus, tmp_path):
    """What a bf16 model with a plain AdamW does at lr 1e-5: most updates round back to the same bf16 value."""
    settings = stage_settings(lr=PAPER_LR, scheduler="constant", warmup_ratio=0.0, epochs=1, compute_dtype="bfloat16")
    backend = load_backend(str(spread_model), VIDEO, settings)
    backend.model.to(torch.bfloat16)
    backend.dtype = torch.bfloat16
    before, grads = train_one_step(backend, one_group(demo_corpus), settings, tmp_path / "ckpt")
    assert changed_fraction(before, backend.model, grads) < 0.5
