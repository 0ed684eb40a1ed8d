"""The inference memory plan: every GPU job of the workflow, the model it loads, and the GPUs it needs, before any is
asked for.

Per GPU, a vLLM job holds (GB = 1e9 bytes, as the training plan):
- weights: the served parameters in bf16, split over the tensor-parallel GPUs;
- activations: one forward over vLLM's batched tokens (A100 default for the offline engine, 8192), the widest
  per-layer buffers (a few hidden-state copies, the MLP's gate/up output of the active experts), split over the GPUs;
- a runtime allowance (CUDA context, CUDA graphs, NCCL buffers; the training plan's constant);
- the KV cache of at least one sequence of `max_model_len` tokens: vLLM refuses to start when it cannot hold one.
The first three must leave room for the fourth in `gpu_memory_gb * gpu_memory_utilization` (vLLM's share of each GPU).
Jobs on transformers or openai-whisper (ASR, OmniEmbed encoding) hold weights, activations and the allowance on one GPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankvideo.cli import UsageError
from rankvideo.files.errors import ConfigError
from rankvideo.files.video import UPSTREAM_VIDEO, VideoSettings, configured_video
from rankvideo.models.architecture import Served, cached_served, find_config
from rankvideo.models.serving import EngineSettings
from rankvideo.train.memory import GB, PROMPT_TOKENS, RUNTIME_OVERHEAD_GB
from rankvideo.workflow.config import built_here

BATCHED_TOKENS = 8192  # vLLM 0.32's max_num_batched_tokens for the offline LLM class on an A100 (arg_utils.py)
TENSOR_PARALLEL = (1, 2, 4, 8)  # the GPUs a job may ask for: one node's
VLLM_JOBS = ("extract_captions", "synthesize_queries", "judge", "rerank")  # the inference.max_model_len / inference.gpus keys


@dataclass(frozen=True)
class GpuJob:
    """One GPU rule (and, for rerank, one reranker) with what sizes it."""

    name: str  # the rule, and the reranker for rerank jobs
    key: str | None  # its inference.max_model_len / inference.gpus key; None: not served by vLLM
    model: str  # the model the job loads, as configured
    sized_by: str  # the model whose config.json sizes it: a reranker trained here is its base model's shape
    context: int  # tokens the job's requests need at least: prompt, video, generated


def video_tokens(video: VideoSettings, patching: Mapping[str, int]) -> int:
    """Language-model tokens of one video at the job's frames: one per merged patch of each temporal patch."""
    per_frame = video.max_pixels // patching["patch_size"] ** 2 // patching["spatial_merge_size"] ** 2
    return video.max_frames // patching["temporal_patch_size"] * per_frame


def sized_by(model: str, config: Mapping[str, Any]) -> str:
    """A reranker this workflow trains (RV-1, RV-2 and the ablations) has its base model's architecture."""
    trained = built_here(model) and Path(model).name.startswith("rv")
    return config["models"]["base"] if trained else model


def vllm_key(config: Mapping[str, Any], key: str) -> str | None:
    """`key` when its job is served by vLLM (the step's backend), else None."""
    backend = {"extract_captions": config["extract"]["caption_backend"], "synthesize_queries": config["synthesis"]["backend"],
               "judge": config["judge"]["backend"], "rerank": config["rerank"]["backend"]}[key]
    return key if backend == "vllm" else None


def gpu_jobs(config: Mapping[str, Any]) -> list[GpuJob]:
    """Every GPU job the config runs, with the least context its requests need beside any video (text jobs: the prompt's
    frame and the generated tokens; the evidence text is data, bounded only by max_model_len)."""
    models = config["models"]
    jobs = [GpuJob("extract_asr", None, models["asr"], models["asr"], 0),
            GpuJob("extract_captions", vllm_key(config, "extract_captions"), models["captioner"], models["captioner"],
                   PROMPT_TOKENS + config["extract"]["caption_max_tokens"]),
            GpuJob("synthesize_queries", vllm_key(config, "synthesize_queries"), models["query_writer"], models["query_writer"],
                   PROMPT_TOKENS + config["synthesis"]["max_new_tokens"]),
            GpuJob("judge", vllm_key(config, "judge"), models["teacher"], models["teacher"], PROMPT_TOKENS + config["judge"]["max_reasoning_tokens"] + 1)]
    stages = {config["first_stage"]["name"]: config["first_stage"], **config["other_first_stages"]}
    jobs += [GpuJob(f"encode_corpus, encode_queries {name}", None, spec["model"], spec["model"], config["omniembed"]["passage_max_len"])
             for name, spec in stages.items() if spec["backend"] == "omniembed"]
    for name, spec in config["rerankers"].items():
        generated = spec.get("max_reasoning_tokens", 0) + 1
        jobs.append(GpuJob(f"rerank {name}", vllm_key(config, "rerank"), spec["model"], sized_by(spec["model"], config), PROMPT_TOKENS + generated))
    return jobs


