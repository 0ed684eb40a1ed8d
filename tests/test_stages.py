"""Stage 1's and Stage 2's training steps with stand-ins for the model and the loop: what each step feeds the model,
which tokens its loss reads, and the examples each epoch trains on. tests/test_train.py trains the real tiny model."""

import dataclasses
import logging
import math
import random
from types import SimpleNamespace

import pytest
import torch

from rankvideo.models.prompts import caption_target, render_caption
from rankvideo.train import stage1, stage2
from rankvideo.train.losses import stage2_loss
from rankvideo.workflow.config import stage1_settings, stage2_settings
from tests.conftest import PAPER_CONFIG

VOCAB = 12


class Video:
    """VideoSettings' stand-in: counts how often each path is decoded."""

    def __init__(self):
        self.decoded = []

    def sample(self, path):
        self.decoded.append(path)
        return f"frames of {path}"


class CaptionModel:
    """The model a Stage 1 step calls: records its arguments; its logits make token t + 1 likely after token t."""

    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        ids = kwargs["input_ids"][0]
        logits = torch.zeros(len(ids), VOCAB)
        logits[torch.arange(len(ids)), (ids + 1) % VOCAB] = math.log(3.0)
        return SimpleNamespace(logits=logits.unsqueeze(0))


class Backend:
    """TransformersBackend's stand-in for both stages."""

    device = "cpu"

    def __init__(self):
        self.model, self.prompts, self.texts = CaptionModel(), [], []

    def model_inputs(self, prompt, sampled):
        self.prompts.append((prompt, sampled))
        return {"input_ids": torch.tensor([[3, 4, 5]]), "pixel_values_videos": "pixels", "video_grid_thw": "grid"}

    def tokenizer(self, text, add_special_tokens=True, return_tensors=None):
        self.texts.append((text, add_special_tokens, return_tensors))
        return {"input_ids": torch.tensor([[6, 8]])}

    def _mm_types(self, ids):
        return ("types of", ids.tolist())

    def pair_logits(self, sampled, query):
        return torch.tensor(float(len(query))), torch.tensor(float(len(sampled)))


def test_the_caption_loss_reads_the_caption_tokens_each_from_the_position_before():
    logits = torch.zeros(4, 3)
    logits[0] = torch.tensor([50.0, -50.0, 0.0])  # predicts a prompt token: not read
    logits[1] = torch.tensor([0.0, math.log(3.0), 0.0])  # predicts caption token 1
    logits[2] = torch.tensor([0.0, 0.0, math.log(2.0)])  # predicts caption token 2
    logits[3] = torch.tensor([99.0, 0.0, 0.0])  # after the last token: nothing to predict
    labels = torch.tensor([-100, -100, 1, 2])
    expected = -(math.log(3 / 5) + math.log(2 / 4)) / 2
    assert stage1.caption_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    assert stage1.caption_loss(logits.bfloat16(), labels).dtype == torch.float32  # bf16 logits are read in fp32


def test_a_stage1_example_is_the_prompt_then_the_caption_with_the_loss_on_the_caption_alone():
    backend = Backend()
    loss = stage1.caption_example_loss(backend, "sampled", "a red kite")
    assert backend.prompts == [(render_caption(), "sampled")]
    assert backend.texts == [(caption_target("a red kite"), False, "pt")]
    (call,) = backend.model.calls
    assert call["input_ids"].tolist() == [[3, 4, 5, 6, 8]] and call["mm_token_type_ids"] == ("types of", [[3, 4, 5, 6, 8]])
    assert (call["pixel_values_videos"], call["video_grid_thw"]) == ("pixels", "grid")
    # Token 6 follows 5 (the model makes 6 likely: p = 3/14); 8 follows 6 (it makes 7 likely: p = 1/14).
    assert loss.item() == pytest.approx(-(math.log(3 / 14) + math.log(1 / 14)) / 2, rel=1e-6)


