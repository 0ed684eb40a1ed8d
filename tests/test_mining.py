"""Query parsing, the first-stage filters, the teacher partition and the training sets on hand-worked fixtures."""

import pytest

from rankvideo.mining import (Judgment, filter_queries, partition, sample_negatives, stage1_rows, stage2_rows)
from rankvideo.synthesis import SyntheticQuery, deduplicate, evidence, parse_query, synthesize


@pytest.mark.parametrize("raw, expected", [
    ("<think>The speaker talks about a fire.</think>\nWildfire forces families to evacuate", "Wildfire forces families to evacuate"),
    ('1. "Why was the harbor bridge closed?"', "Why was the harbor bridge closed?"),
    ("Query: flood warning for the river town\nThis query asks about...", "flood warning for the river town"),
    ("- **chess championship final**", "chess championship final"),
    ("  Search query: “robot contest at the high school”  ", "robot contest at the high school"),
    ("Here is the query:\nvolcano lights up the night sky", "volcano lights up the night sky"),
])
def test_parse_query_cleans_llm_answers(raw, expected):
    assert parse_query(raw) == (expected, "")


@pytest.mark.parametrize("raw, reason", [
    ("", "empty answer"), ("<think>hmm</think>", "empty answer"), ("Volcano", "answer too short"),
    (" ".join(["word"] * 40), "answer too long (40 words)"),
])
def test_parse_query_rejects_with_reason(raw, reason):
    query, why = parse_query(raw)
    assert query is None and why.startswith(reason)


def test_evidence_per_variant():
    record = {"video_id": "v1", "metadata": {"title": "Eclipse", "description": ""}, "caption": "dark sky", "asr": "", "ocr": "TOTAL ECLIPSE"}
    assert evidence(record, "metadata") == "Title: Eclipse"
    assert evidence(record, "audio") == ""
    assert evidence(record, "all") == "Title: Eclipse\nVideo caption: dark sky\nOn-screen text: TOTAL ECLIPSE"


class ScriptedLLM:
    """Stands in for the text LLM's sampling only: every prompt, retry and parse runs for real."""

    name = "scripted"

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def chat_prompt(self, system, user):
        return user

    def generate(self, prompts, max_new_tokens, sample, seed):
        self.calls.append((len(prompts), sample))
        return [self.answers.pop(0) for _ in prompts]


def test_synthesize_retries_malformed_answers_then_records_them():
    records = [{"video_id": "v1", "metadata": {"title": "Volcano erupts"}, "caption": "", "asr": "lava everywhere", "ocr": ""}]
    llm = ScriptedLLM(["lava flows from a volcano", "", "why did the volcano erupt", "x", "y"])
    queries, skips = synthesize(records, llm, ["audio", "metadata", "ocr", "all"], retries=2)
    assert [(q.variant, q.text, q.attempt) for q in queries] == [("audio", "lava flows from a volcano", 0), ("all", "why did the volcano erupt", 0)]
    assert {s.item_id: s.reason.split(";")[0] for s in skips} == {"v1:ocr": "no ocr text for this video",
                                                                   "v1:metadata": "answer too short: 'y' after 3 attempts"}
    assert llm.calls == [(3, False), (1, True), (1, True)]


def test_deduplicate_keeps_first_and_names_it():
    qs = [SyntheticQuery("a", "Flood warning!", "ocr", "v1", "m", 0), SyntheticQuery("b", "flood  warning", "all", "v1", "m", 0)]
    kept, skips = deduplicate(qs)
    assert [q.query_id for q in kept] == ["a"] and skips[0].reason == "duplicate of a"


