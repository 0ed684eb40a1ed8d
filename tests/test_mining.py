"""Query parsing, the first-stage filters, the teacher partition and the training sets on hand-worked fixtures."""

from dataclasses import replace

import pytest

from rankvideo.files.skips import Why
from rankvideo.judge.partition import partition, partition_rows, read_partitions
from rankvideo.judge.teacher import Judgment, judge, read_judgments
from rankvideo.judge.training_sets import sample_negatives, stage1_rows, stage2_rows
from rankvideo.models.textllm import Margin
from rankvideo.synthesize.filters import Candidate, filter_queries
from rankvideo.synthesize.queries import SyntheticQuery, deduplicate, evidence, parse_query, synthesize
from rankvideo.synthesize.settings import FilterSettings, SynthesisSettings
from tests.conftest import PAPER_PARTITION


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
    queries, skips = synthesize(records, llm, SynthesisSettings("transformers", ("audio", "metadata", "ocr", "all"), retries=2, max_new_tokens=64))
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
    kept, dropped = filter_queries(RUN, RELEVANT, FilterSettings(positive_depth=3, max_negative_ratio=2.0, candidates=5))
    assert [(c.query_id, c.positive, [v for v, _ in c.negatives]) for c in kept] == [("qa", "pos", ["n1", "n2"]), ("qd", "p2", ["n1"])]
    why = {s.item_id: s for s in dropped}
    assert why["qb"].code == Why.FILTER_B and why["qb"].reason.startswith("filter b: top hard negative n1 scores 0.4500 > 2.0 x positive 0.2000")
    assert why["qc"].code == why["qe"].code == Why.FILTER_A and {s.stage for s in dropped} == {"filter"}
    assert why["qc"].reason == why["qe"].reason == "filter a: no relevant video in the first-stage top 3"


def J(q, v, delta, positive=False):
    return Judgment(q, v, positive, delta)


def test_partition_on_a_hand_worked_fixture():
    judgments = [
        J("q1", "p", 3.0, True), J("q1", "t1", -7.0), J("q1", "t2", -6.0), J("q1", "h1", -2.0), J("q1", "s1", 0.5),
        J("q2", "p", -0.1, True), J("q2", "t", -9.0),        # positive misjudged: dropped
        J("q3", "p", 2.0, True), J("q3", "h", -5.9), J("q3", "s", 4.0),  # no trusted negative: dropped
    ]
    kept, dropped = partition(judgments, PAPER_PARTITION)
    assert len(kept) == 1
    part = kept[0]
    assert ([j.video_id for j in part.trusted], [j.video_id for j in part.hard], [j.video_id for j in part.suspected]) == (["t1", "t2"], ["h1"], ["s1"])
    assert {s.item_id: (s.stage, s.code, s.reason) for s in dropped} == {
        "q2": ("judge", Why.MISJUDGED_POSITIVE, "teacher misjudged the positive p (delta -0.100)"),
        "q3": ("judge", Why.FEW_TRUSTED_NEGATIVES, "0 trusted negative(s) < 1")}
    loose, _ = partition(judgments, replace(PAPER_PARTITION, alpha1=-1.0))  # a looser alpha1 trusts h1 and q3's h
    assert [j.video_id for j in loose[0].trusted] == ["t1", "t2", "h1"] and [p.query_id for p in loose] == ["q1", "q3"]


def test_negatives_rotate_across_epochs_and_training_rows():
    part, _ = partition([J("q", "p", 1.0, True), *(J("q", f"n{i}", -7.0) for i in range(5))], PAPER_PARTITION)
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


@pytest.mark.parametrize("negative, kept", [(0.5, True), (0.5000001, False), (0.4999999, True)])
def test_filter_b_drops_only_above_exactly_twice_the_positive(negative, kept):
    run = {"q": {"pos": 0.25, "neg": negative}}
    found, dropped = filter_queries(run, {"q": {"pos"}}, FilterSettings(positive_depth=10, max_negative_ratio=2.0, candidates=5))
    assert (len(found) == 1, "q" in {s.item_id for s in dropped}) == (kept, not kept)


def test_alpha2_decides_suspected_against_hard():
    judgments = [J("q", "p", 3.0, True), J("q", "t", -7.0), J("q", "y1", 0.5), J("q", "y2", 2.5)]
    default, _ = partition(judgments, PAPER_PARTITION)
    assert [j.video_id for j in default[0].suspected] == ["y1", "y2"] and default[0].hard == []
    strict, _ = partition(judgments, replace(PAPER_PARTITION, alpha2=1.0))  # only confident yes answers are suspected
    assert [j.video_id for j in strict[0].suspected] == ["y2"] and [j.video_id for j in strict[0].hard] == ["y1"]
    at_boundary, _ = partition(judgments, replace(PAPER_PARTITION, alpha2=2.5))  # delta > alpha2, strictly
    assert at_boundary[0].suspected == [] and [j.video_id for j in at_boundary[0].hard] == ["y1", "y2"]


def test_yes_threshold_moves_the_teachers_answer():
    rows = [{"query_id": "q", "video_id": "p", "is_positive": True, "delta": 0.5, "reasoning": "r"},
            {"query_id": "q", "video_id": "n", "is_positive": False, "delta": -7.0}]
    own = read_judgments(rows)
    assert [j.says_yes for j in own] == [True, False] and own[0].reasoning == "r" and own[1].reasoning == ""
    raised = read_judgments(rows, yes_threshold=1.0)
    assert [j.says_yes for j in raised] == [False, False]
    kept, dropped = partition(raised, PAPER_PARTITION)
    assert kept == [] and [(s.item_id, s.code, s.reason) for s in dropped] == [("q", Why.MISJUDGED_POSITIVE, "teacher misjudged the positive p (delta 0.500)")]


