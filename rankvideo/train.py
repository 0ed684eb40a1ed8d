"""Training (paper §4): the resumable loop both stages share, and Stage 1 caption SFT (Stage 2: rankvideo.stage2).

Both stages score through the inference code (rankvideo.prompts, TransformersBackend.pair_logits),
so a trained model is scored exactly as it was trained. Checkpoints hold weights, optimizer,
scheduler, RNG and data position; a restarted job resumes from the last complete one and ends with
the weights of an uninterrupted run. A checkpoint is complete only once its marker is written and
its folder renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from rankvideo.backends.transformers_backend import TransformersBackend
from rankvideo.fsutil import atomic_write_text
from rankvideo.prompts import caption_target, render_caption
from rankvideo.tiny import MODEL_CARD, write_model_card
from rankvideo.video import VideoSettings, configured_video

log = logging.getLogger(__name__)
COMPLETE = "COMPLETE"


@dataclass(frozen=True)
class TrainSettings:
    lr: float
    scheduler: str
    warmup_ratio: float
    optimizer: str
    batch_size: int
    epochs: int
    checkpoint_every: int = 50
    seed: int = 0
    lora: Mapping[str, Any] = field(default_factory=lambda: {"enabled": False})


# --- checkpoints -----------------------------------------------------------------------------

def complete_checkpoints(root: Path) -> list[Path]:
    done = [p for p in root.glob("step-*") if (p / COMPLETE).is_file() and p.name.split("-")[1].isdigit()]
    return sorted(done, key=lambda p: int(p.name.split("-")[1]))


def save_checkpoint(root: Path, step: int, model, optimizer, scheduler, state: Mapping[str, Any], keep: int = 2) -> Path:
    """Write into a temp folder, mark it complete, then rename it into place; old checkpoints pruned."""
    final, tmp = root / f"step-{step}", root / f".step-{step}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate()}}, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps(state))
    (tmp / COMPLETE).write_text("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in complete_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model, optimizer, scheduler) -> dict[str, Any]:
    from safetensors.torch import load_file

    model.load_state_dict(load_file(path / "model.safetensors"))
    trainer = torch.load(path / "trainer.pt", weights_only=False)
    optimizer.load_state_dict(trainer["optimizer"])
    scheduler.load_state_dict(trainer["scheduler"])
    torch.set_rng_state(trainer["rng"]["torch"])
    random.setstate(trainer["rng"]["python"])
    return json.loads((path / "state.json").read_text())


# --- the loop --------------------------------------------------------------------------------

def make_schedule(optimizer, settings: TrainSettings, total_steps: int):
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


def sync_step(params: Sequence[torch.Tensor], sums: dict[str, float], stop: bool) -> tuple[dict[str, float], bool]:
    """Sum the processes' gradients (each already divided by the global batch), their logged losses and
    their stop flags, so every process takes the same optimizer step and stops at the same step."""
    import torch.distributed as dist

    for p in params:
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


def run_loop(model, items_for_epoch: Callable[[int], Sequence[Any]], items_per_step: int,
             loss_fn: Callable[[Any], tuple[torch.Tensor, dict[str, float]]], settings: TrainSettings, ckpt_root: Path) -> list[dict[str, Any]]:
    """Optimise `loss_fn` over epochs of items, resuming from the newest complete checkpoint.

    `items_per_step` is the global batch: with several processes each takes every world-th item of it,
    rank 0 alone writes checkpoints, and the others wait for it.
    """
    rank, world = process_group()
    steps_per_epoch = math.ceil(len(items_for_epoch(0)) / items_per_step)
    total = steps_per_epoch * settings.epochs
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr)
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
                for item in batch[rank::world]:
                    loss, parts = loss_fn(item)
                    (loss / len(batch)).backward()
                    for name, value in {"loss": float(loss.detach()), **parts}.items():
                        sums[name] = sums.get(name, 0.0) + value / len(batch)
                if world > 1:
                    sums, stop["flag"] = sync_step(params, sums, stop["flag"])
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                state["step"] += 1
                state["log"].append({"step": state["step"], "epoch": epoch, "lr": scheduler.get_last_lr()[0], **sums})
                bar.update(1)
                bar.set_postfix(loss=f"{sums['loss']:.4f}")
                if state["step"] % settings.checkpoint_every == 0 or state["step"] == total or stop["flag"]:
                    if rank == 0:
                        save_checkpoint(ckpt_root, state["step"], model, optimizer, scheduler, state)
                    if world > 1:
                        torch.distributed.barrier()
                if stop["flag"] and state["step"] < total:
                    raise Preempted(f"stopped by SIGTERM at step {state['step']} of {total}; rerun to resume")
    finally:
        signal.signal(signal.SIGTERM, previous)
    model.eval()
    return state["log"]


# --- stages ----------------------------------------------------------------------------------

def load_backend(model_path: str, video: VideoSettings, settings: TrainSettings) -> TransformersBackend:
    """The inference backend in `paper` format, its model ready for training (LoRA when configured)."""
    backend = TransformersBackend(model_path, "paper", video)
    if settings.lora.get("enabled"):
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=settings.lora["r"], lora_alpha=settings.lora["alpha"], lora_dropout=settings.lora["dropout"],
                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
        backend.model.requires_grad_(False)  # only the adapters train: vision tower and lm_head stay as they are
        backend.model.model.language_model = get_peft_model(backend.model.model.language_model, config)
    if backend.device.startswith("cuda"):
        backend.model.gradient_checkpointing_enable()
    return backend


def save_trained(backend: TransformersBackend, out_dir: Path, provenance: Mapping[str, Any]) -> None:
    """Full safetensors weights (LoRA merged), the processor, and the record of how to score the model."""
    language_model = backend.model.model.language_model
    if hasattr(language_model, "merge_and_unload"):
        backend.model.model.language_model = language_model.merge_and_unload()
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    backend.model.save_pretrained(tmp, safe_serialization=True)
    backend.processor.save_pretrained(tmp)
    write_model_card(tmp, "paper", dict(provenance))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)


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


def train_stage1(model_path: str, rows: Sequence[Mapping[str, Any]], out_dir: str | Path, ckpt_root: str | Path,
                 settings: TrainSettings, video: VideoSettings, provenance: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Stage 1 (perception SFT) from `model_path`; saves the model to `out_dir`, returns the per-step log."""
    backend = load_backend(model_path, video, settings)
    sample = lru_cache(maxsize=512)(video.sample)
    items = list(rows)

    def for_epoch(epoch: int) -> list[Mapping[str, Any]]:
        order = list(items)
        random.Random(f"{settings.seed}:epoch:{epoch}").shuffle(order)
        return order

    def loss_fn(row):
        loss = caption_example_loss(backend, sample(row["videos"][0]), row["caption"])
        return loss, {"caption": float(loss.detach())}

    return train_and_save(backend, 1, model_path, for_epoch, settings.batch_size, loss_fn, settings, ckpt_root, out_dir, provenance)