@pytest.fixture
def loop(monkeypatch):
    """load_backend and train_and_save replaced: the call's arguments are kept for the test to read."""
    seen = {"backend": Backend()}

    def load_backend(model_path, video, settings):
        seen["load"] = (model_path, video, settings)
        return seen["backend"]

    def train_and_save(backend, stage, model_path, for_epoch, per_step, loss_fn, settings, ckpt_root, out_dir, provenance):
        assert backend is seen["backend"]  # the model it trains is the one loaded
        seen.update(stage=stage, model_path=model_path, for_epoch=for_epoch, per_step=per_step, loss_fn=loss_fn, settings=settings,
                    paths=(ckpt_root, out_dir), provenance=provenance)
        return ["history"]

    for module in (stage1, stage2):
        monkeypatch.setattr(module, "load_backend", load_backend)
        monkeypatch.setattr(module, "train_and_save", train_and_save)
    return seen


def test_stage1_shuffles_its_rows_per_epoch_and_decodes_each_video_once(loop):
    settings, video = stage1_settings(PAPER_CONFIG), Video()
    rows = [{"videos": [f"/v/{i}.mp4"], "caption": f"caption {i}"} for i in range(8)]
    assert stage1.train_stage1("base", rows, "out", "ckpt", settings, video, {"data": 1}) == ["history"]
    assert loop["load"] == ("base", video, settings.stage)
    assert (loop["stage"], loop["model_path"], loop["per_step"], loop["settings"]) == (1, "base", 16, settings.stage)
    assert (loop["paths"], loop["provenance"]) == (("ckpt", "out"), {"data": 1})
    for epoch in range(3):
        order = list(rows)
        random.Random(f"{settings.stage.seed}:epoch:{epoch}").shuffle(order)
        assert loop["for_epoch"](epoch) == order
    assert loop["for_epoch"](0) != loop["for_epoch"](1) and loop["for_epoch"](0) != rows
    loss, parts = loop["loss_fn"](rows[2])
    assert parts == {"caption": pytest.approx(loss.item())} and isinstance(parts["caption"], float)
    loop["loss_fn"](rows[2])
    assert video.decoded == ["/v/2.mp4"] and loop["backend"].texts[0][0] == caption_target("caption 2")


@pytest.mark.parametrize("dedupe", [True, False])
def test_stage1_trains_on_one_row_per_video_when_deduping(loop, dedupe, caplog):
    settings = dataclasses.replace(stage1_settings(PAPER_CONFIG), dedupe_by_video=dedupe)
    rows = [{"query_id": q, "doc_id": d, "videos": [f"/v/{d}.mp4"], "caption": f"{d} for {q}"}
            for q, d in (("q1", "a"), ("q2", "b"), ("q3", "a"), ("q4", "c"), ("q5", "b"))]
    rows.append({"query_id": "q6", "doc_id": "c", "videos": ["/copy/c.mp4"], "caption": "c by another path: the same doc_id"})
    rows.append({"videos": ["/v/d.mp4"], "caption": "no doc_id: keyed by its path"})
    rows.append({"videos": ["/v/d.mp4"], "caption": "the same path again"})
    with caplog.at_level(logging.INFO, logger="rankvideo.train.stage1"):
        stage1.train_stage1("base", rows, "out", "ckpt", settings, Video())
    trained = sorted(loop["for_epoch"](0), key=rows.index)
    assert trained == ([rows[i] for i in (0, 1, 3, 6)] if dedupe else rows)
    assert f"stage 1: 8 rows, {len(trained)} of them trained on (dedupe_by_video {dedupe})" in caplog.messages