RUN = {
    "qa": {"pos": 0.50, "n1": 0.90, "n2": 0.40},   # top negative 0.90 <= 2 x 0.50: kept
    "qb": {"pos": 0.20, "n1": 0.45, "n2": 0.10},   # 0.45 > 2 x 0.20: dropped by (b)
    "qc": {"n1": 0.9, "n2": 0.8, "n3": 0.7, "pos": 0.6},  # positive at rank 4 > depth 3: dropped by (a)
    "qd": {"p1": 0.3, "p2": 0.8, "n1": 0.5},       # two relevant: the best-ranked (p2) is the positive
}
RELEVANT = {"qa": {"pos"}, "qb": {"pos"}, "qc": {"pos"}, "qd": {"p1", "p2"}, "qe": {"pos"}}


def test_first_stage_filters_on_a_hand_worked_fixture():
    kept, dropped = filter_queries(RUN, RELEVANT, positive_depth=3, max_negative_ratio=2.0, n_candidates=5)
    assert [(c.query_id, c.positive, [v for v, _ in c.negatives]) for c in kept] == [("qa", "pos", ["n1", "n2"]), ("qd", "p2", ["n1"])]
    assert dropped["qb"].startswith("filter b: top hard negative n1 scores 0.4500 > 2.0 x positive 0.2000")
    assert dropped["qc"] == dropped["qe"] == "filter a: no relevant video in the first-stage top 3"


def J(q, v, delta, positive=False):
    return Judgment(q, v, positive, delta)


def test_partition_on_a_hand_worked_fixture():
    judgments = [
        J("q1", "p", 3.0, True), J("q1", "t1", -7.0), J("q1", "t2", -6.0), J("q1", "h1", -2.0), J("q1", "s1", 0.5),
        J("q2", "p", -0.1, True), J("q2", "t", -9.0),        # positive misjudged: dropped
        J("q3", "p", 2.0, True), J("q3", "h", -5.9), J("q3", "s", 4.0),  # no trusted negative: dropped
    ]
    kept, dropped = partition(judgments, alpha1=-6.0, alpha2=-8.0, min_trusted=1)
    assert len(kept) == 1
    part = kept[0]
    assert ([j.video_id for j in part.trusted], [j.video_id for j in part.hard], [j.video_id for j in part.suspected]) == (["t1", "t2"], ["h1"], ["s1"])
    assert dropped == {"q2": "teacher misjudged the positive p (delta -0.100)", "q3": "0 trusted negative(s) < 1"}
    loose, _ = partition(judgments, alpha1=-1.0, alpha2=-8.0, min_trusted=1)  # a looser alpha1 trusts h1 and q3's h
    assert [j.video_id for j in loose[0].trusted] == ["t1", "t2", "h1"] and [p.query_id for p in loose] == ["q1", "q3"]


def test_negatives_rotate_across_epochs_and_training_rows():
    part, _ = partition([J("q", "p", 1.0, True), *(J("q", f"n{i}", -7.0) for i in range(5))], -6.0, -8.0, 1)
    epochs = [sample_negatives(part[0], k=2, seed=3, epoch=e) for e in range(3)]
    assert all(len(e) == 2 for e in epochs)
    assert {j.video_id for e in epochs for j in e} == {f"n{i}" for i in range(5)}  # three epochs of two see all five
    assert sample_negatives(part[0], 2, seed=3) == sample_negatives(part[0], 2, seed=3)
    records = {v: {"path": f"/v/{v}.mp4", "caption": f"cap {v}", "asr": ""} for v in ["p", *(f"n{i}" for i in range(5))]}
    s1 = stage1_rows(part, {"q": "query"}, records)
    assert s1 == [{"query_id": "q", "query": "query", "doc_id": "p", "videos": ["/v/p.mp4"], "caption": "cap p"}]
    s2 = stage2_rows(part, {"q": "query"}, records)
    assert [r["true_label"] for r in s2] == [1, 0, 0, 0, 0, 0]
    assert s2[0]["teacher_p_yes"] == pytest.approx(1 / (1 + 2.718281828 ** -1.0), rel=1e-6)
    assert set(s2[0]) >= {"query_id", "query", "doc_id", "videos", "true_label", "teacher_p_yes", "evidence", "teacher_reasoning"}
