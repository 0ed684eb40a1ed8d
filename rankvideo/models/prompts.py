"""The one prompt module: training and inference render prompts and read scores through it.

Upstream's worst defect was a trainer that prompted and scored differently from its inference code
(../shared/UPSTREAM.md). Two named formats exist:

- `upstream`: exactly upstream's inference.py (query before the video; score at the first assistant
  position as logsumexp over the yes-variants minus logsumexp over the no-variants; its frames,
  rankvideo.files.video.UPSTREAM_VIDEO), so the released hltcoe/RankVideo weights score as their authors
  scored them.
- `paper`: the video before the query, the assistant turn forced to begin with `<answer>`, score =
  logit("yes") - logit("no") at that position (paper eq. 2). The system prompt and the video are a
  query-independent prefix, so its KV cache serves every query of the video.
- `qwen3-vl-reranker`: the Qwen3-Reranker template (instruction, query, then the video as the
  document; empty think block) for the QVL-R baseline; score = logit("yes") - logit("no") at the end.

A reasoning model (QVL-T) uses the `paper` prompt without the forced `<answer>`: it writes its
reasoning first and the score is read after the `<answer>` that follows it (`reasoning_prompt`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FORMATS = ("upstream", "paper", "qwen3-vl-reranker")
VIDEO_PLACEHOLDER = "<|vision_start|><|video_pad|><|vision_end|>"
SYSTEM_UPSTREAM = (
    "You are a helpful assistant specialized in video and text understanding. Given a text query and a video, "
    "your task is to determine if the video is relevant to the query. Respond with <answer>yes</answer> if the "
    "video is relevant, or <answer>no</answer> if it is not. "
)
USER_UPSTREAM = "Query: {query}\nIs the video relevant to the query? Respond with <answer>yes</answer> or <answer>no</answer>."
# Paper Figure 12 (Stage 2; the same text as Figure 13 for QVL-I/T): upstream's words without the trailing space.
SYSTEM_PAPER = SYSTEM_UPSTREAM.rstrip()
USER_PAPER = USER_UPSTREAM
ANSWER_PREFIX = "<answer>"
# The Qwen3-Reranker template (Qwen3-VL-Reranker's text counterpart), with the video as the document.
SYSTEM_QWEN_RERANKER = ('Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
                        'Note that the answer can only be "yes" or "no".')
USER_QWEN_RERANKER = "<Instruct>: Given a search query, retrieve relevant videos that answer the query\n<Query>: {query}\n<Document>: "
# Paper Figure 11 (Stage 1 perception SFT): the target is `<think>{caption}</think>`.
SYSTEM_CAPTION = ("You are a helpful assistant specialized in video and text understanding. Given a video, your task is to "
                  "produce an accurate caption. Respond within <think></think>")
USER_CAPTION = "Caption this video. Respond within <think></think>."


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown prompt format {fmt!r}; expected one of {FORMATS}")
    return fmt


def _turn(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}<|im_end|>\n"


def shared_prefix(fmt: str) -> str | None:
    """The query-independent start of every prompt, video included; None where the query comes first."""
    if check_format(fmt) != "paper":
        return None
    return _turn("system", SYSTEM_PAPER) + "<|im_start|>user\n" + VIDEO_PLACEHOLDER


def render(fmt: str, query: str) -> str:
    """The full prompt text in Qwen's chat format, ending where the score is read."""
    if check_format(fmt) == "upstream":
        user = USER_UPSTREAM.format(query=query) + VIDEO_PLACEHOLDER
        return _turn("system", SYSTEM_UPSTREAM) + _turn("user", user) + "<|im_start|>assistant\n"
    if fmt == "qwen3-vl-reranker":
        user = USER_QWEN_RERANKER.format(query=query) + VIDEO_PLACEHOLDER
        return _turn("system", SYSTEM_QWEN_RERANKER) + _turn("user", user) + "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    return shared_prefix(fmt) + USER_PAPER.format(query=query) + "<|im_end|>\n<|im_start|>assistant\n" + ANSWER_PREFIX


def reasoning_prompt(query: str) -> str:
    """The `paper` prompt left open for a reasoning model to think before it answers."""
    return render("paper", query).removesuffix(ANSWER_PREFIX)


def query_suffix(fmt: str, query: str) -> str:
    """What follows the shared prefix for one query (paper format only)."""
    prefix = shared_prefix(fmt)
    if prefix is None:
        raise ValueError(f"prompt format {fmt!r} has no query-independent prefix")
    return render(fmt, query)[len(prefix):]


def render_caption() -> str:
    """Stage 1 prompt (paper Figure 11): video first, then the instruction; the caption follows.

    A captioner that hears the video's audio (Qwen3-Omni, `use_audio_in_video`) gets the same text: as in Qwen3-Omni's
    chat template, the audio of a video is no item of its own; the processor expands the video's one placeholder into
    <|vision_start|><|audio_start|> frames and audio interleaved by time <|audio_end|><|vision_end|>."""
    return _turn("system", SYSTEM_CAPTION) + _turn("user", VIDEO_PLACEHOLDER + USER_CAPTION) + "<|im_start|>assistant\n"


def caption_target(caption: str) -> str:
    return f"<think>{caption}</think><|im_end|>"


@dataclass(frozen=True)
class AnswerIds:
    yes: tuple[int, ...]
    no: tuple[int, ...]


def answer_ids(tokenizer, fmt: str) -> AnswerIds:
    """Token ids whose logits make the score.

    `paper`, `qwen3-vl-reranker`: the single tokens "yes" and "no" (asserted to be single tokens).
    `upstream`: every vocabulary entry that lower-cases to "yes" / "no" once stripped, as upstream's
    allowed_token_ids.
    """
    if check_format(fmt) != "upstream":
        ids = []
        for word in ("yes", "no"):
            encoded = tokenizer.encode(word, add_special_tokens=False)
            if len(encoded) != 1:
                raise ValueError(f"the tokenizer splits {word!r} into {len(encoded)} tokens; the paper score needs one")
            ids.append(encoded[0])
        return AnswerIds((ids[0],), (ids[1],))
    variants: dict[str, list[int]] = {"yes": [], "no": []}
    for token_id in range(len(tokenizer)):
        text = tokenizer.decode([token_id]).strip().lower()
        if text in variants:
            variants[text].append(token_id)
    if not variants["yes"] or not variants["no"]:
        raise ValueError("the tokenizer has no 'yes' or no 'no' token")
    return AnswerIds(tuple(variants["yes"]), tuple(variants["no"]))


def log_sigmoid(x: float) -> float:
    """log(sigmoid(x)) without overflow: -softplus(-x)."""
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def sigmoid(x: float) -> float:
    """p_yes = sigmoid(logit(yes) - logit(no)), overflow-safe for large margins of either sign."""
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
