"""Tiny twins of the models the paper config names, built offline: same classes, config fields, tokenizer and
processor kinds and safetensors layout as the real checkpoints, at a size that runs on CPU in seconds.

Every text attention head is 64 wide, a size vLLM's CPU attention accepts (it refuses the demo's 16; vision towers
run on torch SDPA, which takes any), so the same twin runs on the transformers and the vLLM backends. Weights are random (seeded): a twin checks code paths and that the
backends agree, not what a model knows.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankvideo.demo.tiny import TINY_PROMPT_FORMAT, build_processor, build_tiny_qwen3vl, build_tokenizer
from rankvideo.models.model_card import write_model_card

HEAD_DIM = 64  # vLLM's CPU attention: head sizes 32, 64, 80, ...; not 16
MAX_POSITIONS = 32768  # the vLLM backends' max_model_len (16384 for video rerankers, 32768 for text LLMs)


def _text_config(tokenizer) -> dict:
    """The fields the Qwen2 and Qwen3 causal LMs share, at the twins' size."""
    return {"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 1, "num_key_value_heads": 1, "max_position_embeddings": MAX_POSITIONS,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}, "tie_word_embeddings": False,
            "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>")}


def _save_causal_lm(model, tokenizer, out_dir: Path, built_by: str, seed: int) -> Path:
    model.eval().save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    write_model_card(out_dir, "paper", {"built_by": built_by, "seed": seed})
    return out_dir


def build_qwen3_twin(out_dir: str | Path, seed: int = 0) -> Path:
    """Qwen/Qwen3-32B's architecture (the query writer): Qwen3ForCausalLM, q/k norms, head_dim a field of its own."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    config = Qwen3Config(**_text_config(tokenizer), head_dim=HEAD_DIM, attention_bias=False)
    return _save_causal_lm(Qwen3ForCausalLM(config), tokenizer, Path(out_dir), "rankvideo.demo.twins.build_qwen3_twin", seed)


def build_qwen2_twin(out_dir: str | Path, seed: int = 0) -> Path:
    """liuwenhan/reasonrank-32B's architecture (the teacher; Qwen2.5-32B-Instruct fine-tuned): Qwen2ForCausalLM,
    q/k/v biases, head_dim = hidden / heads (Qwen2Config has no head_dim field).

    Its weights are drawn wide (std 0.5, output layer 1.5; not 0.02): the teacher's yes/no margins then differ
    between inputs by tens of logits as a trained teacher's do, so the paper's partition thresholds (alpha1 -6,
    alpha2 -8) sort pairs on the twin too."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    model = Qwen2ForCausalLM(Qwen2Config(**_text_config(tokenizer)))
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if weight.dim() > 1:
                weight.normal_(0.0, 1.5 if name == "lm_head.weight" else 0.5)
    return _save_causal_lm(model, tokenizer, Path(out_dir), "rankvideo.demo.twins.build_qwen2_twin", seed)


def build_qwen3vl_twin(out_dir: str | Path, seed: int = 0) -> Path:
    """Qwen/Qwen3-VL-8B-Instruct's architecture (the rerankers QVL-I/T/R and the base RV-1/RV-2 train from)."""
    return build_tiny_qwen3vl(out_dir, seed=seed, head_dim=HEAD_DIM, max_positions=MAX_POSITIONS)


