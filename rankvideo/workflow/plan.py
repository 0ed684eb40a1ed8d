"""`python -m rankvideo.workflow.plan`: the memory plan of every GPU job, per GPU: the configured training for each
strategy, and each inference job at its GPUs.

Reads the config as the workflow does (config.yaml, then any overlays), finds each model's config.json (its folder, the
hub cache, or the copy shipped in rankvideo/models/configs) and prints rankvideo.train.memory's table for Stage 1 and
Stage 2 at the job's GPU count, then rankvideo.workflow.inference's table of the inference jobs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rankvideo.cli import UsageError, run_cli
from rankvideo.files.errors import ConfigError
from rankvideo.files.video import configured_video
from rankvideo.models.architecture import find_config
from rankvideo.train.memory import cached_count, configured_strategy, count_model, fitting, plan, plan_markdown
from rankvideo.workflow.config import load_config
from rankvideo.workflow.inference import gpu_jobs, inference_plans, plan_table, refusal

TRAIN_GPUS = 8  # GPUs of each training job (rules/train.smk resources; paper §5: 8x A100-80GB)


def check_training_fits(config: Mapping[str, Any], gpus: int, cache_dir: Path) -> str | None:
    """Refuse a training config whose plan exceeds train.gpu_memory_gb, naming the numbers and what would fit; None
    when the base model's config.json cannot be found yet (a model this workflow builds: checked once it exists)."""
    train, base = config["train"], config["models"]["base"]
    try:
        count = cached_count(find_config(base), cache_dir)
    except UsageError:
        return f"memory plan not checked: no config.json for {base} yet"
    strategy = configured_strategy(train["strategy"], train["lora"])
    for stage, candidates in ((1, 1), (2, 1 + train["stage2"]["negatives"])):
        rows = plan(count, configured_video(config["video"], stage), gpus, train["lora"]["r"], candidates)
        if rows[strategy]["total"] > train["gpu_memory_gb"]:
            fits = {name: round(rows[name]["total"], 1) for name in fitting(rows, train["gpu_memory_gb"])}
            raise ConfigError(f"train: Stage {stage} with {strategy} needs {rows[strategy]['total']:.1f} GB per GPU on {gpus} GPUs "
                              f"({base}, {count.params / 1e9:.2f}B parameters), over train.gpu_memory_gb {train['gpu_memory_gb']:g}; "
                              f"these fit (GB per GPU): {fits or 'none'} (ddp/fsdp: train.strategy; lora: train.lora.enabled; qlora: "
                              "train.lora.enabled and load_in_4bit); see python -m rankvideo.workflow.plan")
    return None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rankvideo.workflow.plan", description=__doc__.splitlines()[0])
    p.add_argument("--config", nargs="+", default=["config.yaml"], help="config.yaml, then overlays (as --configfile)")
    p.add_argument("--gpus", type=int, default=TRAIN_GPUS, help=f"GPUs of the training job (default {TRAIN_GPUS}, as rules/train.smk)")
    p.add_argument("--cache", type=Path, default=Path(".snakemake/rankvideo"), help="where model counts are remembered (the workflow's)")
    return p


def show_inference(config: Mapping[str, Any], cache_dir: Path) -> int:
    """The inference jobs' table, and why any cannot run as configured; 1 when one cannot."""
    inference = config["inference"]
    plans = inference_plans(config, cache_dir)
    print(f"Inference, GB per GPU (vLLM jobs may fill gpu_memory_gb {inference['gpu_memory_gb']:g} x gpu_memory_utilization "
          f"{inference['gpu_memory_utilization']:g}; KV holds one max_model_len request):\n")
    print(plan_table(plans, inference))
    unplanned = sorted({j.name for j in gpu_jobs(config)} - {p.job.name for p in plans})
    if unplanned:
        print(f"not planned until their models are built (no config.json yet): {', '.join(unplanned)}")
    for p in plans:
        skipped = ", ".join(f"{name} {n / 1e9:.2f}B" for name, n in p.served.skipped.items())
        if skipped:
            print(f"{p.job.name}: not served: {skipped}")
    problems = [r for r in (refusal(p, inference) for p in plans) if r]
    for problem in problems:
        print(f"refused: {problem}")
    return 1 if problems else 0


def show_plan(args: argparse.Namespace) -> int:
    config = load_config(*args.config)
    train, base = config["train"], config["models"]["base"]
    limit = train["gpu_memory_gb"]
    count = count_model(find_config(base))
    print(f"{base}: {count.params / 1e9:.3f}B parameters ({', '.join(f'{d} {n / 1e9:.3f}B' for d, n in count.by_dtype.items())}); "
          f"LoRA r={train['lora']['r']} adds {count.lora_params * train['lora']['r'] / 1e6:.1f}M")
    for stage, candidates in ((1, 1), (2, 1 + train["stage2"]["negatives"])):
        rows = plan(count, configured_video(config["video"], stage), args.gpus, train["lora"]["r"], candidates)
        print(plan_markdown(rows, limit, f"Stage {stage}, {args.gpus} GPUs, {candidates} candidate(s) per step held at once:"))
        print(f"fits in train.gpu_memory_gb = {limit:g}: {', '.join(fitting(rows, limit)) or 'none'}\n")
    return show_inference(config, args.cache)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(show_plan, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
