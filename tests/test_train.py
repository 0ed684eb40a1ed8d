"""Training on the tiny Qwen3-VL: resume after a hard kill ends with the uninterrupted weights, the
Stage 2 score is the inference score, and LoRA merges into plain weights."""

import json
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from rankvideo import VLMReranker
from rankvideo.files.video import VideoSettings
from rankvideo.train.checkpoints import COMPLETE, complete_checkpoints
from rankvideo.train.settings import LoraSettings, Stage2Settings
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


SETTINGS = Stage2Settings(stage_settings(lr=5e-3, scheduler="cosine", warmup_ratio=0.03, batch_size=3, epochs=3, checkpoint_every=2), 2, PAPER_LOSSES)


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


def test_training_score_is_the_inference_score(uninterrupted, demo_corpus):
    model = uninterrupted[0] / "model"
    assert json.loads((model / "rankvideo.json").read_text())["prompt_format"] == "paper"
    reranker = VLMReranker(str(model), fps=VIDEO.fps, max_frames=VIDEO.max_frames, min_pixels=VIDEO.min_pixels, max_pixels=VIDEO.max_pixels)
    path = str(demo_corpus / "videos" / "v001.mp4")
    with torch.no_grad():
        yes, no = reranker.backend.pair_logits(VIDEO.sample(path), GROUPS[0][0])  # what the Stage 2 loss sees
    served = reranker.score_video(path, [GROUPS[0][0]])[0]["logit_delta"]
    assert abs(float(yes - no) - served) <= 1e-4


def test_lora_stage1_merges_into_plain_weights(tiny_model, demo_corpus, tmp_path):
    rows = [{"query_id": f"q{i}", "query": "q", "doc_id": v, "videos": [str(demo_corpus / "videos" / f"{v}.mp4")],
             "caption": "a red ball bounces on a dark background"} for i, v in enumerate(["v001", "v002"])]
    settings = stage_settings(lr=1e-2, scheduler="constant", warmup_ratio=0.0, batch_size=2, epochs=2, checkpoint_every=10,
                               lora=LoraSettings(enabled=True, r=4, alpha=8, dropout=0.0))
    history = train_stage1(str(tiny_model), rows, tmp_path / "rv1", tmp_path / "ckpt", settings, VIDEO)
    assert history[-1]["caption"] < history[0]["caption"]
    trained, base = load_file(tmp_path / "rv1" / "model.safetensors"), load_file(tiny_model / "model.safetensors")
    assert trained.keys() == base.keys()  # merged: no lora_A / lora_B left
    changed = [k for k in base if not torch.equal(base[k], trained[k])]
    assert changed and all("language_model" in k for k in changed)  # only the adapted attention projections moved
    assert len(history) == 2 and (tmp_path / "ckpt" / "step-2" / COMPLETE).is_file()  # 2 videos / batch 2 x 2 epochs


@pytest.mark.slow
@pytest.mark.parametrize("strategy, groups_per_step", [("ddp", 2), ("fsdp", 3)])
def test_two_processes_train_the_weights_one_process_does(strategy, groups_per_step, spread_model, demo_corpus, tmp_path):
    """Data parallel as on a multi-GPU node (gloo on CPU here): each process takes its share of every step's groups,
    gradients are summed (ddp: all-reduced replicas; fsdp: reduce-scattered shards), rank 0 alone writes; the weights
    match one process's. Three groups per step over two processes leave one process a group short: under fsdp it
    repeats one at weight 0 so both run the same collectives."""
    from dataclasses import replace

    from rankvideo.train.loop import launch

    stage = replace(SETTINGS.stage, batch_size=3 * groups_per_step, epochs=2, strategy=strategy)
    settings = replace(SETTINGS, stage=stage)
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
