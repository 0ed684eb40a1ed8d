"""The curriculum check: clean data held out by wording and by video, and its run end to end on the tiny model."""

import json
from collections import Counter

import pytest

from rankvideo.demo.curriculum import (CUTOFFS, EVENTS, TRAIN_PHRASINGS, caption_accuracy, held_out_set, one_caption_ceiling,
                                       picture_caption, plan_videos, random_order_metrics, run_check, stage1_rows, stage2_rows)


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    return plan_videos(tmp_path_factory.mktemp("plan"), seed=13)


def test_wording_and_videos_are_both_held_out(planned):
    queries, qrels, pool = held_out_set(planned)
    train_ids = {v.spec.video_id for v in planned if v.split == "train"}
    assert not train_ids & {v.spec.video_id for v in pool}
    assert Counter(v.event for v in planned if v.split == "train") == Counter({**{e.topic_id: 3 for e in EVENTS}, "": 2})
    assert Counter(v.event for v in pool) == Counter({**{e.topic_id: 2 for e in EVENTS}, "": 4})
    trained_on = {row["query"] for row in stage2_rows(planned)}
    assert all(q not in trained_on for q in queries.values())
    assert all(set(qrels[e]) == {v.spec.video_id for v in pool if v.event == e} for e in queries)


def test_stage2_groups_hold_their_event_video_against_every_other_event(planned):
    rows = stage2_rows(planned)
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["query_id"], []).append(row)
    assert len(groups) == len(EVENTS) * TRAIN_PHRASINGS * 3
    event_of = {v.spec.video_id: v.event for v in planned}
    for group_id, members in groups.items():
        event = group_id.split("/")[0]
        positives = [r for r in members if r["true_label"] == 1]
        assert len(positives) == 1 and event_of[positives[0]["doc_id"]] == event
        assert all(event_of[r["doc_id"]] != event for r in members if r["true_label"] == 0)
        assert len(members) == 1 + 3 * (len(EVENTS) - 1) + 2
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
    assert caption_accuracy(same, pool) == pytest.approx(4 / 20) == one_caption_ceiling(pool)  # the 4 distractors


def test_random_order_recall_is_k_over_n(planned):
    """Whatever the relevant count, a random order puts each relevant video in the top k with chance k / N."""
    _, qrels, pool = held_out_set(planned)
    chance = random_order_metrics(qrels, pool, draws=2000, seed=1)
    for k in CUTOFFS:
        assert chance[f"R@{k}"] == pytest.approx(k / len(pool), abs=0.02)


def test_the_check_runs_end_to_end_on_the_tiny_model(tiny_model, tmp_path):
    from rankvideo.config import load_config
    from rankvideo.tiny import MODEL_CARD

    config = load_config("config.yaml", "config/demo.yaml")
    for stage in ("stage1", "stage2"):
        config["train"][stage]["epochs"] = 1
    result = run_check(tmp_path, tiny_model, config)
    assert list(result["systems"]) == ["random order", "base (untrained)", "RV-1", "RV-2", "RV-2 without Stage 1"]
    for metrics in result["systems"].values():
        assert all(0.0 <= metrics[f"{m}@{k}"] <= 1.0 for m in ("nDCG", "R") for k in CUTOFFS)
    groups = len(EVENTS) * TRAIN_PHRASINGS * 3
    steps = [len((tmp_path / f"{name}_log.jsonl").read_text().splitlines()) for name in ("rv1", "rv2", "rv2-no-stage1")]
    assert steps == [-(-(len(EVENTS) * 3 + 2) // config["train"]["stage1"]["batch_size"]), groups, groups]
    assert all(json.loads((tmp_path / "models" / m / MODEL_CARD).read_text())["prompt_format"] == "paper" for m in ("rv1", "rv2"))
    assert all(0.0 <= result["systems"][m]["caption colour"] <= 1.0 for m in ("base (untrained)", "RV-1"))
    assert set(result["captions"]["RV-1"]) == set(result["test_videos"])
    assert "| RV-2 |" in (tmp_path / "curriculum.md").read_text()
