"""The curriculum check: clean data held out by wording and by video, and its run end to end on the tiny model."""

import json
from collections import Counter

import pytest

from rankvideo.demo.curriculum import (
    CUTOFFS,
    EVENTS,
    TRAIN_PHRASINGS,
    Plan,
    caption_accuracy,
    held_out_set,
    one_caption_ceiling,
    pair_auc,
    picture_caption,
    plan_videos,
    random_order_metrics,
    run_check,
    stage1_rows,
    stage2_rows,
)


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    return plan_videos(tmp_path_factory.mktemp("plan"), seed=13)


def test_wording_and_videos_are_both_held_out(planned):
    queries, qrels, pool = held_out_set(planned)
    train_ids = {v.spec.video_id for v in planned if v.split == "train"}
    assert not train_ids & {v.spec.video_id for v in pool}
    assert Counter(v.event for v in planned if v.split == "train") == Counter({**{e.topic_id: 6 for e in EVENTS}, "": 4})
    assert Counter(v.event for v in pool) == Counter({**{e.topic_id: 4 for e in EVENTS}, "": 8})
    trained_on = {row["query"] for row in stage2_rows(planned)}
    assert all(q not in trained_on for q in queries.values())
    assert all(set(qrels[e]) == {v.spec.video_id for v in pool if v.event == e} for e in queries)


def test_a_video_file_is_reused_only_for_the_same_picture(planned):
    """A rerun keeps encoded files; one drawn under another plan must not stand in for a different picture."""
    small = {v.spec.video_id: v for v in plan_videos(planned[0].path.parent.parent, seed=13, plan=Plan(3, 2, (2, 4)))}
    shared = [v for v in planned if v.spec.video_id in small]
    assert any(v.spec == small[v.spec.video_id].spec for v in shared)  # the same draws come first under both plans
    assert any(v.spec != small[v.spec.video_id].spec for v in shared)
    assert all((v.path == small[v.spec.video_id].path) == (v.spec == small[v.spec.video_id].spec) for v in shared)


def test_stage2_groups_hold_their_event_video_against_every_other_event(planned):
    rows = stage2_rows(planned)
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["query_id"], []).append(row)
    assert len(groups) == len(EVENTS) * TRAIN_PHRASINGS * 6
    event_of = {v.spec.video_id: v.event for v in planned}
    for group_id, members in groups.items():
        event = group_id.split("/")[0]
        positives = [r for r in members if r["true_label"] == 1]
        assert len(positives) == 1 and event_of[positives[0]["doc_id"]] == event
        assert all(event_of[r["doc_id"]] != event for r in members if r["true_label"] == 0)
        assert len(members) == 1 + 6 * (len(EVENTS) - 1) + 4
        assert all(r["teacher_p_yes"] is None for r in members)


def test_stage1_targets_say_what_the_generator_drew(planned):
    captions = {r["query_id"]: r["caption"] for r in stage1_rows(planned)}
    for video in planned:
        if video.split == "train":
            colour = video.spec.topic.colour if video.spec.topic else "grey"
            assert colour in captions[video.spec.video_id] == picture_caption(video.spec)


def test_a_caption_counts_when_it_names_the_colour(planned):
    _, _, pool = held_out_set(planned)
    right = {v.spec.video_id: picture_caption(v.spec) for v in pool}
    assert caption_accuracy(right, pool) == 1.0
    same = {v.spec.video_id: "A small grey square drifts." for v in pool}
    assert caption_accuracy(same, pool) == pytest.approx(8 / 40) == one_caption_ceiling(pool)  # the 8 distractors


def test_random_order_recall_is_k_over_n(planned):
    """Whatever the relevant count, a random order puts each relevant video in the top k with chance k / N."""
    _, qrels, pool = held_out_set(planned)
    chance = random_order_metrics(qrels, pool, draws=2000, seed=1)
    for k in CUTOFFS:
        assert chance[f"R@{k}"] == pytest.approx(k / len(pool), abs=0.02)


def test_auc_counts_the_pairs_in_the_right_order_ties_half():
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}
    run = {"q1": {"a": 3.0, "b": 1.0, "c": 2.0, "d": 0.0},  # a beats c and d, b beats d only: 3 of 4 pairs
           "q2": {"a": 1.0, "b": 0.5, "c": 0.5, "d": 0.0}}  # c loses to a, ties b, beats d: 1.5 of 3
    assert pair_auc(run, qrels) == pytest.approx((3 / 4 + 1.5 / 3) / 2)


def test_random_order_auc_is_one_half(planned):
    _, qrels, pool = held_out_set(planned)
    assert random_order_metrics(qrels, pool, draws=2000, seed=1)["AUC"] == pytest.approx(0.5, abs=0.01)


def test_the_check_runs_end_to_end_on_the_tiny_model(tiny_model, tmp_path):
    from rankvideo.models.model_card import MODEL_CARD
    from rankvideo.workflow.config import load_config

    config = load_config("config.yaml", "config/demo.yaml")
    for stage in ("stage1", "stage2"):
        config["train"][stage]["epochs"] = 1
    plan = Plan(train_per_event=3, test_per_event=2, distractors=(2, 4))  # half the check's videos: the test checks the plumbing
    result = run_check(tmp_path, tiny_model, config, plan=plan)
    assert list(result["systems"]) == ["random order", "base (untrained)", "RV-1", "RV-2", "RV-2 without Stage 1"]
    for metrics in result["systems"].values():
        assert all(0.0 <= metrics[f"{m}@{k}"] <= 1.0 for m in ("nDCG", "R") for k in CUTOFFS) and 0.0 <= metrics["AUC"] <= 1.0
    groups = len(EVENTS) * TRAIN_PHRASINGS * 3
    stage2_steps = -(-groups // config["train"]["stage2"]["groups_per_step"])
    steps = [len((tmp_path / f"{name}_log.jsonl").read_text().splitlines()) for name in ("rv1", "rv2", "rv2-no-stage1")]
    assert steps == [-(-(len(EVENTS) * 3 + 2) // config["train"]["stage1"]["batch_size"]), stage2_steps, stage2_steps]
    assert all(json.loads((tmp_path / "models" / m / MODEL_CARD).read_text())["prompt_format"] == "paper" for m in ("rv1", "rv2"))
    assert all(0.0 <= result["systems"][m]["caption colour"] <= 1.0 for m in ("base (untrained)", "RV-1"))
    assert set(result["captions"]["RV-1"]) == set(result["test_videos"])
    assert "| RV-2 |" in (tmp_path / "curriculum.md").read_text()
