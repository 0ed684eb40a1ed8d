"""The training loop both stages share (paper §4): resumable, preemptible, one or several processes.

A restarted job resumes from the last complete checkpoint (rankvideo.train.checkpoints) and ends with the
weights of an uninterrupted run; SIGTERM (Slurm preemption, time limit) saves a checkpoint at the step
boundary. Several processes (one per GPU) split each step's batch and sum their gradients.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rankvideo.files.errors import ConfigError
from rankvideo.models.transformers_backend import TransformersBackend
from rankvideo.train.checkpoints import complete_checkpoints, full_model_state, full_optimizer_state, load_checkpoint, save_checkpoint
from rankvideo.train.model import save_trained
from rankvideo.train.settings import StageSettings

log = logging.getLogger(__name__)
OPTIMIZERS = ("adamw",)  # paper Table 6: AdamW (train.*.optimizer)


def make_optimizer(params: Sequence[Any], settings: StageSettings) -> Any:
    """The optimizer train.*.optimizer names, at train.*.lr."""
    if settings.optimizer not in OPTIMIZERS:
        raise ConfigError(f"train optimizer {settings.optimizer!r}: expected one of {OPTIMIZERS}")
    return {"adamw": torch.optim.AdamW}[settings.optimizer](params, lr=settings.lr)


def compute_precision(settings: StageSettings, device: torch.device) -> contextlib.AbstractContextManager:
    """The forward's precision: bf16 autocast over fp32 weights (train.compute_dtype: bfloat16), or plain fp32.

    Weights, gradients, their reduction across processes and the optimizer state stay fp32 either way, so an update
    far below a bf16 ulp (AdamW at lr 1e-5 moves a weight ~1e-5) is kept, not rounded away.
    """
    if settings.compute_dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=getattr(torch, settings.compute_dtype))


def make_schedule(optimizer, settings: StageSettings, total_steps: int):
    from transformers import get_scheduler

    return get_scheduler(settings.scheduler, optimizer, num_warmup_steps=math.ceil(settings.warmup_ratio * total_steps),
                         num_training_steps=total_steps)


class Preempted(RuntimeError):
    """SIGTERM (Slurm preemption or time limit) arrived; a checkpoint was saved at the step boundary."""


def process_group() -> tuple[int, int]:
    """(rank, world size). Several processes (one per GPU, started by `launch` or torchrun) join one group
    and split each step's batch; a single process trains alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def shard(model: torch.nn.Module, settings: StageSettings) -> None:
    """train.strategy fsdp: FSDP2 over every decoder layer and vision block (the model's `_no_split_modules`), then the
    whole model, so each process holds 1/world of the weights, gradients and AdamW state. Gradients are summed across
    processes (each process's loss is already divided by the global batch), in fp32 like the weights."""
    from torch.distributed.fsdp import FSDPModule, fully_shard

    if settings.lora.enabled:
        raise ConfigError("train.strategy fsdp with train.lora.enabled: LoRA's frozen base needs no sharding "
                          "(see python -m rankvideo.workflow.plan); set train.strategy: ddp for LoRA")
    blocks = set(getattr(model, "_no_split_modules", None) or ())
    for module in [m for m in model.modules() if type(m).__name__ in blocks]:
        fully_shard(module)
    fully_shard(model)
    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)
            module.set_force_sum_reduction_for_comms(True)  # a plain SUM: gloo (CPU) has no pre-multiplied sum


def sync_step(params: Sequence[torch.Tensor], sums: dict[str, float], stop: bool, sharded: bool) -> tuple[dict[str, float], bool]:
    """Sum the processes' gradients (each already divided by the global batch; under fsdp FSDP2 has reduced them),
    their logged losses and their stop flags, so every process takes the same optimizer step and stops at the same step."""
    import torch.distributed as dist

    for p in [] if sharded else params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, (sums, stop))
    total: dict[str, float] = {}
    for part, _ in gathered:
        for name, value in part.items():
            total[name] = total.get(name, 0.0) + value
    return total, any(flag for _, flag in gathered)


def launch(fn: Callable[..., Any], processes: int, *args: Any) -> Any:
    """Run `fn(*args)` in `processes` processes on this node (torchrun's standalone mode) and return
    rank 0's result; one process runs it in place."""
    if processes <= 1:
        return fn(*args)
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=processes, run_id=f"rankvideo-{os.getpid()}", rdzv_backend="c10d",
                          rdzv_endpoint="127.0.0.1:0", max_restarts=0, monitor_interval=1, start_method="spawn")
    return elastic_launch(config, fn)(*args)[0]


def processes_for(setting: int | str) -> int:
    """`auto`: one process per GPU the job sees, one on a CPU-only node."""
    return max(1, torch.cuda.device_count()) if setting == "auto" else int(setting)