def test_stage2_scores_each_candidate_as_inference_does_and_takes_the_group_loss(loop):
    settings, video = stage2_settings(PAPER_CONFIG, ["pair", "point", "teacher"]), Video()
    rows = [{"query_id": "q", "query": "four", "doc_id": d, "videos": [f"/v/{d}.mp4"], "true_label": label, "teacher_p_yes": p}
            for d, label, p in (("p", 1, 0.9), ("n1", 0, None), ("n22", 0, 0.2))]
    assert stage2.train_stage2("rv1", rows, "out", "ckpt", settings, video, {"data": 2}) == ["history"]
    assert (loop["stage"], loop["model_path"], loop["per_step"], loop["settings"]) == (2, "rv1", 1, settings.stage)
    assert (loop["paths"], loop["provenance"], loop["load"]) == (("ckpt", "out"), {"data": 2}, ("rv1", video, settings.stage))
    assert loop["for_epoch"](1) == stage2.stage2_groups(rows, settings.negatives, settings.stage.seed)(1)
    (group,) = loop["for_epoch"](0)
    loss, parts = loop["loss_fn"](group)
    order = [r["doc_id"] for r in group["rows"]]
    assert order[0] == "p" and sorted(order[1:]) == ["n1", "n22"]
    scores = torch.tensor([4.0 - len(f"frames of /v/{d}.mp4") for d in order])  # len(query) - len(sampled video): yes - no
    teacher = torch.tensor([{"p": 0.9, "n1": float("nan"), "n22": 0.2}[d] for d in order])
    expected, expected_parts = stage2_loss(scores, torch.tensor([1, 0, 0]), teacher, settings.losses)
    assert loss.item() == pytest.approx(expected.item()) and parts == pytest.approx(expected_parts)
    assert video.decoded == [f"/v/{d}.mp4" for d in order]
    loop["loss_fn"](group)
    assert len(video.decoded) == 3  # each video decoded once, however many epochs read it


def test_group_scores_are_yes_minus_no_per_candidate():
    scores = stage2.group_scores(Backend(), lambda path: path * 2, "query", ["a", "bbb"])
    assert scores.tolist() == [5.0 - 2.0, 5.0 - 6.0]


def test_queries_without_a_positive_or_a_negative_are_left_out_and_the_rest_shuffled_per_epoch(caplog):
    rows = [{"query_id": q, "query": f"text {q}", "doc_id": d, "true_label": label}
            for q, d, label in (("b", "p", 1), ("b", "n", 0), ("a", "p", 1), ("a", "n", 0), ("c", "p", 1), ("d", "n", 0),
                                ("e", "p", 1), ("e", "n", 0), ("f", "p", 1), ("f", "n", 0))]
    with caplog.at_level(logging.WARNING, logger="rankvideo.train.stage2"):
        groups = stage2.stage2_groups(rows, k=2, seed=5)
    assert caplog.messages == ["2 queries without a positive or without negatives are left out"]
    for epoch in (0, 1):
        order = ["a", "b", "e", "f"]
        random.Random(f"5:epoch:{epoch}").shuffle(order)
        assert [g["query_id"] for g in groups(epoch)] == order
    assert [g["query_id"] for g in groups(0)] != [g["query_id"] for g in groups(1)]
    a = next(g for g in groups(0) if g["query_id"] == "a")
    assert a == {"query_id": "a", "query": "text a", "rows": [rows[2], rows[3]]}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rankvideo.train.stage2"):
        stage2.stage2_groups(rows[:4], k=2, seed=5)
    assert caplog.messages == []  # every query usable: nothing to say


def test_a_caption_reaches_the_models_device():
    """The caption's tokens go where the prompt's are (a GPU in training; the meta device here)."""

    class MetaBackend(Backend):
        device = "meta"

        def model_inputs(self, prompt, sampled):
            inputs = super().model_inputs(prompt, sampled)
            return {key: value.to("meta") if isinstance(value, torch.Tensor) else value for key, value in inputs.items()}

        def _mm_types(self, ids):
            return torch.zeros_like(ids)

    backend = MetaBackend()
    backend.model = lambda **kwargs: SimpleNamespace(logits=torch.zeros(1, len(kwargs["input_ids"][0]), VOCAB, device="meta"))
    assert stage1.caption_example_loss(backend, "sampled", "a kite").device.type == "meta"
