"""The prepared GPU check (rankvideo.demo.gpu_check, scripts/gpu_check.sh, `make gpu-check`): the width-true twin keeps
Qwen3-VL-8B's widths and cuts only depths, the plan counts it as it is built, the CPU half runs anywhere, and the
measured half runs where torch sees a GPU."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rankvideo.demo.gpu_check import (NO_GPU, EngineRun, MemoryPeak, bench_commands, checks, has_gpu, measured_text, parse_vllm_log,
                                      plan_twin)
from rankvideo.demo.twins import build_width_true_twin, cut_deepstack
from rankvideo.models.architecture import count_served, shipped_config

BASE = shipped_config("Qwen/Qwen3-VL-8B-Instruct")
TEXT_WIDTHS = ("hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size", "hidden_act", "rms_norm_eps")
VISION_WIDTHS = ("hidden_size", "num_heads", "intermediate_size", "out_hidden_size", "patch_size", "spatial_merge_size",
                 "temporal_patch_size", "num_position_embeddings", "hidden_act", "in_channels")


@pytest.fixture(scope="session")
def width_true_twin(tmp_path_factory) -> Path:
    """Qwen3-VL-8B's widths at 2 decoder and 2 vision layers (546M parameters, bf16): built once, ~12 s."""
    return build_width_true_twin(BASE, tmp_path_factory.mktemp("twins") / "width-true", seed=0)


def test_the_twin_keeps_every_width_and_cuts_only_depths(width_true_twin):
    base, twin = json.loads(BASE.read_text()), json.loads((width_true_twin / "config.json").read_text())
    assert twin["architectures"] == base["architectures"]
    assert {k: twin["text_config"][k] for k in TEXT_WIDTHS} == {k: base["text_config"][k] for k in TEXT_WIDTHS}
    assert twin["text_config"]["rope_parameters"]["mrope_section"] == base["text_config"]["rope_scaling"]["mrope_section"]
    assert {k: twin["vision_config"][k] for k in VISION_WIDTHS} == {k: base["vision_config"][k] for k in VISION_WIDTHS}
    assert twin["text_config"]["num_hidden_layers"] == 2 and twin["vision_config"]["depth"] == 2
    assert twin["vision_config"]["deepstack_visual_indexes"] == [0, 1]
    assert twin["text_config"]["vocab_size"] < 1000  # the twins' tokenizer, not 151,936 rows of embedding
    assert twin["tie_word_embeddings"] is False
    assert (width_true_twin / "processor_config.json").is_file() and (width_true_twin / "tokenizer.json").is_file()
    assert json.loads((width_true_twin / "rankvideo.json").read_text())["built_by"] == "rankvideo.demo.twins.build_width_true_twin"


def test_the_plan_counts_the_twin_as_built(width_true_twin):
    """count_served (a meta build from config.json) gives the saved weights' parameter count; the KV cache per token is
    the real model's per layer: layers x KV heads x head_dim x K and V x 2 bytes."""
    from safetensors import safe_open

    saved, dtypes = 0, set()
    for shard in width_true_twin.glob("*.safetensors"):
        with safe_open(shard, "pt") as weights:
            for name in weights.keys():  # noqa: SIM118 - safe_open has keys(), no iteration
                piece = weights.get_slice(name)
                saved += math.prod(piece.get_shape())
                dtypes.add(piece.get_dtype())
    assert dtypes == {"BF16"}
    served = count_served(width_true_twin / "config.json")
    assert served.params == saved
    text = json.loads(BASE.read_text())["text_config"]
    assert served.kv_bytes_per_token(1) == 2 * text["num_key_value_heads"] * text["head_dim"] * 2 * 2 == 8192
    assert served.kv_bytes_per_token(1) // served.layers == count_served(BASE).kv_bytes_per_token(1) // text["num_hidden_layers"]


def test_deepstack_taps_move_to_their_relative_depth():
    assert cut_deepstack([8, 16, 24], 27, 2) == [0, 1]
    assert cut_deepstack([8, 16, 24], 27, 1) == [0]
    assert cut_deepstack([8, 16, 24], 27, 4) == [1, 2, 3]
    assert cut_deepstack([8, 16, 24], 27, 27) == [8, 16, 24]


# vLLM 0.32's own lines, written with the format strings of gpu_model_runner.py, gpu_worker.py, kv_cache_utils.py,
# scheduler.py.
VLLM_LOG = """\
(EngineCore pid=7) INFO 12-05 08:27:03 [scheduler.py:307] Chunked prefill is enabled with max_num_batched_tokens=16384.
(Worker pid=9) INFO 12-05 08:27:24 [gpu_model_runner.py:5150] Model loading took 1.27 GiB memory and 3.216541 seconds
(Worker pid=9) INFO 12-05 08:27:40 [gpu_worker.py:759] Available KV cache memory: 62.5 GiB
(EngineCore pid=7) INFO 12-05 08:27:40 [kv_cache_utils.py:2327] GPU KV cache size: 8,192,000 tokens, \
Maximum concurrency for 8,192 tokens per request: 1000.00x
(Worker pid=9) INFO 12-05 08:27:52 [gpu_model_runner.py:6582] Graph capturing finished in 6 secs, took 0.41 GiB
"""


