"""Training on the tiny Qwen3-VL: resume after a hard kill ends with the uninterrupted weights, the
Stage 2 score is the inference score, and LoRA merges into plain weights."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from rankvideo import VLMReranker
from rankvideo.files.video import VideoSettings
from rankvideo.train.checkpoints import COMPLETE, complete_checkpoints
from rankvideo.train.settings import LORA_TARGETS, LoraSettings, Stage1Settings, Stage2Settings
from rankvideo.train.stage1 import train_stage1
from rankvideo.train.stage2 import train_stage2
from tests.conftest import PAPER_LOSSES, stage_settings

VIDEO = VideoSettings(fps=2, max_frames=8, min_pixels=64 * 64, max_pixels=128 * 128)
GROUPS = [("a red ball bouncing up and down", "v001", ["v004", "v007"]), ("flood warning issued", "v016", ["v013", "v019"]),
          ("chess championship final", "v028", ["v025", "v031"]), ("a spinning green triangle", "v007", ["v001", "v016"])]


def stage2_rows(corpus):
    rows = []
    for i, (query, pos, negs) in enumerate(GROUPS):
        for vid, label, p in [(pos, 1, 0.8), *((n, 0, None if i == 0 else 0.1) for n in negs)]:
            rows.append({"query_id": f"q{i}", "query": query, "doc_id": vid, "videos": [str(corpus / "videos" / f"{vid}.mp4")],
                         "true_label": label, "teacher_p_yes": p})
    return rows


SETTINGS = Stage2Settings(stage_settings(lr=5e-3, scheduler="cosine", warmup_ratio=0.03, epochs=3, checkpoint_every=2), 2, 1, PAPER_LOSSES)


FSDP_SETTINGS = replace(SETTINGS, stage=replace(SETTINGS.stage, strategy="fsdp"))


def logged_stage2(*args):
    """train_stage2 in a spawned training process, logging to stderr: the test reads where a process resumed."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True)
    return train_stage2(*args)


