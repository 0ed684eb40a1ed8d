"""vLLM backend: upstream inference.py's engine (prefix caching, only the answer tokens' logprobs), pre-sampled frames.

Prompt text comes from rankvideo.models.prompts and frames from rankvideo.files.video, as in the transformers
backend; the engine runs in vLLM's own interpreter (rankvideo.models.vllm_engine). `video_input` and
`parse_answer_logprobs` are pure and unit-tested everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rankvideo.files.video import SampledVideo, VideoSettings
from rankvideo.models.prompts import ANSWER_PREFIX, AnswerIds, answer_ids, reasoning_prompt, render
from rankvideo.models.vllm_engine import VideoInput, VLLMProcess


def video_input(sampled: SampledVideo) -> VideoInput:
    """The sampled frames with the metadata Qwen3-VL needs for its timestamps, as qwen-vl-utils hands them to vLLM."""
    metadata = {"fps": sampled.info.fps, "frames_indices": list(sampled.indices), "total_num_frames": sampled.info.total_frames,
                "video_backend": "pyav"}
    return sampled.frames, metadata


def parse_answer_logprobs(logprobs: Mapping[int, float] | None, ids: AnswerIds) -> tuple[float, float] | str:
    """(yes, no) as logsumexp over the variants present, or the reason they cannot be read.

    vLLM may return fewer tokens than asked (Tevatron saw one of two under allowed_token_ids); a
    missing side is a failure, never a filled-in neutral value.
    """
    if not logprobs:
        return "vLLM returned no logprobs for the answer position"
    sides = []
    for name, side in (("yes", ids.yes), ("no", ids.no)):
        values = [logprobs[i] for i in side if i in logprobs and math.isfinite(logprobs[i])]
        if not values:
            return f"vLLM returned no logprob for any {name!r} token (ids {list(side)}); got ids {sorted(logprobs)[:10]}"
        peak = max(values)
        sides.append(peak + math.log(sum(math.exp(v - peak) for v in values)))
    return sides[0], sides[1]


class VLLMBackend:
    """Scores and generates on one decoded video at a time; the allowed-token mask keeps the logprobs of every
    answer variant, whose difference is the logit margin (the softmax normaliser cancels)."""

    def __init__(self, model_path: str, prompt_format: str, video: VideoSettings, cache_dir: str | None = None,
                 trust_remote_code: bool = False, max_model_len: int = 16384, gpu_memory_utilization: float = 0.9,
                 tensor_parallel_size: int = 1, max_reasoning_tokens: int = 0, dtype: str = "auto",
                 enable_prefix_caching: bool = True):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path, cache_dir=cache_dir, trust_remote_code=trust_remote_code)
        self.ids = answer_ids(self.tokenizer, prompt_format)
        self.prompt_format = prompt_format
        self.video = video
        self.engine = VLLMProcess(model=model_path, download_dir=cache_dir, trust_remote_code=trust_remote_code, dtype=dtype,
                                  enable_prefix_caching=enable_prefix_caching, max_model_len=max_model_len,
                                  gpu_memory_utilization=gpu_memory_utilization, tensor_parallel_size=tensor_parallel_size,
                                  limit_mm_per_prompt={"image": 0, "video": 1}, logprobs_mode="processed_logprobs")
        self.max_reasoning_tokens = max_reasoning_tokens

    def greedy_texts(self, items: Sequence[tuple[SampledVideo, str]], max_new_tokens: int) -> list[str]:
        """Greedy completions of (video, prompt holding it once) items in one engine call, decoded as the transformers
        backend decodes."""
        prompts, videos = [p for _, p in items], [video_input(s) for s, _ in items]
        ids = self.engine.generate_ids(prompts, {"max_tokens": max_new_tokens, "temperature": 0.0}, videos)
        return [self.tokenizer.decode(i, skip_special_tokens=True) for i in ids]

    def generate_text(self, sampled: SampledVideo, prompt: str, max_new_tokens: int) -> str:
        """Greedy completion of `prompt` (which holds the video once), e.g. a caption."""
        return self.greedy_texts([(sampled, prompt)], max_new_tokens)[0]

    def prompt_logprobs(self, sampled: SampledVideo, prompts: Sequence[str]) -> list[tuple[float, float] | str]:
        """(yes, no) at the end of each prompt (each holds the video once), or why they cannot be read."""
        video = video_input(sampled)
        logprobs = self.engine.answer_logprobs(prompts, [*self.ids.yes, *self.ids.no], [video] * len(prompts))
        return [parse_answer_logprobs(lp, self.ids) for lp in logprobs]

    def score_sampled(self, sampled: SampledVideo, queries: Sequence[str]) -> list[tuple[float, float] | str]:
        """(yes, no) of every query on one decoded video; a reasoning model first writes its reasoning for each
        query (up to `<answer>` or the token budget) and is scored after it, as on the transformers backend."""
        if not self.max_reasoning_tokens:
            return self.prompt_logprobs(sampled, [render(self.prompt_format, q) for q in queries])
        prompts = [reasoning_prompt(q) for q in queries]
        thoughts = self.greedy_texts([(sampled, p) for p in prompts], self.max_reasoning_tokens)
        return self.prompt_logprobs(sampled, [p + t.split(ANSWER_PREFIX)[0] + ANSWER_PREFIX for p, t in zip(prompts, thoughts)])