def test_vllms_memory_lines_are_read():
    assert parse_vllm_log(VLLM_LOG) == {"weights_gib": 1.27, "kv_gib": 62.5, "kv_tokens": 8_192_000, "batched_tokens": 16384,
                                        "cuda_graphs_gib": 0.41}
    assert parse_vllm_log("nothing here")["kv_gib"] is None


def test_the_verdict_names_each_failure(width_true_twin, tmp_path):
    plan = plan_twin(width_true_twin)
    score = {"query": "q", "video_path": "v.mp4", "failed": False, "error": None, "logit_delta": 0.5}
    log = parse_vllm_log(VLLM_LOG)

    def run(log, scores=(score,)):
        return EngineRun("paper", list(scores), log, tmp_path / "vllm.log", 1.0)

    exact = {**log, "kv_gib": 1.0, "kv_tokens": 2**30 / plan.kv_bytes_per_token}
    assert checks(plan, [run(exact)]) == []
    assert "KV bytes per token 16384" in checks(plan, [run({**exact, "kv_tokens": exact["kv_tokens"] / 2})])[0]
    assert "lacks" in checks(plan, [run({**exact, "weights_gib": None})])[0]
    assert "score" in checks(plan, [run(exact, [{**score, "logit_delta": float("nan")}])])[0]
    assert "score" in checks(plan, [run(exact, [{**score, "failed": True, "error": "EngineError: refused", "logit_delta": None}])])[0]


def test_the_report_sets_measured_beside_planned(width_true_twin, tmp_path):
    """vLLM's share of an 80 GiB GPU at 0.5 is 40 GiB: 40 - 35 KV - 1.27 weights leaves 3.73 for activations and runtime."""
    plan = plan_twin(width_true_twin)
    log = {**parse_vllm_log(VLLM_LOG), "kv_gib": 35.0, "kv_tokens": 35 * 2**30 / plan.kv_bytes_per_token}
    runs = [EngineRun(fmt, [], log, tmp_path / "vllm.log", 60.0) for fmt in ("paper", "upstream")]
    text = measured_text(plan, runs, ["NVIDIA H100 80GB HBM3", "81920"], MemoryPeak(), 512, 0.5)
    assert "| KV bytes per token | 8192 | 8192 | 8192 |" in text
    assert "| weights (GiB) | 1.02 | 1.27 | 1.27 |" in text
    assert "| activations + runtime (GiB) | 3.73 | 3.73 | 3.73 |" in text
    assert "| batched tokens | 8192 | 16384 | 16384 |" in text
    assert "2 deepstack buffers" in text and "(0.25 GiB" in text  # 2 x 16384 x 4096 x 2 bytes


@pytest.mark.skipif(has_gpu(), reason="a GPU is here: the measured half runs instead (test_the_measured_half_on_a_gpu)")
def test_without_a_gpu_it_plans_the_twin_and_says_the_rest_needs_one(tmp_path):
    done = subprocess.run([sys.executable, "-m", "rankvideo.demo.gpu_check", "--out", str(tmp_path)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert NO_GPU in done.stdout
    assert "KV cache per token: 8192 bytes" in done.stdout and "| weights | 1.092 |" in done.stdout
    assert not (tmp_path / "report.md").exists()


def test_the_throughput_hook_runs_this_checkouts_bench_on_both_backends(tmp_path):
    """With a GPU, after its report the check runs bench/rerank_throughput.py (which takes --model and --repeats) on
    the 8B-deep twin, transformers first."""
    commands = bench_commands(tmp_path / "twin")
    assert commands is not None and [c[c.index("--backend") + 1] for c in commands] == ["transformers", "vllm"]
    assert all(c[c.index("--model") + 1] == str(tmp_path / "twin") and c[-2:] == ["--repeats", "1"] for c in commands)
    assert all(c[1].endswith("bench/rerank_throughput.py") for c in commands)


def test_no_bench_prints_the_throughput_commands_and_builds_nothing(tmp_path, capsys):
    from rankvideo.demo.gpu_check import throughput

    throughput(tmp_path, no_bench=True)
    printed = capsys.readouterr().out
    assert printed.count("throughput (skipped, --no-bench)") == 2 and "--backend vllm" in printed
    assert not (tmp_path / "throughput_twin").exists() and not (tmp_path / "report.md").exists()


def gpu_and_vllm() -> bool:
    import torch

    from rankvideo.models.vllm_engine import vllm_python

    return torch.cuda.is_available() and subprocess.run([vllm_python(), "-c", "import vllm"], check=False).returncode == 0


@pytest.mark.skipif(not gpu_and_vllm(), reason="needs a GPU and vLLM's CUDA build (scripts/gpu_check.sh builds .venv-gpu)")
def test_the_measured_half_on_a_gpu(tmp_path):
    """Both prompt formats score finite, vLLM logs what the comparison needs, and its KV bytes per token are the plan's."""
    from rankvideo.demo.gpu_check import main

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    assert main(["--out", str(tmp_path), "--no-bench"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "OK: every score finite" in report and "measured, paper" in report and "measured, upstream" in report