def cut_deepstack(indexes: list[int], depth: int, cut_depth: int) -> list[int]:
    """Qwen3-VL's deepstack taps (vision layers whose output also feeds the decoder) in a tower cut to `cut_depth`
    layers: each tap at its relative depth, taps that land on one layer kept once ([8, 16, 24] of 27 -> [0, 1] of 2)."""
    return sorted({i * cut_depth // depth for i in indexes})


def build_width_true_twin(config_json: str | Path, out_dir: str | Path, layers: int = 2, vision_depth: int = 2,
                          seed: int = 0, tokenizer=None) -> Path:
    """A Qwen3-VL checkpoint's widths at a few layers, for measuring what a GPU engine holds per layer and per token.

    Every width of `config_json` (a Qwen3-VL config.json, e.g. rankvideo.models.architecture.shipped_config(
    "Qwen/Qwen3-VL-8B-Instruct")) is kept: hidden size, attention and KV heads, head_dim, MLP width, rotary
    settings, the vision tower's width, heads, MLP, patching and merge. Only the depths are cut (`layers` decoder
    layers, `vision_depth` vision layers, deepstack taps moved to fit) and the vocabulary is the twins' small
    tokenizer's (or `tokenizer`, one of rankvideo.demo.tiny.build_tokenizer's), so the embedding and output layer are
    small. Weights are random (seeded) and saved in bf16 safetensors with the tiny model's processor (same patching as
    Qwen3-VL) and a model card."""
    import torch
    import transformers

    raw = json.loads(Path(config_json).read_text())
    if not raw.get("model_type", "").startswith("qwen3_vl"):
        raise ValueError(f"{config_json} is a {raw.get('model_type')!r} config: the width-true twin takes a Qwen3-VL one")
    out_dir = Path(out_dir)
    tokenizer = build_tokenizer() if tokenizer is None else tokenizer
    token = tokenizer.convert_tokens_to_ids
    vision = raw["vision_config"]
    text = {**raw["text_config"], "num_hidden_layers": layers, "vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": token("<|endoftext|>"), "eos_token_id": token("<|im_end|>")}
    cut = {**vision, "depth": vision_depth,
           "deepstack_visual_indexes": cut_deepstack(vision["deepstack_visual_indexes"], vision["depth"], vision_depth)}
    ids = {"image_token_id": token("<|image_pad|>"), "video_token_id": token("<|video_pad|>"),
           "vision_start_token_id": token("<|vision_start|>"), "vision_end_token_id": token("<|vision_end|>")}
    config = transformers.AutoConfig.for_model(**{**raw, "text_config": text, "vision_config": cut, **ids})
    torch.manual_seed(seed)
    model = getattr(transformers, raw["architectures"][0])._from_config(config, dtype=torch.bfloat16).eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    build_processor(tokenizer).save_pretrained(out_dir)
    write_model_card(out_dir, TINY_PROMPT_FORMAT, {"built_by": "rankvideo.demo.twins.build_width_true_twin", "seed": seed,
                                                   "widths_of": Path(config_json).name, "layers": layers, "vision_depth": vision_depth,
                                                   "vocab_size": len(tokenizer)})
    return out_dir




def build_throughput_twin(out_dir: str | Path, layers: int, vision_depth: int) -> Path:
    """bench/rerank_throughput.py's model: Qwen3-VL-8B-Instruct's widths at `layers` and `vision_depth`, with a
    vocabulary that keeps every prompt word one token (WORD_VOCAB, prompt_words_text), so a prompt's shared and
    per-query parts are as many tokens as under Qwen's tokenizer and the shared-prefix speedup is the real prompt's."""
    from rankvideo.demo.tiny import WORD_VOCAB, prompt_words_text
    from rankvideo.models.architecture import shipped_config

    return build_width_true_twin(shipped_config("Qwen/Qwen3-VL-8B-Instruct"), out_dir, layers=layers, vision_depth=vision_depth,
                                 tokenizer=build_tokenizer(WORD_VOCAB, prompt_words_text()))


QWEN3_OMNI_TOKENS = {"audio_token": "<|audio_pad|>", "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>",
                     "image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
                     "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>"}
# Qwen3-Omni's chat template, reduced to what captioning uses: text, video and audio items, generation prompt.
QWEN3_OMNI_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>{% elif item['type'] == 'audio' %}"
    "<|audio_start|><|audio_pad|><|audio_end|>{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}"
    "{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _qwen3_omni_tokenizer():
    """The twins' BPE with Qwen3-Omni's special tokens, each multimodal one under the name its processor reads."""
    from rankvideo.demo.tiny_omni import build_omni_tokenizer

    tokenizer = build_omni_tokenizer(("<|endoftext|>", "<|im_start|>", "<|im_end|>", *QWEN3_OMNI_TOKENS.values()), QWEN3_OMNI_TOKENS)
    tokenizer.chat_template = QWEN3_OMNI_TEMPLATE
    return tokenizer


def _tiny_talker(thinker_hidden: int) -> tuple[dict, dict]:
    """The talker's and code2wav's configs at the twins' size: the speaking parts the released checkpoint holds beside
    the thinker (its MoE talker, code predictor and vocoder), which a caption never runs."""
    small = {"hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 1, "num_key_value_heads": 1,
             "head_dim": 32, "vocab_size": 64}
    talker = {"text_config": {**small, "num_experts": 2, "num_experts_per_tok": 1, "moe_intermediate_size": 16,
                              "shared_expert_intermediate_size": 16},
              "code_predictor_config": {**small, "num_code_groups": 2}, "num_code_groups": 2, "thinker_hidden_size": thinker_hidden,
              "accept_hidden_layer": 1, "spatial_merge_size": 2}
    code2wav = {"codebook_size": 64, "hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 1,
                "num_key_value_heads": 1, "num_quantizers": 2, "upsample_rates": [2, 2], "upsampling_ratios": [2], "decoder_dim": 32}
    return talker, code2wav


def build_qwen3_omni_twin(out_dir: str | Path, seed: int = 0, talker: bool = False) -> Path:
    """Qwen/Qwen3-Omni-30B-A3B-Instruct's architecture (the captioner): the top-level Qwen3OmniMoeForConditionalGeneration
    (vLLM serves that class as the thinker), a mixture-of-experts text model, a vision tower and an audio tower,
    Qwen3-Omni's processor (Qwen2-VL image and video processors, Whisper features). `talker`: with a tiny talker and
    code2wav saved beside the thinker, as the released checkpoint is (enable_audio_output); off, the checkpoint holds the
    thinker alone."""
    import torch
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        Qwen3OmniMoeConfig,
        Qwen3OmniMoeForConditionalGeneration,
        Qwen3OmniMoeProcessor,
        WhisperFeatureExtractor,
    )

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    tokenizer = _qwen3_omni_tokenizer()
    token = tokenizer.convert_tokens_to_ids
    ids = {"audio_token_id": token("<|audio_pad|>"), "image_token_id": token("<|image_pad|>"), "video_token_id": token("<|video_pad|>"),
           "audio_start_token_id": token("<|audio_start|>"), "audio_end_token_id": token("<|audio_end|>"),
           "vision_start_token_id": token("<|vision_start|>"), "vision_end_token_id": token("<|vision_end|>")}
    text = {"vocab_size": len(tokenizer), "hidden_size": 128, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": HEAD_DIM, "num_experts": 4, "num_experts_per_tok": 2,
            "moe_intermediate_size": 32, "norm_topk_prob": True, "max_position_embeddings": MAX_POSITIONS, "tie_word_embeddings": False,
            "pad_token_id": tokenizer.pad_token_id, "eos_token_id": token("<|im_end|>"),
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 8, 8], "interleaved": True,
                                "mrope_interleaved": True}}
    vision = {"depth": 2, "hidden_size": 64, "intermediate_size": 64, "num_heads": 1, "out_hidden_size": 128, "patch_size": 16,
              "temporal_patch_size": 2, "spatial_merge_size": 2, "num_position_embeddings": 256, "deepstack_visual_indexes": [0],
              "image_size": 256, "apply_vit_abs_pos_embed": True}  # real config fields vLLM reads (real image_size: 768 = 48 x 16)
    audio = {"encoder_layers": 2, "encoder_attention_heads": 1, "encoder_ffn_dim": 64, "d_model": 64, "output_dim": 128,
             "num_mel_bins": 128, "downsample_hidden_size": 16, "n_window": 50, "n_window_infer": 800, "max_source_positions": 1500}
    thinker = {"text_config": text, "vision_config": vision, "audio_config": audio, "user_token_id": tokenizer.encode("user")[0],  # read by the talker only
               "position_id_per_seconds": 13, "seconds_per_chunk": 2, **ids}
    talker_config, code2wav_config = _tiny_talker(text["hidden_size"]) if talker else (None, None)
    config = Qwen3OmniMoeConfig(thinker_config=thinker, talker_config=talker_config, code2wav_config=code2wav_config,
                                enable_audio_output=talker, im_start_token_id=token("<|im_start|>"), im_end_token_id=token("<|im_end|>"))
    Qwen3OmniMoeForConditionalGeneration(config).eval().save_pretrained(out_dir, safe_serialization=True)
    common = {"patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
    size = {"shortest_edge": 64 * 64, "longest_edge": 256 * 256}
    features = WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, hop_length=160, chunk_length=30, n_fft=400)
    Qwen3OmniMoeProcessor(image_processor=Qwen2VLImageProcessor(size=size, **common), video_processor=Qwen2VLVideoProcessor(size=size, **common),
                          feature_extractor=features, tokenizer=tokenizer, chat_template=QWEN3_OMNI_TEMPLATE).save_pretrained(out_dir)
    write_model_card(out_dir, "paper", {"built_by": "rankvideo.demo.twins.build_qwen3_omni_twin", "seed": seed, "talker": talker})
    return out_dir


TWINS = {"qwen3vl": build_qwen3vl_twin, "qwen3": build_qwen3_twin, "qwen2": build_qwen2_twin, "qwen3-omni": build_qwen3_omni_twin}
