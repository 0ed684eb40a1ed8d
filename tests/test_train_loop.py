"""The training loop resumes where it stopped: the steps before the checkpoint are not run again."""

import logging

import pytest
import torch

from rankvideo.train.checkpoints import complete_checkpoints
from rankvideo.train.loop import run_loop
from tests.conftest import stage_settings

SETTINGS = stage_settings(lr=0.1, scheduler="constant", warmup_ratio=0.0, epochs=2, checkpoint_every=2, seed=0)
ITEMS = [torch.tensor([float(i), 1.0]) for i in range(6)]  # 3 steps of 2 items per epoch, 6 steps in all


class Crash(RuntimeError):
    pass


def train(ckpt_root, crash_at_call: int | None = None) -> tuple[torch.nn.Linear, list[int], list[dict]]:
    """run_loop on a linear model; records the step of every loss call and crashes on the given call."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    calls: list[int] = []

    def loss_fn(x):
        calls.append(len(calls) + 1)
        if crash_at_call is not None and len(calls) == crash_at_call:
            raise Crash(f"crash on call {crash_at_call}")
        loss = (model(x) - x.sum()).pow(2).mean()
        return loss, {"mse": float(loss.detach())}

    history = run_loop(model, lambda epoch: ITEMS, 2, loss_fn, SETTINGS, ckpt_root)
    return model, calls, history


def test_a_resumed_run_starts_after_its_checkpoint_and_ends_where_an_unbroken_one_does(tmp_path, caplog):
    whole, whole_calls, whole_history = train(tmp_path / "whole")
    assert len(whole_calls) == 12
    with pytest.raises(Crash):
        train(tmp_path / "broken", crash_at_call=9)  # the first item of step 5: steps 1-4 done, checkpoints at 2 and 4
    assert [p.name for p in complete_checkpoints(tmp_path / "broken")] == ["step-2", "step-4"]
    with caplog.at_level(logging.INFO, logger="rankvideo.train"):
        resumed, resumed_calls, resumed_history = train(tmp_path / "broken")
    assert f"resuming from {tmp_path / 'broken' / 'step-4'} (step 4 of 6)" in caplog.text
    assert len(resumed_calls) == 4  # steps 5 and 6 only: steps 1-4 are not run again
    assert [row["step"] for row in resumed_history] == [1, 2, 3, 4, 5, 6]  # the log before the checkpoint travels with it
    assert resumed_history == whole_history
    assert torch.equal(resumed.weight, whole.weight) and torch.equal(resumed.bias, whole.bias)