@pytest.fixture(scope="module")
def uninterrupted(spread_model, demo_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "a"
    history = train_stage2(str(spread_model), stage2_rows(demo_corpus), out / "model", out / "ckpt", SETTINGS, VIDEO)
    return out, history


def test_stage2_runs_every_loss_term_and_rotates_through_groups(uninterrupted):
    _, history = uninterrupted
    assert len(history) == 12  # 4 query groups x 3 epochs, one group per step
    assert all({"pair", "point", "teacher", "loss"} <= set(row) for row in history)
    first, last = history[:4], history[-4:]
    assert sum(r["loss"] for r in last) < sum(r["loss"] for r in first)  # it learns on its own training groups


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_weights(uninterrupted, spread_model, demo_corpus, tmp_path):
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(stage2_rows(demo_corpus)))
    ckpt = tmp_path / "ckpt"
    script = (
        "import json, sys; from rankvideo.train.stage2 import train_stage2; "
        "from tests.test_train import SETTINGS, VIDEO; "
        f"train_stage2({str(spread_model)!r}, json.load(open({str(rows)!r})), {str(tmp_path / 'model')!r}, {str(ckpt)!r}, "
        "SETTINGS, VIDEO)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(p.name in ("step-4", "step-6") for p in complete_checkpoints(ckpt)):
        time.sleep(0.01)
    proc.kill()  # SIGKILL between checkpoints: whatever it did after the last one is lost
    proc.wait()
    survivors = complete_checkpoints(ckpt)
    assert survivors and int(survivors[-1].name.split("-")[1]) < 12, "the run must be killed midway"
    (ckpt / ".step-99.partial").mkdir()  # a half-written checkpoint, never taken for a complete one
    (ckpt / "step-98").mkdir()  # no COMPLETE marker
    history = train_stage2(str(spread_model), stage2_rows(demo_corpus), tmp_path / "model", ckpt, SETTINGS, VIDEO)
    assert [r["step"] for r in history] == list(range(1, 13))
    a, b = load_file(uninterrupted[0] / "model" / "model.safetensors"), load_file(tmp_path / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert history == uninterrupted[1]


@pytest.mark.slow
def test_killed_sharded_training_resumes_to_the_unbroken_runs_weights(spread_model, demo_corpus, tmp_path):
    """Two fsdp processes (gloo) killed together between checkpoints, as Slurm kills a job: the rerun loads the newest
    complete checkpoint's full state into its shards, resumes after it, and ends bit-identical to an unbroken sharded run."""
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(stage2_rows(demo_corpus)))

    def command(name: str) -> list[str]:
        script = ("import json; from rankvideo.train.loop import launch; from tests.test_train import FSDP_SETTINGS, VIDEO, logged_stage2; "
                  f"launch(logged_stage2, 2, {str(spread_model)!r}, json.load(open({str(rows)!r})), {str(tmp_path / name / 'model')!r}, "
                  f"{str(tmp_path / name / 'ckpt')!r}, FSDP_SETTINGS, VIDEO)")
        return [sys.executable, "-c", script]

    ckpt = tmp_path / "killed" / "ckpt"
    proc = subprocess.Popen(command("killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(p.name in ("step-4", "step-6") for p in complete_checkpoints(ckpt)):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both training processes
    proc.wait()
    done = int(complete_checkpoints(ckpt)[-1].name.split("-")[1])
    assert done < 12, "the run must be killed midway"
    for name in ("killed", "unbroken"):
        run = subprocess.run(command(name), capture_output=True, text=True, timeout=600, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        assert (f"resuming from {ckpt / f'step-{done}'} (step {done} of 12)" in run.stderr) == (name == "killed")
    a, b = (load_file(tmp_path / name / "model" / "model.safetensors") for name in ("killed", "unbroken"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_score_is_the_inference_score(uninterrupted, demo_corpus):
    model = uninterrupted[0] / "model"
    assert json.loads((model / "rankvideo.json").read_text())["prompt_format"] == "paper"
    reranker = VLMReranker(str(model), fps=VIDEO.fps, max_frames=VIDEO.max_frames, min_pixels=VIDEO.min_pixels, max_pixels=VIDEO.max_pixels)
    path = str(demo_corpus / "videos" / "v001.mp4")
    with torch.no_grad():
        yes, no = reranker.backend.pair_logits(VIDEO.sample(path), GROUPS[0][0])  # what the Stage 2 loss sees
    served = reranker.score_video(path, [GROUPS[0][0]])[0]["logit_delta"]
    assert abs(float(yes - no) - served) <= 1e-4


def lora_settings(load_in_4bit: bool) -> Stage1Settings:
    lora = LoraSettings(enabled=True, r=4, alpha=8, dropout=0.0, load_in_4bit=load_in_4bit)
    return Stage1Settings(stage_settings(lr=1e-2, scheduler="constant", warmup_ratio=0.0, epochs=2, checkpoint_every=10, lora=lora), 2)


def test_qlora_trains_adapters_over_a_four_bit_base(tiny_model):
    """QLoRA as upstream trains it: every linear layer of the frozen base in NF4 (bitsandbytes runs it on CPU too),
    only the adapters trainable, in fp32."""
    import bitsandbytes as bnb

    from rankvideo.train.model import load_backend

    model = load_backend(str(tiny_model), VIDEO, lora_settings(True).stage).model
    quantized = [n for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert any("visual" in n for n in quantized) and any("mlp.down_proj" in n for n in quantized)
    trainable = {n: p.dtype for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable) and set(trainable.values()) == {torch.float32}


def test_four_bit_without_adapters_is_refused(tiny_model):
    from rankvideo.files.errors import ConfigError
    from rankvideo.train.model import load_backend

    stage = lora_settings(True).stage
    with pytest.raises(ConfigError, match="set train.lora.enabled: true"):
        load_backend(str(tiny_model), VIDEO, replace(stage, lora=replace(stage.lora, enabled=False)))


@pytest.mark.parametrize("load_in_4bit", [False, True], ids=["lora", "qlora"])
def test_lora_stage1_merges_into_plain_weights(load_in_4bit, tiny_model, demo_corpus, tmp_path):
    """The adapters merge into the base as it is on disk (fp32), not into the 4-bit copy QLoRA trained over."""
    rows = [{"query_id": f"q{i}", "query": "q", "doc_id": v, "videos": [str(demo_corpus / "videos" / f"{v}.mp4")],
             "caption": "a red ball bounces on a dark background"} for i, v in enumerate(["v001", "v002"])]
    history = train_stage1(str(tiny_model), rows, tmp_path / "rv1", tmp_path / "ckpt", lora_settings(load_in_4bit), VIDEO)
    assert history[-1]["caption"] < history[0]["caption"]
    trained, base = load_file(tmp_path / "rv1" / "model.safetensors"), load_file(tiny_model / "model.safetensors")
    assert trained.keys() == base.keys() and all(t.dtype == torch.float32 for t in trained.values())  # no lora_A / B, no 4-bit
    assert "quantization_config" not in json.loads((tmp_path / "rv1" / "config.json").read_text())
    changed = [k for k in base if not torch.equal(base[k], trained[k])]
    assert changed and all("language_model" in k and k.split(".")[-2] in LORA_TARGETS for k in changed)
    assert len(history) == 2 and (tmp_path / "ckpt" / "step-2" / COMPLETE).is_file()  # 2 videos / batch 2 x 2 epochs


@pytest.mark.slow
@pytest.mark.parametrize("strategy, groups_per_step", [("ddp", 2), ("fsdp", 3)])
def test_two_processes_train_the_weights_one_process_does(strategy, groups_per_step, spread_model, demo_corpus, tmp_path):
    """Data parallel as on a multi-GPU node (gloo on CPU here): each process takes its share of every step's groups,
    gradients are summed (ddp: all-reduced replicas; fsdp: reduce-scattered shards), rank 0 alone writes; the weights
    match one process's. Three groups per step over two processes leave one process a group short: under fsdp it
    repeats one at weight 0 so both run the same collectives."""
    from rankvideo.train.loop import launch

    settings = replace(SETTINGS, stage=replace(SETTINGS.stage, epochs=2, strategy=strategy), groups_per_step=groups_per_step)
    args = (str(spread_model), stage2_rows(demo_corpus))
    one = launch(train_stage2, 1, *args, tmp_path / "one", tmp_path / "ckpt1", settings, VIDEO)
    two = launch(train_stage2, 2, *args, tmp_path / "two", tmp_path / "ckpt2", settings, VIDEO)
    steps = 2 * -(-len(GROUPS) // groups_per_step)
    assert [r["step"] for r in two] == list(range(1, steps + 1))
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)  # the logged loss is the global batch's
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    assert sorted(p.name for p in (tmp_path / "ckpt2").iterdir()) == [f"step-{steps - 2}", f"step-{steps}"]  # one writer, no partials


def test_a_retrained_starting_model_gets_fresh_checkpoints(tmp_path):
    """Stage 2 starts from results/models/rv1 whatever Stage 1 trained: the key must see the new Stage 1."""
    from rankvideo.models.model_card import write_model_card
    from rankvideo.train.checkpoints import checkpoint_key

    data, start = tmp_path / "stage2.jsonl", tmp_path / "rv1"
    data.write_text('{"query_id": "q1"}\n')
    start.mkdir()

    def key() -> str:
        return checkpoint_key(data, SETTINGS, VIDEO, "code", str(start))[1]

    write_model_card(start, "paper", {"stage": 1, "settings": {"epochs": 1}})
    first = key()
    assert key() == first
    write_model_card(start, "paper", {"stage": 1, "settings": {"epochs": 2}})
    assert key() != first