def test_partition_rows_read_back_as_the_partition():
    judgments = [Judgment("q", "p", True, 2.0, "why", 0.5), Judgment("q", "t", False, -7.0, "", 0.5),
                 Judgment("q", "h", False, -1.0, "", 0.5), Judgment("q", "s", False, 1.0, "", 0.5)]
    kept, _ = partition(judgments, PAPER_PARTITION)
    assert read_partitions(partition_rows(kept)) == kept
    assert [j.yes_threshold for j in read_partitions(partition_rows(kept))[0].hard] == [0.5]


class ScriptedTeacher:
    """A text LLM whose reasoning is known: it writes one line per prompt, and its margin depends on that line.

    The margin is read from the prompt text it is given, so a margin read without the reasoning (or with another
    pair's) comes out different: +3 after "RELEVANT", -4 after "UNRELATED", 0 with no verdict.
    """

    def __init__(self):
        self.generated: list[str] = []

    def chat_prompt(self, system: str, user: str) -> str:
        return f"<system>{system}</system><user>{user}</user><assistant>"

    def generate(self, prompts, max_new_tokens=48):
        out = []
        for prompt in prompts:
            verdict = "RELEVANT" if "kite" in prompt.split("Video caption:")[0] and "kite" in prompt.split("Video caption:")[1] else "UNRELATED"
            out.append(f"Thinking about {prompt.count('Query')} query: {verdict}.<answer>ignored</answer>")
        self.generated += out
        return out

    def margins(self, prompts, batch_size=16):
        assert all(p.endswith("<answer>") for p in prompts)
        return [Margin(3.0, 0.0) if "RELEVANT." in p else Margin(0.0, 4.0) if "UNRELATED." in p else Margin(0.0, 0.0) for p in prompts]


def test_reason_mode_reads_the_margin_after_each_pairs_own_reasoning():
    queries = {"q1": "kite festival", "q2": "chess final"}
    records = {"kite": {"caption": "a kite over the beach", "asr": ""}, "chess": {"caption": "a chess board", "asr": "check"},
               "other": {"caption": "a kite shop", "asr": ""}}
    candidates = [Candidate("q1", "kite", 0.9, [("chess", 0.5), ("other", 0.4)]), Candidate("q2", "chess", 0.8, [("kite", 0.3)])]
    teacher = ScriptedTeacher()
    judged = judge(teacher, candidates, queries, records, "reason", max_reasoning_tokens=64)
    got = {(j.query_id, j.video_id): (j.is_positive, j.delta, j.reasoning.split(": ")[-1]) for j in judged}
    assert got == {("q1", "kite"): (True, 3.0, "RELEVANT."), ("q2", "chess"): (True, -4.0, "UNRELATED."),
                   ("q1", "chess"): (False, -4.0, "UNRELATED."), ("q1", "other"): (False, 3.0, "RELEVANT."),
                   ("q2", "kite"): (False, -4.0, "UNRELATED.")}
    assert all("<answer>" not in j.reasoning for j in judged)  # the reasoning is kept up to its <answer>
    direct = judge(ScriptedTeacher(), candidates, queries, records, "direct", max_reasoning_tokens=0)
    assert {j.delta for j in direct} == {0.0} and all(j.reasoning == "" for j in direct)  # no reasoning, no verdict


def test_stage2_groups_rotate_more_negatives_than_k_and_never_train_on_a_suspected_positive():
    """Five usable negatives for K = 2 over three epochs: each epoch's group is the positive and two negatives, the
    epochs differ and together see all five, in the order training_sets samples for epoch 0. The teacher's suspected
    positives never become negatives, in the rows or in any epoch's group."""
    from rankvideo.train.stage2 import stage2_groups

    usable = {"t0", "t1", "t2", "h1", "h2"}
    judgments = [J("q", "p", 2.0, True), *(J("q", v, -7.0) for v in ("t0", "t1", "t2")), J("q", "h1", -2.0), J("q", "h2", -1.0),
                 J("q", "s1", 3.0), J("q", "s2", 0.5), J("r", "p", 2.0, True), J("r", "t", -9.0), J("r", "s", 4.0)]
    parts, _ = partition(judgments, PAPER_PARTITION)
    assert [[j.video_id for j in p.suspected] for p in parts] == [["s1", "s2"], ["s"]]
    records = {v: {"path": f"/v/{v}.mp4", "caption": v, "asr": ""} for v in (*usable, "p", "t", "s", "s1", "s2")}
    rows = stage2_rows(parts, {"q": "query q", "r": "query r"}, records)
    assert {r["doc_id"] for r in rows if r["query_id"] == "q" and not r["true_label"]} == usable
    assert not {"s", "s1", "s2"} & {r["doc_id"] for r in rows}
    groups = stage2_groups(rows, k=2, seed=3)
    per_epoch = []
    for epoch in range(3):
        by_query = {g["query_id"]: [(r["doc_id"], r["true_label"]) for r in g["rows"]] for g in groups(epoch)}
        assert by_query["r"] == [("p", 1), ("t", 0)]  # fewer negatives than K: all of them
        negatives = [doc for doc, _ in by_query["q"][1:]]
        assert by_query["q"][0] == ("p", 1) and len(set(negatives)) == 2 and set(negatives) <= usable
        assert negatives == [j.video_id for j in sample_negatives(parts[0], 2, seed=3, epoch=epoch)]
        per_epoch.append(negatives)
    assert per_epoch[0] != per_epoch[1] and {v for negatives in per_epoch for v in negatives} == usable  # three epochs of two see all five
