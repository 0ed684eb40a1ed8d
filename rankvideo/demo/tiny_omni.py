"""A tiny OmniEmbed built offline by the package: the demo's and the tests' twin of Tevatron/OmniEmbed-v0.1-multivent.

Same classes as the real encoder (Qwen2_5OmniThinkerForConditionalGeneration, Qwen2Tokenizer with Qwen's
pre-tokenizer and the Omni special tokens, Qwen2_5OmniProcessor with Qwen2-VL's image and video processors and
Whisper's feature extractor, the Qwen2.5-Omni chat template) at a 2-layer, 64-wide size, and a LoRA adapter saved
under transformers 4.x's module names, as the released adapter is, so loading it runs the same key renaming.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankvideo.demo.tiny import PRETOKENIZE_REGEX, _training_text

OMNI_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>",
                       "<|vision_bos|>", "<|vision_eos|>", "<|vision_pad|>", "<|IMAGE|>", "<|VIDEO|>")
# Qwen/Qwen2.5-Omni-7B's chat template (as transformers' Qwen2.5-Omni processor tests carry it): a default system
# turn, then text, image, audio and video items in message order.
OMNI_CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant."
    "<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_bos|><|IMAGE|><|vision_eos|>{% elif content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}"
    "{% set audio_count.value = audio_count.value + 1 %}{% if add_audio_id %}Audio {{ audio_count.value }}: {% endif %}"
    "<|audio_bos|><|AUDIO|><|audio_eos|>{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_bos|><|VIDEO|><|vision_eos|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ADAPTER_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # Tevatron's training targets
# transformers 5.x module names -> the 4.x names the released adapter was saved under (peft's `base_model.model.` prefix)
V5_TO_V4 = (("base_model.model.model.language_model.", "base_model.model.model."),
            ("base_model.model.model.audio_tower.", "base_model.model.audio_tower."),
            ("base_model.model.model.visual.", "base_model.model.visual."))


OMNI_NAMED_TOKENS = {"image_token": "<|IMAGE|>", "audio_token": "<|AUDIO|>", "video_token": "<|VIDEO|>",
                     "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>", "audio_bos_token": "<|audio_bos|>",
                     "audio_eos_token": "<|audio_eos|>"}


def build_omni_tokenizer(special_tokens: tuple[str, ...] = OMNI_SPECIAL_TOKENS, named: dict[str, str] | None = None):
    """A byte-level BPE with Qwen's pre-tokenizer and an Omni model's special tokens (Qwen2.5-Omni's by default), each
    multimodal one under the name its processor reads, trained on the demo's text."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator([*_training_text(), "Query: ", "You are a helpful assistant."], trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    return Qwen2Tokenizer(vocab=state["vocab"], merges=merges, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None,
                          extra_special_tokens=named or OMNI_NAMED_TOKENS)


def build_omni_processor(tokenizer):
    from transformers import Qwen2_5OmniProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor, WhisperFeatureExtractor

    features = WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, hop_length=160, chunk_length=300, n_fft=400)
    return Qwen2_5OmniProcessor(image_processor=Qwen2VLImageProcessor(), video_processor=Qwen2VLVideoProcessor(),
                                feature_extractor=features, tokenizer=tokenizer, chat_template=OMNI_CHAT_TEMPLATE)


def build_omni_config(tokenizer):
    from transformers import Qwen2_5OmniThinkerConfig

    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in (
        ("audio_token_index", "<|AUDIO|>"), ("image_token_index", "<|IMAGE|>"), ("video_token_index", "<|VIDEO|>"),
        ("audio_start_token_id", "<|audio_bos|>"), ("audio_end_token_id", "<|audio_eos|>"),
        ("vision_start_token_id", "<|vision_bos|>"), ("vision_end_token_id", "<|vision_eos|>"))}
    text = {"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}}
    vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64, "fullatt_block_indexes": [1],
              "window_size": 112, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2}
    audio = {"encoder_layers": 2, "encoder_attention_heads": 2, "encoder_ffn_dim": 64, "d_model": 32, "output_dim": 64,
             "num_mel_bins": 128, "n_window": 100, "max_source_positions": 1500}
    return Qwen2_5OmniThinkerConfig(text_config=text, vision_config=vision, audio_config=audio, **ids)


def save_v4_adapter(model, out_dir: Path, r: int, alpha: int, seed: int) -> None:
    """A LoRA adapter on Tevatron's target modules with random A and B (a zero B would make it a no-op), saved with
    4.x module names and peft's adapter_config.json."""
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save_file

    torch.manual_seed(seed + 1)
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, target_modules=list(ADAPTER_TARGETS), task_type="FEATURE_EXTRACTION"))
    for name, param in peft_model.named_parameters():
        if "lora_" in name:
            torch.nn.init.normal_(param, std=0.05)
    state = {}
    for key, tensor in get_peft_model_state_dict(peft_model).items():
        for new, old in V5_TO_V4:
            if key.startswith(new):
                key = old + key[len(new):]
                break
        state[key] = tensor.contiguous()
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, out_dir / "adapter_model.safetensors")
    peft_model.peft_config["default"].save_pretrained(str(out_dir))


def build_tiny_omniembed(out_dir: str | Path, seed: int = 0) -> Path:
    """Build and save `out_dir/thinker` (model + processor, safetensors) and `out_dir/adapter` (LoRA, 4.x names)."""
    import torch
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    tokenizer = build_omni_tokenizer()
    model = Qwen2_5OmniThinkerForConditionalGeneration(build_omni_config(tokenizer)).eval()
    model.save_pretrained(out_dir / "thinker", safe_serialization=True)
    build_omni_processor(tokenizer).save_pretrained(out_dir / "thinker")
    save_v4_adapter(model, out_dir / "adapter", r=4, alpha=16, seed=seed)
    return out_dir