def rank_items(batch: Sequence[Any], rank: int, world: int, sharded: bool) -> list[tuple[Any, float]]:
    """This process's share of a step's items, each with its weight in the loss. Under fsdp every process must run the
    same number of forwards (each gathers the weights from all), so a process short of items repeats one at weight 0."""
    mine = [(item, 1.0) for item in batch[rank::world]]
    if sharded:
        mine += [(batch[0], 0.0)] * (math.ceil(len(batch) / world) - len(mine))
    return mine


def run_loop(model, items_for_epoch: Callable[[int], Sequence[Any]], items_per_step: int,
             loss_fn: Callable[[Any], tuple[torch.Tensor, dict[str, float]]], settings: StageSettings, ckpt_root: Path) -> list[dict[str, Any]]:
    """Optimise `loss_fn` over epochs of items, resuming from the newest complete checkpoint.

    `items_per_step` is the global batch: with several processes each takes every world-th item of it,
    rank 0 alone writes checkpoints, and the others wait for it.
    """
    rank, world = process_group()
    sharded = world > 1 and settings.strategy == "fsdp"
    if items_per_step < world:
        log.warning("%d items per optimizer step over %d processes: %d of them run weight-0 forwards; raise the stage's batch "
                    "(train.stage1.batch_size, train.stage2.groups_per_step) to use every GPU", items_per_step, world, world - items_per_step)
    if sharded:
        shard(model, settings)
    steps_per_epoch = math.ceil(len(items_for_epoch(0)) / items_per_step)
    total = steps_per_epoch * settings.epochs
    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device
    optimizer = make_optimizer(params, settings)
    scheduler = make_schedule(optimizer, settings, total)
    state: dict[str, Any] = {"step": 0, "log": []}
    existing = complete_checkpoints(ckpt_root)
    if existing:
        state = load_checkpoint(existing[-1], model, optimizer, scheduler)
        log.info("resuming from %s (step %d of %d)", existing[-1], state["step"], total)
    else:
        torch.manual_seed(settings.seed)
    stop = {"flag": False}
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    try:
        from tqdm import tqdm

        with tqdm(total=total, initial=state["step"], desc="train", unit="step", disable=rank != 0) as bar:
            while state["step"] < total:
                epoch, index = divmod(state["step"], steps_per_epoch)
                batch = items_for_epoch(epoch)[index * items_per_step:(index + 1) * items_per_step]
                model.train()
                optimizer.zero_grad(set_to_none=True)
                sums: dict[str, float] = {}
                for item, weight in rank_items(batch, rank, world, sharded):
                    with compute_precision(settings, device):
                        loss, parts = loss_fn(item)
                    (loss * weight / len(batch)).backward()
                    for name, value in {"loss": float(loss.detach()), **parts}.items():
                        sums[name] = sums.get(name, 0.0) + weight * value / len(batch)
                if world > 1:
                    sums, stop["flag"] = sync_step(params, sums, stop["flag"], sharded)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                state["step"] += 1
                state["log"].append({"step": state["step"], "epoch": epoch, "lr": scheduler.get_last_lr()[0], **sums})
                bar.update(1)
                bar.set_postfix(loss=f"{sums['loss']:.4f}")
                if state["step"] % settings.checkpoint_every == 0 or state["step"] == total or stop["flag"]:
                    model_state, optimizer_state = full_model_state(model), full_optimizer_state(model, optimizer)
                    if rank == 0:
                        save_checkpoint(ckpt_root, state["step"], model_state, optimizer_state, scheduler, state)
                    if world > 1:
                        torch.distributed.barrier()
                if stop["flag"] and state["step"] < total:
                    raise Preempted(f"stopped by SIGTERM at step {state['step']} of {total}; rerun to resume")
    finally:
        signal.signal(signal.SIGTERM, previous)
    model.eval()
    return state["log"]


def train_and_save(backend: TransformersBackend, stage: int, model_path: str, for_epoch: Callable[[int], Sequence[Any]], per_step: int,
                   loss_fn: Callable, settings: StageSettings, ckpt_root: str | Path, out_dir: str | Path,
                   provenance: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The loop both stages share, then the model saved by rank 0 with the record of how it was trained."""
    if not for_epoch(0):
        raise ValueError(f"stage {stage}: no training examples")
    history = run_loop(backend.model, for_epoch, per_step, loss_fn, settings, Path(ckpt_root))
    weights = full_model_state(backend.model)
    if process_group()[0] == 0:
        save_trained(backend, model_path, Path(out_dir), {"stage": stage, "base_model": model_path, **(provenance or {})}, weights, settings.lora)
    return history



