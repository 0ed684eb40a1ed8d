"""vLLM backend for the cluster: pre-sampled frames, prefix caching, only the answer tokens' logprobs.

Prompt text comes from rankvideo.models.prompts and frames from rankvideo.files.video, as in the transformers
backend. vLLM is CUDA-only; `build_request` and `parse_answer_logprobs` are pure and unit-tested
everywhere, the end-to-end test runs where vllm and a GPU exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rankvideo.files.video import SampledVideo, VideoSettings
from rankvideo.models.prompts import AnswerIds, answer_ids, render


def build_request(prompt: str, sampled: SampledVideo) -> dict[str, Any]:
    """One vLLM request: the prompt and the already-sampled frames with the metadata Qwen3-VL needs
    for its timestamps (as qwen-vl-utils hands them to vLLM)."""
    import torch

    frames = torch.from_numpy(sampled.frames).permute(0, 3, 1, 2)  # (T, C, H, W), as qwen-vl-utils returns
    metadata = {"fps": sampled.info.fps, "frames_indices": list(sampled.indices), "total_num_frames": sampled.info.total_frames,
                "video_backend": "pyav"}
    return {"prompt": prompt, "multi_modal_data": {"video": [(frames, metadata)]},
            "mm_processor_kwargs": {"do_sample_frames": False, "do_resize": False}}


def _logprob(value: Any) -> float:
    return float(getattr(value, "logprob", value))


def parse_answer_logprobs(logprobs: Mapping[int, Any] | None, ids: AnswerIds) -> tuple[float, float] | str:
    """(yes, no) as logsumexp over the variants present, or the reason they cannot be read.

    vLLM may return fewer tokens than asked (Tevatron saw one of two under allowed_token_ids); a
    missing side is a failure, never a filled-in neutral value.
    """
    if not logprobs:
        return "vLLM returned no logprobs for the answer position"
    sides = []
    for name, side in (("yes", ids.yes), ("no", ids.no)):
        values = [_logprob(logprobs[i]) for i in side if i in logprobs and math.isfinite(_logprob(logprobs[i]))]
        if not values:
            return f"vLLM returned no logprob for any {name!r} token (ids {list(side)}); got ids {sorted(logprobs)[:10]}"
        peak = max(values)
        sides.append(peak + math.log(sum(math.exp(v - peak) for v in values)))
    return sides[0], sides[1]


class VLLMBackend:
    def __init__(self, model_path: str, prompt_format: str, video: VideoSettings, cache_dir: str | None = None,
                 trust_remote_code: bool = False, max_model_len: int = 16384, gpu_memory_utilization: float = 0.9,
                 tensor_parallel_size: int = 1, max_reasoning_tokens: int = 0):
        from vllm import LLM, SamplingParams

        if max_reasoning_tokens:
            raise NotImplementedError("reasoning rerankers (QVL-T) run on the transformers backend; the vLLM backend scores directly")
        self.llm = LLM(model=model_path, download_dir=cache_dir, trust_remote_code=trust_remote_code,
                       enable_prefix_caching=True, max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization,
                       tensor_parallel_size=tensor_parallel_size, limit_mm_per_prompt={"image": 0, "video": 1},
                       logprobs_mode="processed_logprobs")
        self.prompt_format = prompt_format
        self.video = video
        self.ids = answer_ids(self.llm.get_tokenizer(), prompt_format)
        allowed = [*self.ids.yes, *self.ids.no]
        # Logprobs after the allowed-token mask, for every allowed token: both sides are always asked for.
        self.params = SamplingParams(max_tokens=1, temperature=0.0, allowed_token_ids=allowed, logprobs=len(allowed))

    def generate_text(self, sampled: SampledVideo, prompt: str, max_new_tokens: int) -> str:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=max_new_tokens, temperature=0.0)
        return self.llm.generate([build_request(prompt, sampled)], params, use_tqdm=False)[0].outputs[0].text

    def score_sampled(self, sampled: SampledVideo, queries: Sequence[str]) -> list[tuple[float, float] | str]:
        requests = [build_request(render(self.prompt_format, q), sampled) for q in queries]
        outputs = self.llm.generate(requests, self.params, use_tqdm=False)
        return [parse_answer_logprobs(out.outputs[0].logprobs[0] if out.outputs[0].logprobs else None, self.ids) for out in outputs]
