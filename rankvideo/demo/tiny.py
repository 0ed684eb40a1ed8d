"""A tiny Qwen3-VL built offline by the package: the demo's and the tests' model, no hub involved.

Same classes as the real Qwen3-VL-8B (Qwen3VLForConditionalGeneration, Qwen2Tokenizer with Qwen's
pre-tokenizer, Qwen3VLProcessor), at a size that trains on CPU in minutes: a 2-layer, 64-wide
text model and a depth-2, 32-wide vision tower (patch 16, temporal patch 2, spatial merge 2).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rankvideo.models.model_card import write_model_card
from rankvideo.models.prompts import SYSTEM_PAPER, SYSTEM_UPSTREAM, USER_PAPER, USER_UPSTREAM

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|video_pad|>", "<|image_pad|>")
PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Qwen's chat template, reduced to what the pipeline uses: text and video content, generation prompt.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>{% elif item['type'] == 'text' %}"
    "{{ item['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TINY_PROMPT_FORMAT = "paper"


def _training_text() -> list[str]:
    """A few KB of text: the prompts, the demo's topics, and yes/no as words of their own."""
    from rankvideo.demo.topics import GENERIC_DESCRIPTIONS, GENERIC_SPEECH, TOPICS

    prompts = [SYSTEM_UPSTREAM, SYSTEM_PAPER, USER_UPSTREAM, USER_PAPER]
    # No merge may glue "yes"/"no" to the ">" of "<answer>": the answer must stay one token of its own.
    lines = [p.replace("<answer>yes</answer>", "").replace("<answer>no</answer>", "") for p in prompts]
    lines += ["Caption this video.", "<think>", "</think>", "<answer>", "</answer>"]
    for topic in TOPICS:
        lines += [*topic.queries, *topic.evidence, *topic.descriptions]
    lines += [*GENERIC_SPEECH, *GENERIC_DESCRIPTIONS]
    lines += ["A red ball, a blue square, a green triangle and yellow circles move on a dark background."] * 3
    lines += ["yes", "no", "Yes", "No"] * 50
    return lines


WORD_VOCAB = 4096  # more than the training text's distinct words and their merges (about 1,200 entries are used)


def prompt_words_text() -> list[str]:
    """The demo's queries as prompts hold them ("Query: ...", so the first word follows a space) and the chat roles:
    with WORD_VOCAB entries, every word of a prompt becomes one token, as under Qwen's 151,936-entry vocabulary."""
    from rankvideo.demo.topics import TOPICS

    return [f"Query: {q}" for topic in TOPICS for q in topic.queries] + ["system", "user", "assistant"]


def build_tokenizer(vocab_size: int = 600, extra_text: Sequence[str] = ()):
    """A byte-level BPE with Qwen's pre-tokenizer and special tokens, trained on `_training_text` and `extra_text`.

    600 entries keep the tiny models' embeddings small and split many words; WORD_VOCAB with prompt_words_text
    keeps each prompt word one token."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator([*_training_text(), *extra_text], trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    tokenizer = Qwen2Tokenizer(vocab=state["vocab"], merges=[tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]],
                               eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None)
    tokenizer.add_special_tokens({"additional_special_tokens": [t for t in SPECIAL_TOKENS if t != "<|endoftext|>"]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    # Qwen3-VL's preprocessor_config: mean = std = 0.5 for images and videos alike (vLLM normalises video frames
    # with the image processor's values, so a mismatch here would make the two backends see different pixels).
    common = {"patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
    size = {"shortest_edge": 64 * 64, "longest_edge": 256 * 256}
    return Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(size=size, **common), tokenizer=tokenizer,
                            video_processor=Qwen3VLVideoProcessor(size=size, **common), chat_template=CHAT_TEMPLATE)


def build_config(tokenizer, head_dim: int = 16, max_positions: int = 4096):
    """The demo's sizes; `head_dim` 64 and a longer context make the twin vLLM's CPU attention accepts."""
    from transformers import Qwen3VLConfig

    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    heads = 64 // head_dim
    mrope = [head_dim // 4, head_dim // 8, head_dim // 8]  # (t, h, w) halves of the rotary dims, in Qwen3-VL's 2:1:1 ratio
    text = {"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": heads, "num_key_value_heads": max(1, heads // 2), "head_dim": head_dim,
            "max_position_embeddings": max_positions,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope, "mrope_interleaved": True},
            "pad_token_id": tokenizer.pad_token_id}
    vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
              "patch_size": 16, "temporal_patch_size": 2, "spatial_merge_size": 2, "num_position_embeddings": 256,
              "deepstack_visual_indexes": [0]}
    return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **ids)


def build_tiny_qwen3vl(out_dir: str | Path, seed: int = 0, head_dim: int = 16, max_positions: int = 4096) -> Path:
    """Build, initialise from `seed` and save (safetensors) the tiny model with its processor."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    model = Qwen3VLForConditionalGeneration(build_config(tokenizer, head_dim, max_positions)).eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    build_processor(tokenizer).save_pretrained(out_dir)
    write_model_card(out_dir, TINY_PROMPT_FORMAT, {"built_by": "rankvideo.demo.tiny.build_tiny_qwen3vl", "seed": seed})
    return out_dir



