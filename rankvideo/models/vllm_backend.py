"""vLLM backend: upstream inference.py's engine (prefix caching, only the answer tokens' logprobs), pre-sampled frames.

Prompt text comes from rankvideo.models.prompts and frames from rankvideo.files.video, as in the transformers
backend; the engine runs in vLLM's own interpreter (rankvideo.models.vllm_engine). `video_input`, `media_input` and
`parse_answer_logprobs` are pure and unit-tested everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from rankvideo.files.video import SampledVideo, VideoSettings
from rankvideo.models.prompts import ANSWER_PREFIX, AnswerIds, answer_ids, reasoning_prompt, render
from rankvideo.models.vllm_engine import MediaInput, VideoInput, VLLMProcess

FRAMES_AS_SAMPLED = {"do_sample_frames": False, "do_resize": False}  # the processor takes the frames as rankvideo sampled them


def video_input(sampled: SampledVideo) -> VideoInput:
    """The sampled frames with the metadata Qwen3-VL needs for its timestamps, as qwen-vl-utils hands them to vLLM."""
    metadata = {"fps": sampled.info.fps, "frames_indices": list(sampled.indices), "total_num_frames": sampled.info.total_frames,
                "video_backend": "pyav"}
    return sampled.frames, metadata


def media_input(sampled: SampledVideo, hears_audio: bool, audio: np.ndarray | None = None) -> MediaInput:
    """One prompt's video for the engine, and for a model that hears (Qwen3-Omni) the video's audio track: `audio` (mono
    samples at the feature extractor's rate) is heard with the video (`use_audio_in_video`: its tokens go inside the
    video's placeholder); None: frames alone.

    No frame rate is passed, as Qwen's own Qwen3-Omni examples pass none: the processor then places frame pairs 2 s
    apart (13 position ids a second, 26 a pair). A rate such as 0.84 frames a second would give 30.875 ids a pair,
    which transformers 5.23 keeps as a fractional rotary position and vLLM 0.32 truncates, and the backends disagree."""
    if audio is not None and not hears_audio:
        raise ValueError("this model has no audio tower: it cannot hear the video's audio track")
    heard = {"use_audio_in_video": audio is not None} if hears_audio else {}
    return {"video": video_input(sampled), "audio": audio, "processor": {**FRAMES_AS_SAMPLED, **heard}}


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
                 enable_prefix_caching: bool = True, hears_audio: bool = False, log_stats: bool = False):
        """`hears_audio`: the model has an audio tower (Qwen3-Omni's thinker), so a request may carry its video's audio.
        Such a model runs without vLLM 0.32's two caches, each wrong for audio heard with a video:
        - prefix caching keys a cached block inside a video's placeholder by the video alone, not by the audio
          interleaved there (`_gen_mm_extra_hash_keys`): the same frames with other audio reuse the first audio's KV
          (measured: the twin's caption with silence came back as its caption with the audio);
        - the multimodal processor cache drops an audio item it has seen before, and the request is refused ("Video
          doesn't have audio track"): measured on the demo videos whose speech repeats another's.
        Caption prompts share only the system prompt, and each video is captioned once, so neither cache saves work.
        `log_stats`: keep vLLM's statistics, so `engine.cache_counters()` can read its cache counters (benchmarks, tests);
        off, vLLM's default for offline engines, it logs no periodic throughput lines."""
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path, cache_dir=cache_dir, trust_remote_code=trust_remote_code)
        self.ids = answer_ids(self.tokenizer, prompt_format)
        self.prompt_format = prompt_format
        self.video = video
        self.hears_audio = hears_audio
        limits = {"image": 0, "video": 1, **({"audio": 1} if hears_audio else {})}
        uncached = {"mm_processor_cache_gb": 0} if hears_audio else {}
        self.engine = VLLMProcess(model=model_path, download_dir=cache_dir, trust_remote_code=trust_remote_code, dtype=dtype,
                                  enable_prefix_caching=enable_prefix_caching and not hears_audio, max_model_len=max_model_len,
                                  gpu_memory_utilization=gpu_memory_utilization, tensor_parallel_size=tensor_parallel_size,
                                  limit_mm_per_prompt=limits, logprobs_mode="processed_logprobs", disable_log_stats=not log_stats,
                                  **uncached)
        self.max_reasoning_tokens = max_reasoning_tokens

    def greedy_texts(self, items: Sequence[tuple[SampledVideo, str]], max_new_tokens: int,
                     audios: Sequence[np.ndarray | None] | None = None) -> list[str]:
        """Greedy completions of (video, prompt holding it once) items in one engine call, decoded as the transformers
        backend decodes; `audios`: each video's audio track (None: frames alone), for a model that hears."""
        prompts = [p for _, p in items]
        media = [media_input(s, self.hears_audio, a) for (s, _), a in zip(items, audios or [None] * len(items), strict=True)]
        ids = self.engine.generate_ids(prompts, {"max_tokens": max_new_tokens, "temperature": 0.0}, media)
        return [self.tokenizer.decode(i, skip_special_tokens=True) for i in ids]

    def generate_text(self, sampled: SampledVideo, prompt: str, max_new_tokens: int) -> str:
        """Greedy completion of `prompt` (which holds the video once), e.g. a caption."""
        return self.greedy_texts([(sampled, prompt)], max_new_tokens)[0]

    def prompt_logprobs(self, sampled: SampledVideo, prompts: Sequence[str]) -> list[tuple[float, float] | str]:
        """(yes, no) at the end of each prompt (each holds the video once), or why they cannot be read."""
        media = media_input(sampled, self.hears_audio)
        logprobs = self.engine.answer_logprobs(prompts, [*self.ids.yes, *self.ids.no], [media] * len(prompts))
        return [parse_answer_logprobs(lp, self.ids) for lp in logprobs]

    def score_sampled(self, sampled: SampledVideo, queries: Sequence[str]) -> list[tuple[float, float] | str]:
        """(yes, no) of every query on one decoded video; a reasoning model first writes its reasoning for each
        query (up to `<answer>` or the token budget) and is scored after it, as on the transformers backend."""
        if not self.max_reasoning_tokens:
            return self.prompt_logprobs(sampled, [render(self.prompt_format, q) for q in queries])
        prompts = [reasoning_prompt(q) for q in queries]
        thoughts = self.greedy_texts([(sampled, p) for p in prompts], self.max_reasoning_tokens)
        return self.prompt_logprobs(sampled, [p + t.split(ANSWER_PREFIX)[0] + ANSWER_PREFIX for p, t in zip(prompts, thoughts)])
