"""Transformers backend: decode each video once, run its vision tower once, score all its queries.

`upstream` format (query before video): the vision features are computed once and reused by a
batch of full prompts. `paper` format (video first): the system prompt and video tokens are a
shared prefix; its KV cache is computed once and every query is scored as a batch of suffixes on
top of it. Both give the scores of one-pair-per-forward within float tolerance (tested).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rankvideo.files.video import SampledVideo, VideoSettings
from rankvideo.models.prompts import (
    ANSWER_PREFIX,
    VIDEO_PLACEHOLDER,
    AnswerIds,
    answer_ids,
    query_suffix,
    reasoning_prompt,
    render,
    shared_prefix,
)

log = logging.getLogger(__name__)


def yes_no_logits(logits: torch.Tensor, ids: AnswerIds) -> tuple[torch.Tensor, torch.Tensor]:
    """(yes, no) logits at the decision position; logsumexp over variants when there are several.

    logsumexp(yes) - logsumexp(no) equals upstream's log-prob difference: the softmax normaliser cancels.
    """
    yes = torch.logsumexp(logits[..., list(ids.yes)].float(), dim=-1)
    no = torch.logsumexp(logits[..., list(ids.no)].float(), dim=-1)
    return yes, no


@dataclass
class EncodedVideo:
    """A video made ready once: its expanded token ids, grid and vision-tower output."""

    token_ids: list[int]
    grid_thw: torch.Tensor
    vision: object  # BaseModelOutputWithDeepstackFeatures
    prefix_cache: object | None = field(default=None)  # paper format: KV cache of the shared prefix
    prefix_ids: list[int] = field(default_factory=list)


def video_metadata(sampled: SampledVideo):
    from transformers.video_utils import VideoMetadata

    info = sampled.info
    return VideoMetadata(total_num_frames=info.total_frames, fps=info.fps, frames_indices=list(sampled.indices),
                         duration=info.duration, width=info.width, height=info.height)


def processor_inputs(processor, prompt: str, sampled: SampledVideo):
    """One prompt holding the video, encoded by the processor from the frames as rankvideo sampled them."""
    return processor(text=[prompt], videos=[sampled.frames], video_metadata=[video_metadata(sampled)], do_resize=False,
                     do_sample_frames=False, cap_pixels_per_frame=True, return_tensors="pt")


class TransformersBackend:
    def __init__(self, model_path: str, prompt_format: str, video: VideoSettings, device: str | None = None,
                 dtype: torch.dtype | None = None, batch_size: int = 16, cache_dir: str | None = None,
                 trust_remote_code: bool = False, max_reasoning_tokens: int = 0, quantization: Any | None = None):
        """`quantization`: a transformers quantization config (QLoRA training's 4-bit base); such a model is placed on the
        device as it loads."""
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = dtype or (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        self.processor = AutoProcessor.from_pretrained(model_path, cache_dir=cache_dir, trust_remote_code=trust_remote_code)
        model = AutoModelForImageTextToText.from_pretrained(
            model_path, cache_dir=cache_dir, dtype=self.dtype, use_safetensors=True, trust_remote_code=trust_remote_code,
            quantization_config=quantization, device_map=self.device if quantization is not None else None)
        self.model = (model if quantization is not None else model.to(self.device)).eval()
        log.info("backend transformers: %s on %s in %s", model_path, self.device, self.dtype)
        self.tokenizer = self.processor.tokenizer
        self.prompt_format = prompt_format
        self.video = video
        self.batch_size = batch_size
        self.ids: AnswerIds = answer_ids(self.tokenizer, prompt_format)
        self.max_reasoning_tokens = max_reasoning_tokens

    # --- inputs ------------------------------------------------------------------------------

    def model_inputs(self, prompt: str, sampled: SampledVideo) -> dict:
        """One prompt holding the video, encoded by the processor and placed on the model's device and dtype."""
        inputs = processor_inputs(self.processor, prompt, sampled).to(self.device)
        inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(self.dtype)
        return inputs

    def _text_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    def prompt_ids(self, query: str, video_ids: list[int]) -> list[int]:
        """Token ids of one query's prompt with the video's expanded tokens spliced in.

        The placeholder starts and ends with special tokens, so tokenizing around it is exact.
        """
        before, after = render(self.prompt_format, query).split(VIDEO_PLACEHOLDER)
        return self._text_ids(before) + video_ids + self._text_ids(after)

    @torch.no_grad()
    def encode_video(self, sampled: SampledVideo) -> EncodedVideo:
        inputs = self.model_inputs(VIDEO_PLACEHOLDER, sampled)
        grid = inputs["video_grid_thw"]
        vision = self.model.model.get_video_features(inputs["pixel_values_videos"], grid, return_dict=True)
        encoded = EncodedVideo(inputs["input_ids"][0].tolist(), grid, vision)
        prefix = shared_prefix(self.prompt_format)
        if prefix is not None:
            encoded.prefix_ids = self._text_ids(prefix.split(VIDEO_PLACEHOLDER)[0]) + encoded.token_ids
            ids = torch.tensor([encoded.prefix_ids], device=self.device)
            out = self.model.model(input_ids=ids, mm_token_type_ids=self._mm_types(ids), video_grid_thw=grid,
                                   mm_encoder_outputs={"video": vision}, use_cache=True)
            encoded.prefix_cache = out.past_key_values
        return encoded

    def _mm_types(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.processor.create_mm_token_type_ids(ids.tolist()), device=ids.device)

    def _pad(self, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Right padding: with causal attention the real tokens never see the pads."""
        lengths = [len(s) for s in sequences]
        width = max(lengths)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences], device=self.device)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences], device=self.device)
        return ids, mask, lengths

    # --- scoring -----------------------------------------------------------------------------

    def score_sampled(self, sampled: SampledVideo, queries: Sequence[str]) -> list[tuple[float, float]]:
        """(yes, no) logits of every query on one decoded video: encode once, then score (a reasoning
        model first writes its reasoning for each query, then is scored after it)."""
        if self.max_reasoning_tokens:
            return [self.reasoned_logits(sampled, q) for q in queries]
        return self.score_encoded(self.encode_video(sampled), queries)

    @torch.no_grad()
    def reasoned_logits(self, sampled: SampledVideo, query: str) -> tuple[float, float]:
        """QVL-T: generate reasoning up to `<answer>` (or the token budget), then read yes/no after `<answer>`."""
        prompt = reasoning_prompt(query)
        thought = self.generate_text(sampled, prompt, self.max_reasoning_tokens).split(ANSWER_PREFIX)[0]
        yes, no = self.prompt_logits(sampled, prompt + thought + ANSWER_PREFIX)
        return float(yes), float(no)

    @torch.no_grad()
    def score_encoded(self, encoded: EncodedVideo, queries: Sequence[str]) -> list[tuple[float, float]]:
        """(yes, no) logits of every query on one encoded video, in batches."""
        scores: list[tuple[float, float]] = []
        for start in range(0, len(queries), self.batch_size):
            batch = list(queries[start:start + self.batch_size])
            if encoded.prefix_cache is None:
                logits = self._full_prompts(encoded, batch)
            else:
                logits = self._suffixes(encoded, batch)
            yes, no = yes_no_logits(logits, self.ids)
            scores += list(zip(yes.tolist(), no.tolist()))
        return scores

    def _full_prompts(self, encoded: EncodedVideo, queries: list[str]) -> torch.Tensor:
        n = len(queries)
        ids, mask, lengths = self._pad([self.prompt_ids(q, encoded.token_ids) for q in queries])
        vision = copy.copy(encoded.vision)
        vision.pooler_output = tuple(encoded.vision.pooler_output) * n
        vision.deepstack_features = [tuple(f) * n for f in encoded.vision.deepstack_features]
        out = self.model.model(input_ids=ids, attention_mask=mask, mm_token_type_ids=self._mm_types(ids),
                               video_grid_thw=encoded.grid_thw.repeat(n, 1), mm_encoder_outputs={"video": vision})
        return self._decision_logits(out.last_hidden_state, lengths)

    def _decision_logits(self, hidden: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        """Vocabulary logits at each sequence's last real token only (not at every position of the batch)."""
        rows = torch.arange(len(lengths), device=hidden.device)
        return self.model.lm_head(hidden[rows, torch.tensor(lengths, device=hidden.device) - 1])

    def _suffixes(self, encoded: EncodedVideo, queries: list[str]) -> torch.Tensor:
        n, prefix_len = len(queries), len(encoded.prefix_ids)
        suffix_ids, _, lengths = self._pad([self._text_ids(query_suffix(self.prompt_format, q)) for q in queries])
        full = torch.cat([torch.tensor([encoded.prefix_ids] * n, device=self.device), suffix_ids], dim=1)
        mask = torch.cat([torch.ones(n, prefix_len, dtype=torch.long, device=self.device),
                          (torch.arange(suffix_ids.shape[1], device=self.device)[None, :] < torch.tensor(lengths, device=self.device)[:, None]).long()], dim=1)
        positions, _ = self.model.model.get_rope_index(full, mm_token_type_ids=self._mm_types(full),
                                                      video_grid_thw=encoded.grid_thw.repeat(n, 1), attention_mask=mask)
        cache = copy.deepcopy(encoded.prefix_cache)
        cache.batch_repeat_interleave(n)
        out = self.model.model(input_ids=suffix_ids, attention_mask=mask, position_ids=positions[:, :, prefix_len:],
                               past_key_values=cache, use_cache=True)
        return self._decision_logits(out.last_hidden_state, lengths)

    @torch.no_grad()
    def generate_text(self, sampled: SampledVideo, prompt: str, max_new_tokens: int) -> str:
        """Greedy completion of `prompt` (which holds the video once), e.g. a caption."""
        inputs = self.model_inputs(prompt, sampled)
        out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        return self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def greedy_texts(self, items: Sequence[tuple[SampledVideo, str]], max_new_tokens: int) -> list[str]:
        """generate_text over (video, prompt) items, one at a time."""
        return [self.generate_text(sampled, prompt, max_new_tokens) for sampled, prompt in items]

    def prompt_logits(self, sampled: SampledVideo, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(yes, no) logits at the end of `prompt` (which holds the video once), in one differentiable forward."""
        inputs = self.model_inputs(prompt, sampled)
        logits = self.model(**inputs, logits_to_keep=1).logits[0, -1]
        return yes_no_logits(logits, self.ids)

    def pair_logits(self, sampled: SampledVideo, query: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(yes, no) logits of one pair in one forward: Stage 2 trains on exactly this."""
        return self.prompt_logits(sampled, render(self.prompt_format, query))

    @torch.no_grad()
    def score_naive(self, video_path: str | Path, query: str) -> tuple[float, float]:
        """Upstream's way: decode and encode the video for this one pair, one pair per forward."""
        yes, no = self.pair_logits(self.video.sample(video_path), query)
        return float(yes), float(no)