def train_and_save(backend: TransformersBackend, stage: int, model_path: str, for_epoch: Callable[[int], Sequence[Any]], per_step: int,
                   loss_fn: Callable, settings: TrainSettings, ckpt_root: str | Path, out_dir: str | Path,
                   provenance: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The loop both stages share, then the model saved by rank 0 with the record of how it was trained."""
    if not for_epoch(0):
        raise ValueError(f"stage {stage}: no training examples")
    history = run_loop(backend.model, for_epoch, per_step, loss_fn, settings, Path(ckpt_root))
    if process_group()[0] == 0:
        save_trained(backend, Path(out_dir), {"stage": stage, "base_model": model_path, **(provenance or {})})
    return history


def model_identity(model: str) -> str:
    """A starting model as checkpoints see it: its name or path, and the record of how it was trained when it
    has one, so a retrained Stage 1 at the same path never resumes a Stage 2 that started from the old weights."""
    card = Path(model) / MODEL_CARD
    return model + ("\n" + card.read_text() if card.is_file() else "")


def checkpoint_key(data: str | Path, settings: Mapping[str, Any], video: Mapping[str, Any], code: str, base: str) -> tuple[str, str]:
    """(data sha256, key): checkpoints are only resumed by a run with identical data, settings, code and starting model."""
    data_hash = hashlib.sha256(Path(data).read_bytes()).hexdigest()
    key = hashlib.sha256(json.dumps([data_hash, dict(settings), dict(video), code, model_identity(base)], sort_keys=True).encode()).hexdigest()[:16]
    return data_hash, key


def settings_for(stage: int, settings: Mapping[str, Any], video: Mapping[str, Any]) -> tuple[TrainSettings, VideoSettings]:
    """The rule's params as the trainer's settings; the stage picks its frame budget (paper: 32 / 24)."""
    s = settings
    return (TrainSettings(s["lr"], s["scheduler"], s["warmup_ratio"], s["optimizer"], s["batch_size"], s["epochs"],
                          s["checkpoint_every"], s["seed"], s["lora"]),
            configured_video(video, stage))


def write_history(history: Sequence[Mapping[str, Any]], jsonl: str | Path, plot: str | Path, title: str) -> None:
    """The per-step log as JSONL and a plot of every loss component against the step."""
    atomic_write_text(jsonl, "".join(json.dumps(row) + "\n" for row in history))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history[0] if k not in ("step", "epoch", "lr")]
    steps = [r["step"] for r in history]
    window = max(1, len(history) // 20)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for name in names:
        values = [r[name] for r in history]
        line, = ax.plot(steps, values, linewidth=0.6, alpha=0.3)
        smooth = [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1]) for i in range(len(values))]
        ax.plot(steps, smooth, color=line.get_color(), linewidth=1.8, label=f"{name} (mean of last {window} steps)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (per step: faint; running mean: bold)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = Path(plot).with_name(Path(plot).stem + ".partial.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(plot)
