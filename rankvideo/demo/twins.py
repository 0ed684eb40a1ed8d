"""Tiny twins of the models the paper config names, built offline: same classes, config fields, tokenizer and
processor kinds and safetensors layout as the real checkpoints, at a size that runs on CPU in seconds.

Every attention head is 64 wide, a size vLLM's CPU attention accepts (it refuses the demo's 16), so the same twin
runs on the transformers and the vLLM backends. Weights are random (seeded): a twin checks code paths and that the
backends agree, not what a model knows.
"""

from __future__ import annotations

from pathlib import Path

from rankvideo.demo.tiny import build_tiny_qwen3vl, build_tokenizer
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
    q/k/v biases, head_dim = hidden / heads (Qwen2Config has no head_dim field)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    config = Qwen2Config(**_text_config(tokenizer))
    return _save_causal_lm(Qwen2ForCausalLM(config), tokenizer, Path(out_dir), "rankvideo.demo.twins.build_qwen2_twin", seed)


def build_qwen3vl_twin(out_dir: str | Path, seed: int = 0) -> Path:
    """Qwen/Qwen3-VL-8B-Instruct's architecture (the rerankers QVL-I/T/R and the base RV-1/RV-2 train from)."""
    return build_tiny_qwen3vl(out_dir, seed=seed, head_dim=HEAD_DIM, max_positions=MAX_POSITIONS)


TWINS = {"qwen3": build_qwen3_twin, "qwen2": build_qwen2_twin, "qwen3vl": build_qwen3vl_twin}
