"""The memory plan: the shipped Qwen3-VL-8B config has the model card's size, and full fine-tuning with a replica per
GPU does not fit the paper's A100-80GB while the sharded and adapter strategies do."""

import pytest

from rankvideo.files.video import configured_video
from rankvideo.models.architecture import find_config
from rankvideo.train.memory import count_model, fitting, plan
from rankvideo.workflow.plan import main
from tests.conftest import PAPER_CONFIG

MODEL_CARD_PARAMS = 8.77e9  # huggingface.co/Qwen/Qwen3-VL-8B-Instruct: "Model size 8.77B params"


@pytest.fixture(scope="module")
def paper_count():
    return count_model(find_config(PAPER_CONFIG["models"]["base"]))


def test_the_shipped_config_has_the_model_cards_parameter_count(paper_count):
    assert paper_count.params == pytest.approx(MODEL_CARD_PARAMS, rel=0.02)
    assert paper_count.by_dtype == {"bfloat16": paper_count.params}


def test_full_fine_tuning_needs_sharding_on_eight_a100s(paper_count):
    train = PAPER_CONFIG["train"]
    rows = plan(paper_count, configured_video(PAPER_CONFIG["video"], 2), 8, train["lora"]["r"], 1 + train["stage2"]["negatives"])
    assert rows["ddp"]["weights"] + rows["ddp"]["gradients"] + rows["ddp"]["optimizer"] == pytest.approx(16 * paper_count.params / 1e9)
    assert rows["fsdp"]["optimizer"] == pytest.approx(rows["ddp"]["optimizer"] / 8)
    assert fitting(rows, train["gpu_memory_gb"]) == ["fsdp", "lora", "qlora"]
    assert rows["qlora"]["total"] < rows["lora"]["total"]


def test_a_model_folder_is_counted_from_its_own_config(tiny_model):
    from transformers import Qwen3VLForConditionalGeneration

    built = Qwen3VLForConditionalGeneration.from_pretrained(tiny_model)
    count = count_model(find_config(str(tiny_model)))
    assert count.params == sum(p.numel() for p in built.parameters())
    assert count.lora_params == sum(m.in_features + m.out_features for n, m in built.named_modules()
                                    if "language_model" in n and n.split(".")[-1] in ("q_proj", "k_proj", "v_proj", "o_proj"))


def test_the_plan_command_prints_both_stages(capsys):
    assert main(["--config", "config.yaml"]) == 0
    out = capsys.readouterr().out
    assert "| ddp | 35.1 | 35.1 | 70.1 |" in out and out.count("fits in train.gpu_memory_gb = 80: fsdp, lora, qlora") == 2


def test_a_training_config_that_cannot_fit_is_refused_with_what_would(tmp_path):
    from rankvideo.files.errors import ConfigError
    from rankvideo.workflow.plan import check_training_fits

    config = {**PAPER_CONFIG, "train": {**PAPER_CONFIG["train"], "strategy": "ddp"}}
    with pytest.raises(ConfigError) as info:
        check_training_fits(config, 8, tmp_path)
    assert str(info.value).startswith("train: Stage 1 with ddp needs 146.6 GB per GPU on 8 GPUs (Qwen/Qwen3-VL-8B-Instruct, 8.77B parameters), "
                                      "over train.gpu_memory_gb 80; these fit (GB per GPU): {'fsdp': 23.9, 'lora': 24.2, 'qlora': 13.0} (ddp/fsdp: ")
    assert check_training_fits(PAPER_CONFIG, 8, tmp_path) is None  # fsdp, as config.yaml has it
    assert len(list(tmp_path.glob("model-count-*.json"))) == 1  # counted once, then read back
    unbuilt = {**PAPER_CONFIG, "models": {**PAPER_CONFIG["models"], "base": "results/models/not-built-yet"}}
    assert check_training_fits(unbuilt, 8, tmp_path) == "memory plan not checked: no config.json for results/models/not-built-yet yet"
