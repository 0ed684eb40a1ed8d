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


def test_the_top_level_qwen3_omni_loads_its_thinker_on_transformers_and_logs_the_skipped_talker(tmp_path, caplog):
    """The released checkpoint's layout (thinker + talker + code2wav): the thinker alone loads, with the checkpoint's own
    weights (not a random initialisation), and the talker's and code2wav's keys are counted and named in the log."""
    import torch
    from transformers import Qwen3OmniMoeForConditionalGeneration

    from rankvideo.models.omni_thinker import checkpoint_keys, load_thinker

    twin = TWINS["qwen3-omni"](tmp_path / "omni", seed=0, talker=True)
    assert json.loads((twin / "config.json").read_text())["enable_audio_output"] is True
    keys = checkpoint_keys(twin)
    speaking = [k for k in keys if not k.startswith("thinker.")]
    assert {k.split(".")[0] for k in speaking} == {"talker", "code2wav"}
    with caplog.at_level("INFO", logger="rankvideo.models.omni_thinker"):
        thinker = load_thinker(str(twin), torch.float32)
    talker, code2wav = (sum(k.startswith(f"{part}.") for k in speaking) for part in ("talker", "code2wav"))
    assert f"skipped {len(speaking)} talker keys (code2wav: {code2wav}, talker: {talker}): {speaking[0]}, " in caplog.text
    assert type(thinker).__name__ == "Qwen3OmniMoeThinkerForConditionalGeneration"
    full = Qwen3OmniMoeForConditionalGeneration.from_pretrained(twin).thinker.state_dict()
    loaded = thinker.state_dict()
    assert loaded.keys() == full.keys() and all(torch.equal(loaded[k], full[k]) for k in full)


def test_only_a_model_with_an_audio_tower_hears(tiny_model, tmp_path):
    """The captioner decides by the config: Qwen3-Omni's thinker has an audio_config, the demo's Qwen3-VL has none."""
    from rankvideo.models.architecture import hears_audio

    assert hears_audio(str(TWINS["qwen3-omni"](tmp_path / "omni", seed=0)))
    assert not hears_audio(str(tiny_model))


def test_the_throughput_vocabulary_keeps_every_query_word_one_token():
    """bench/rerank_throughput.py's twin: every word of a query is one token, as under Qwen's own 151,936-entry
    vocabulary, and a paper-format suffix is within 20% of its count of pre-tokenizer pieces (a lower bound for any
    vocabulary with Qwen's pre-tokenizer; the rest are the answer tags, split on purpose); the tiny
    models' 600 entries split words and make it half as long again."""
    from rankvideo.demo.tiny import WORD_VOCAB, build_tokenizer, prompt_words_text
    from rankvideo.demo.topics import TOPICS
    from rankvideo.models.prompts import query_suffix

    words, small = build_tokenizer(WORD_VOCAB, prompt_words_text()), build_tokenizer()

    def tokens(tokenizer, text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    for query in [q for topic in TOPICS for q in topic.queries]:
        assert all(tokens(words, f" {word}") == 1 for word in query.split()), query
        text = query_suffix("paper", query)
        pieces = len(words.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text))
        assert tokens(words, text) <= 1.2 * pieces and tokens(small, text) >= 1.5 * pieces, query
