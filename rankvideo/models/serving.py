"""How an inference engine serves one job: the settings the workflow's memory plan decides (rankvideo.workflow.inference)
and the vLLM backends take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineSettings:
    """vLLM's engine arguments of one job (inference block of config.yaml)."""

    max_model_len: int  # tokens per sequence: prompt, video and generated
    gpu_memory_utilization: float  # vLLM's share of each GPU
    tensor_parallel_size: int  # the job's GPUs
