"""The paper models' tiny twins have the real models' classes, and heads vLLM's CPU attention accepts."""

import json

import pytest

from rankvideo.demo.twins import HEAD_DIM, TWINS

ARCHITECTURES = {  # config.yaml's model -> the class its checkpoint's config.json names
    "qwen3vl": ("Qwen3VLForConditionalGeneration", "Qwen/Qwen3-VL-8B-Instruct"),
    "qwen3": ("Qwen3ForCausalLM", "Qwen/Qwen3-32B"),
    "qwen2": ("Qwen2ForCausalLM", "liuwenhan/reasonrank-32B"),
    "qwen3-omni": ("Qwen3OmniMoeForConditionalGeneration", "Qwen/Qwen3-Omni-30B-A3B-Instruct"),
}


def text_config(config: dict) -> dict:
    return config.get("thinker_config", config).get("text_config", config)


@pytest.mark.parametrize("twin", sorted(TWINS))
def test_each_twin_has_its_models_class_safetensors_and_64_wide_heads(twin, tmp_path):
    out = TWINS[twin](tmp_path / twin, seed=0)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == [ARCHITECTURES[twin][0]]
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    text = text_config(config)
    head_dim = text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"]
    assert head_dim == HEAD_DIM
    assert (out / "tokenizer_config.json").is_file()


def test_the_qwen3_omni_twin_is_a_mixture_of_experts_with_both_towers(tmp_path):
    config = json.loads((TWINS["qwen3-omni"](tmp_path / "omni", seed=0) / "config.json").read_text())
    thinker = config["thinker_config"]
    assert config["enable_audio_output"] is False  # thinker only: vLLM serves it as Qwen3-Omni's thinker
    assert thinker["text_config"]["num_experts"] > thinker["text_config"]["num_experts_per_tok"] > 1
    assert {"vision_config", "audio_config"} <= set(thinker)
    vision = thinker["vision_config"]
    assert vision["image_size"] // vision["patch_size"] == vision["num_position_embeddings"] ** 0.5


def test_the_teacher_twins_margins_span_the_paper_thresholds(tmp_path):
    """alpha1 = -6 and alpha2 = -8 must select pairs on the twin, as on ReasonRank-32B's margins."""
    from rankvideo.models.textllm import TextLLM

    llm = TextLLM(str(TWINS["qwen2"](tmp_path / "qwen2", seed=0)), device="cpu")
    prompts = [llm.chat_prompt("Judge relevance.", f"Query: {q}. Video: {v}.") + "<answer>"
               for q in ("a red ball", "flood warning", "a city at night", "library") for v in ("a ball bouncing", "rain on a river")]
    deltas = [m.delta for m in llm.margins(prompts)]
    assert min(deltas) < -6 and max(deltas) > 0