def job_video(job: GpuJob, config: Mapping[str, Any]) -> VideoSettings | None:
    """The frames a job's model sees: Stage 1's for captions, the reranker's prompt format's for a video reranker."""
    if job.name == "extract_captions":
        return configured_video(config["video"], 1)
    if job.name.startswith("rerank "):
        spec = config["rerankers"][job.name.removeprefix("rerank ")]
        if spec.get("kind", "video") == "video":
            return UPSTREAM_VIDEO if spec["prompt_format"] == "upstream" else configured_video(config["video"], 2)
    return None


def needed_context(job: GpuJob, served: Served, config: Mapping[str, Any]) -> int:
    video = job_video(job, config)
    return job.context + (video_tokens(video, served.vision) if video and served.vision else 0)


def per_gpu_gb(served: Served, tensor_parallel: int, max_model_len: int) -> dict[str, float]:
    """GB per GPU of a vLLM job (module docstring); `kv` holds one max_model_len sequence."""
    weights = 2 * served.params / tensor_parallel
    activations = 2 * BATCHED_TOKENS * (6 * served.hidden_size + 3 * served.ffn_width // tensor_parallel)
    kv = served.kv_bytes_per_token(tensor_parallel) * max_model_len
    return {"weights": weights / GB, "activations": activations / GB, "runtime": RUNTIME_OVERHEAD_GB, "kv": kv / GB}


@dataclass(frozen=True)
class JobPlan:
    job: GpuJob
    served: Served
    gpus: int
    max_model_len: int | None  # None: not a vLLM job
    context: int
    rows: dict[int, dict[str, float]]  # tensor-parallel size -> GB per GPU

    def total(self, gpus: int) -> float:
        return sum(self.rows[gpus].values())


def available_gb(inference: Mapping[str, Any], vllm: bool) -> float:
    """What a job may fill of each GPU: vLLM's share for a vLLM job, the whole GPU otherwise."""
    return inference["gpu_memory_gb"] * (inference["gpu_memory_utilization"] if vllm else 1.0)


def fitting_gpus(rows: Mapping[int, Mapping[str, float]], limit: float) -> int | None:
    return next((tp for tp, row in rows.items() if sum(row.values()) <= limit), None)


def plan_job(job: GpuJob, config: Mapping[str, Any], cache_dir: Path) -> JobPlan | None:
    """A job's plan, or None when its model's config.json is not there yet (a model this workflow builds)."""
    try:
        path = find_config(job.sized_by)
    except UsageError:
        return None
    served = cached_served(path, cache_dir)
    inference = config["inference"]
    context = needed_context(job, served, config)
    if job.key is None:
        return JobPlan(job, served, 1, None, context, {1: {**per_gpu_gb(served, 1, 0), "kv": 0.0}})
    length = inference["max_model_len"][job.key]
    rows = {tp: per_gpu_gb(served, tp, length) for tp in TENSOR_PARALLEL if served.attention_heads % tp == 0}
    configured = inference["gpus"][job.key]
    gpus = configured if configured != "auto" else fitting_gpus(rows, available_gb(inference, True)) or max(rows)
    return JobPlan(job, served, gpus, length, context, rows)


def refusal(plan: JobPlan, inference: Mapping[str, Any]) -> str | None:
    """Why a job cannot run as configured, naming the numbers and the setting that would; None when it fits."""
    job, vllm = plan.job, plan.max_model_len is not None
    if vllm and plan.max_model_len < plan.context:
        return (f"{job.name}: {job.model} needs {plan.context} tokens per request (prompt, video, generated) but "
                f"inference.max_model_len.{job.key} is {plan.max_model_len}: raise it to at least {plan.context}")
    limit = available_gb(inference, vllm)
    if plan.gpus not in plan.rows:
        return f"{job.name}: inference.gpus.{job.key} {plan.gpus} does not divide {job.model}'s {plan.served.attention_heads} attention heads; use one of {sorted(plan.rows)}"
    if plan.total(plan.gpus) <= limit:
        return None
    row = plan.rows[plan.gpus]
    parts = ", ".join(f"{k} {v:.1f}" for k, v in row.items())
    where = (f"gpu_memory_gb {inference['gpu_memory_gb']:g} x gpu_memory_utilization {inference['gpu_memory_utilization']:g}" if vllm
             else f"gpu_memory_gb {inference['gpu_memory_gb']:g}")
    fits = fitting_gpus(plan.rows, limit)
    fix = (f"it fits on {fits} GPUs (inference.gpus.{job.key}: {fits}, or auto)" if vllm and fits
           else "no tensor-parallel size fits: lower inference.max_model_len or use GPUs with more memory")
    length = f" at max_model_len {plan.max_model_len}" if vllm else ""
    return (f"{job.name}: {job.model} ({plan.served.params / 1e9:.2f}B served parameters) needs {plan.total(plan.gpus):.1f} GB per GPU "
            f"on {plan.gpus} GPU(s){length} ({parts}), over {limit:.1f} GB (inference.{where}); {fix}; "
            "see python -m rankvideo.workflow.plan")


def inference_plans(config: Mapping[str, Any], cache_dir: Path) -> list[JobPlan]:
    """The plan of every GPU job whose model's config.json is there (a model this workflow builds is planned once built)."""
    return [p for p in (plan_job(job, config, cache_dir) for job in gpu_jobs(config)) if p is not None]


def check_inference_fits(config: Mapping[str, Any], cache_dir: Path) -> None:
    """Refuse a config any of whose GPU jobs cannot run, as the DAG is parsed."""
    problems = [r for r in (refusal(p, config["inference"]) for p in inference_plans(config, cache_dir)) if r]
    if problems:
        raise ConfigError("; ".join(problems))


def job_gpus(config: Mapping[str, Any], key: str, model: str, cache_dir: Path) -> int:
    """The GPUs (tensor-parallel size) of the job `key` serving `model`: on vLLM the configured number, or under auto the
    fewest that fit; 1 on another backend, or for a model whose config.json is not there yet (one this workflow builds:
    the demo's)."""
    if vllm_key(config, key) is None:
        return 1
    configured = config["inference"]["gpus"][key]
    if configured != "auto":
        return configured
    plan = plan_job(GpuJob(key, key, model, sized_by(model, config), 0), config, cache_dir)
    return plan.gpus if plan else 1


def engine_settings(config: Mapping[str, Any], key: str, model: str, cache_dir: Path) -> EngineSettings:
    """How vLLM serves the job `key`: its context, its share of each GPU, and its GPUs as tensor-parallel ranks."""
    inference = config["inference"]
    return EngineSettings(inference["max_model_len"][key], inference["gpu_memory_utilization"], job_gpus(config, key, model, cache_dir))


def plan_table(plans: Sequence[JobPlan], inference: Mapping[str, Any]) -> str:
    """Markdown: one row per GPU job at its planned GPUs, with its total on one GPU beside it."""
    lines = ["| job | model | served params | GPUs | max_model_len | needs tokens | weights GB | activations GB | runtime GB | "
             "KV GB | KV per token per GPU | total GB per GPU | may use GB | total on 1 GPU |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for plan in plans:
        row, vllm = plan.rows[plan.gpus], plan.max_model_len is not None
        served = f"{plan.served.kv_bytes_per_token(plan.gpus) / 1024:.0f} KiB | " if vllm else "- | "
        lines.append(f"| {plan.job.name} | {plan.job.model} | {plan.served.params / 1e9:.2f}B | {plan.gpus} | "
                     f"{plan.max_model_len or '-'} | {plan.context if vllm else '-'} | {row['weights']:.1f} | {row['activations']:.1f} | "
                     f"{row['runtime']:.1f} | {row['kv']:.1f} | {served}{plan.total(plan.gpus):.1f} | {available_gb(inference, vllm):.1f} | "
                     f"{plan.total(1):.1f} |")
    return "\n".join(lines) + "\n"
