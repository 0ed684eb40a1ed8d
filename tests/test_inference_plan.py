"""The inference memory plan: the shipped configs have their model cards' sizes, KV bytes follow the architecture, and a
job that cannot fit its GPUs is refused at parse with the numbers and the setting that would fit; the paper config's
32B jobs get two GPUs, in the plan and in the DAG."""

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rankvideo.files.errors import ConfigError
from rankvideo.models.architecture import count_served, shipped_config
from rankvideo.workflow.inference import check_inference_fits, inference_plans, job_gpus, refusal
from rankvideo.workflow.plan import main
from tests.conftest import PAPER_CONFIG

ROOT = Path(__file__).resolve().parents[1]
# The published figure of each shipped config's model; rankvideo/models/configs/SOURCES.md says where each figure and each
# config comes from.
MODEL_CARD_PARAMS = {
    "Qwen/Qwen3-VL-8B-Instruct": 8.77e9,
    "Qwen/Qwen3-VL-8B-Thinking": 8.77e9,
    "Qwen/Qwen3-32B": 32.8e9,
    "liuwenhan/reasonrank-32B": 32.5e9,  # Qwen2.5-32B-Instruct's card
    "Qwen/Qwen3-Omni-30B-A3B-Instruct": 35.26e9,  # thinker, talker and code2wav
    "Tevatron/Qwen2.5-Omni-7B-Thinker": 9e9,  # "9B" on its page
    "openai/whisper-large-v2": 1.55e9,
}


@pytest.fixture(scope="module")
def paper_plans(tmp_path_factory):
    return {p.job.name: p for p in inference_plans(PAPER_CONFIG, tmp_path_factory.mktemp("plan"))}


@pytest.mark.parametrize("model", sorted(MODEL_CARD_PARAMS))
def test_each_shipped_config_has_its_model_cards_size(model):
    served = count_served(shipped_config(model))
    assert served.params + sum(served.skipped.values()) == pytest.approx(MODEL_CARD_PARAMS[model], rel=0.02)


def test_an_omni_checkpoint_serves_its_thinker_alone():
    served = count_served(shipped_config("Qwen/Qwen3-Omni-30B-A3B-Instruct"))
    assert set(served.skipped) >= {"talker"} and "thinker" not in served.skipped
    assert served.kv_heads == 4 and served.layers == 48 and served.ffn_width == 8 * 768  # 8 of 128 experts, 768 wide


def test_kv_bytes_follow_the_decoder_and_split_over_kv_heads():
    served = count_served(shipped_config("Qwen/Qwen3-32B"))
    assert served.kv_bytes_per_token() == 64 * 8 * 128 * 2 * 2 == 256 * 1024  # layers x KV heads x head_dim x K,V x bf16
    assert served.kv_bytes_per_token(2) == served.kv_bytes_per_token() // 2
    assert served.kv_bytes_per_token(8) == served.kv_bytes_per_token() // 8
    omni = count_served(shipped_config("Qwen/Qwen3-Omni-30B-A3B-Instruct"))
    assert omni.kv_bytes_per_token(8) == omni.kv_bytes_per_token(4)  # 4 KV heads: past 4 GPUs each keeps one


def test_the_paper_config_plans_every_gpu_job(paper_plans):
    rerankers = {f"rerank {name}" for name in PAPER_CONFIG["rerankers"]}
    assert set(paper_plans) == {"extract_asr", "extract_captions", "synthesize_queries", "judge", "encode_corpus, encode_queries OmniEmbed"} | rerankers
    gpus = {name: p.gpus for name, p in paper_plans.items()}
    assert gpus["judge"] == gpus["synthesize_queries"] == gpus["rerank ReasonRank"] == 2
    assert all(gpus[f"rerank {n}"] == 1 for n in ("QVL-I", "QVL-T", "QVL-R", "RV-1", "RV-2"))
    assert all(refusal(p, PAPER_CONFIG["inference"]) is None for p in paper_plans.values())
    assert paper_plans["rerank QVL-T"].context == paper_plans["rerank QVL-I"].context + 2048  # its reasoning tokens
    assert paper_plans["rerank RV-2"].served == paper_plans["rerank QVL-I"].served  # trained from the base: its shape


def test_one_a100_at_32k_is_refused_for_the_32b_teacher(tmp_path):
    config = copy.deepcopy(PAPER_CONFIG)
    config["inference"]["gpus"]["judge"] = 1
    with pytest.raises(ConfigError) as info:
        check_inference_fits(config, tmp_path)
    message = str(info.value)
    assert message.startswith("judge: liuwenhan/reasonrank-32B (32.76B served parameters) needs ")
    assert "GB per GPU on 1 GPU(s) at max_model_len 32768 (weights 65.5, " in message
    assert "over 72.0 GB (inference.gpu_memory_gb 80 x gpu_memory_utilization 0.9); it fits on 2 GPUs (inference.gpus.judge: 2, or auto)" in message
    assert job_gpus(PAPER_CONFIG, "judge", "liuwenhan/reasonrank-32B", tmp_path) == 2


def test_a_context_too_short_for_the_video_is_refused(tmp_path):
    config = copy.deepcopy(PAPER_CONFIG)
    config["inference"]["max_model_len"]["rerank"] = 1024
    with pytest.raises(ConfigError, match=r"rerank QVL-I: Qwen/Qwen3-VL-8B-Instruct needs 1737 tokens per request \(prompt, video, "
                                          r"generated\) but inference.max_model_len.rerank is 1024: raise it to at least 1737"):
        check_inference_fits(config, tmp_path)


def test_the_plan_command_prints_the_inference_table(capsys):
    assert main(["--config", "config.yaml"]) == 0
    out = capsys.readouterr().out
    assert "| judge | liuwenhan/reasonrank-32B | 32.76B | 2 | 32768 |" in out
    assert "extract_captions: not served: talker" in out


@pytest.mark.slow
def test_a_dry_run_of_the_paper_config_asks_slurm_for_the_planned_gpus(tmp_path):
    """snakemake -n on config.yaml (a made-up two-shard sheet): the 32B jobs ask for two GPUs, the 8B rerankers one."""
    sys.path.insert(0, str(ROOT / "bench"))
    from dag_scale import WORKFLOW, make_corpus

    for name in (*WORKFLOW, "rankvideo"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / name)
    make_corpus(tmp_path, 20)
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", "results/eval/ndcg.json", "--configfile", "bench.yaml",
                          "--config", "workflow={'shards': 2}"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = {}
    for block in dry.stdout.split("\nrule ")[1:]:
        rule = block.split(":")[0]
        wildcards = next((line.split(":", 1)[1].strip() for line in block.splitlines() if line.strip().startswith("wildcards:")), "")
        gpus = next((part.split("=")[1] for part in block.split("resources: ")[-1].split(", ") if part.startswith("gpu=")), None)
        if gpus:
            jobs[(rule, wildcards)] = int(gpus)
    assert jobs[("judge", "")] == 2
    assert {g for (rule, _), g in jobs.items() if rule == "synthesize_queries"} == {2}
    assert {g for (rule, w), g in jobs.items() if rule == "rerank_shard" and "reranker=ReasonRank" in w} == {2}
    assert {g for (rule, w), g in jobs.items() if rule == "rerank_shard" and "reranker=RV-2," in w} == {1}
