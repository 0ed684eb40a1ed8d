"""Exact messages, prompts and file bytes of the pure core, pinned where mutation testing (`make mutation`) found
the suite blind: each case fails when the text a user or a model reads changes."""

import json
import math

import pytest

from rankvideo.evaluate.metrics import evaluate_run, table_markdown
from rankvideo.files.errors import FormatError
from rankvideo.files.predictions import read_predictions, write_prediction
from rankvideo.files.qrels import read_qrels
from rankvideo.files.queries import read_queries, write_queries
from rankvideo.files.runs import read_json_run, read_run, read_trec_run, write_json_run
from rankvideo.files.training_rows import read_stage1_rows, read_stage2_rows
from rankvideo.files.video2queries import read_video2queries, write_video2queries
from rankvideo.files.video_sheet import VideoRecord, read_video_sheet, write_video_sheet
from rankvideo.judge.partition import partition
from rankvideo.judge.teacher import JUDGE_SYSTEM, Judgment, judge, judge_user_prompt, judgment_rows
from rankvideo.judge.training_sets import rotate, sample_negatives, stage2_rows
from rankvideo.models.prompts import log_sigmoid, query_suffix, render, render_caption, shared_prefix, sigmoid
from rankvideo.rerank.reranker import scored
from rankvideo.synthesize.filters import Candidate, filter_queries
from rankvideo.synthesize.settings import FilterSettings
from tests.conftest import PAPER_PARTITION


def error_of(reader, path, *args, **kwargs) -> str:
    with pytest.raises(FormatError) as info:
        reader(path, *args, **kwargs)
    assert info.value.path == str(path)
    return str(info.value).removeprefix(str(path))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- formats: every error branch, with the file and line it names -------------------------------------------

READ_CASES = [
    ("queries", read_queries, "q.tsv", "q1\tdog\n\t cat\n", {}, ":2: empty query id"),
    ("qrels", read_qrels, "qrels.txt", "q1 0 v1 1\nqX 0 v1 1\n", {"query_ids": {"q1"}},
     ":2: unknown query id 'qX' (not in the query id list this file is checked against)"),
    ("qrels", read_qrels, "qrels.txt", "q1 0 v1 1\nq1 0 v1 0\n", {}, ":2: duplicate judgment for (q1, v1)"),
    ("trec", read_trec_run, "r.trec", "q1 Q0 v1 1 1.0 s\nqX Q0 v1 1 1.0 s\n", {"query_ids": {"q1"}},
     ":2: unknown query id 'qX' (not in the query id list this file is checked against)"),
    ("trec", read_trec_run, "r.trec", "q1  Q0 v1\t1 1.0   s\n\nq1 Q0 " + "v" * 90 + "\n", {},
     ":3: expected 6 whitespace-separated fields, found 3: 'q1 Q0 " + "v" * 74 + "'"),
    ("json run", read_json_run, "r.json", '{"qX": {"v1": 1.0}}', {"query_ids": {"q1"}},
     ": unknown query id 'qX' (not in the query id list this file is checked against)"),
    ("json run", read_json_run, "r.json", '{"q1": {"vX": 1.0}}', {"doc_ids": {"v1"}},
     ": unknown video id 'vX' (not in the video id list this file is checked against)"),
    ("json run", read_json_run, "r.json", '{"q1": [1.0]}', {}, ": query 'q1': expected an object {video_id: score}, got list"),
    ("json run", read_json_run, "r.json", '{"q1": {"v1": "high"}}', {}, ": score must be a number, got 'high'"),
    ("any run", read_run, "r.json", '{"qX": {"v1": 1.0}}', {"query_ids": {"q1"}},
     ": unknown query id 'qX' (not in the query id list this file is checked against)"),
    ("any run", read_run, "r.trec", "q1 Q0 vX 1 1.0 s\n", {"doc_ids": {"v1"}},
     ":1: unknown video id 'vX' (not in the video id list this file is checked against)"),
    ("video2queries", read_video2queries, "v2q.json", '{"vX": ["q1"]}', {"video_ids": {"v1"}},
     ": unknown video id 'vX' (not in the video id list this file is checked against)"),
    ("video2queries", read_video2queries, "v2q.json", '{"v1": ["q1", "q1"]}', {}, ": video 'v1': a query id is listed twice"),
    ("video sheet", read_video_sheet, "s.tsv", "\n", {}, ":1: empty video sheet; expected a header line 'video_id<TAB>path<TAB>...'"),
    ("video sheet", read_video_sheet, "s.tsv", "video_id\tpath\tpath\n", {}, ":1: duplicate column names in header ['video_id', 'path', 'path']"),
    ("video sheet", read_video_sheet, "s.tsv", "video_id\tpath\n \ta.mp4\n", {}, ":2: empty video_id"),
    ("predictions", read_predictions, "v1_reranking_m.json", '{"v1": {"q1": 0.5}}', {},
     ": video 'v1': expected an object {query_id: {logit_delta, p_yes, ...}}"),
    ("predictions", read_predictions, "v1_reranking_m.json", '{"v1": 3}', {},
     ": video 'v1': expected an object {query_id: {logit_delta, p_yes, ...}}"),
    ("predictions", read_predictions, "v1_reranking_m.json", '{"v1": {"q1": {"p": 1}}}', {},
     ": (q1, v1) has none of the score keys ['logit_delta', 'logit_delta', 'logit_delta_yes_minus_no']"),
    ("predictions", read_predictions, "v1_reranking_m.json", '{"v1": {"q1": {"logit_delta": NaN}}}', {},
     ": score is nan, not a finite number; fix the system that wrote it"),
    ("predictions", read_predictions, "v1_reranking_m.json", "[]", {}, ": expected a JSON object {video_id: {query_id: {logit_delta, p_yes, ...}}}"),
    ("stage 1", read_stage1_rows, "s1.jsonl", '{"caption": "x", "videos": ["/v.mp4"]}\n\n{oops\n', {}, ":3: invalid JSON line: Expecting property name enclosed in double quotes"),
    ("stage 1", read_stage1_rows, "s1.jsonl", '{"caption": "x", "videos": ["/v.mp4"]}\n[1]\n', {}, ":2: expected a JSON object per line"),
    ("stage 1", read_stage1_rows, "s1.jsonl", "\n\n", {}, ": empty: the file holds no training rows"),
    ("queries", read_queries, "q.tsv", "q" * 90 + "\n", {}, ":1: expected at least 2 tab-separated fields, found 1: '" + "q" * 80 + "'"),
    ("stage 2", read_stage2_rows, "s2.jsonl", '\n{"query_id": "q", "query": "t", "doc_id": "v", "videos": "/v.mp4", "true_label": 1}\n', {},
     ":2: expected 'videos': [path, ...] with the video's path first"),
]


@pytest.mark.parametrize("kind, reader, name, content, kwargs, expected", READ_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(READ_CASES)])
def test_each_reader_error_names_file_line_and_reason(tmp_path, kind, reader, name, content, kwargs, expected):
    path = write(tmp_path, name, content)
    assert error_of(lambda p, **k: reader([p], **k) if reader is read_predictions else reader(p, **k), path, **kwargs) == expected


def test_predictions_read_the_asked_field_and_refuse_a_pair_twice(tmp_path):
    write_prediction(tmp_path, "v1", "m", {"q1": scored("", "", 2.0, 0.0)})
    assert read_predictions([tmp_path / "v1_reranking_m.json"], "p_yes") == {"q1": {"v1": sigmoid(2.0)}}
    (tmp_path / "copy").mkdir()
    write_prediction(tmp_path / "copy", "v1", "m", {"q1": scored("", "", 1.0, 0.0)})
    second = tmp_path / "copy" / "v1_reranking_m.json"
    assert error_of(lambda p: read_predictions([tmp_path / "v1_reranking_m.json", p]), second) == (
        ": (q1, v1) is scored in another file of this folder as well")


def test_partition_goes_on_after_a_dropped_query():
    judgments = [Judgment("q1", "p", True, 1.0), Judgment("q1", "h", False, -1.0),   # no trusted negative: dropped
                 Judgment("q2", "p", True, 1.0), Judgment("q2", "t", False, -7.0)]
    kept, dropped = partition(judgments, PAPER_PARTITION)
    assert [p.query_id for p in kept] == ["q2"] and reasons(dropped) == {"q1": ("judge", "few_trusted_negatives", "0 trusted negative(s) < 1")}


def test_a_format_error_carries_its_parts(tmp_path):
    err = FormatError(tmp_path / "x.tsv", 7, "bad thing")
    assert (err.path, err.line, err.reason, str(err)) == (str(tmp_path / "x.tsv"), 7, "bad thing", f"{tmp_path / 'x.tsv'}:7: bad thing")


def test_blank_lines_and_runs_of_spaces_are_read_around(tmp_path):
    path = write(tmp_path, "r.trec", "\nq1  Q0 v1\t1 2.0   s\n   \nq2 Q0 v2 1 1.0 s\n")
    assert read_trec_run(path) == {"q1": {"v1": 2.0}, "q2": {"v2": 1.0}}
    assert read_qrels(write(tmp_path, "qrels.txt", "q1\t0  v1 1\n\nq2 0 v2 2\n")) == {"q1": {"v1": 1}, "q2": {"v2": 2}}


def test_stage2_labels_and_teacher_bounds(tmp_path):
    rows = [{"query_id": "q", "query": "t", "doc_id": f"v{i}", "videos": ["/v.mp4"], "true_label": label, "teacher_p_yes": p}
            for i, (label, p) in enumerate([(0, 0.0), (1, 1.0), (True, None), (False, 0.5)])]
    path = write(tmp_path, "s2.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert [(r["true_label"], r["teacher_p_yes"]) for r in read_stage2_rows(path)] == [(0, 0.0), (1, 1.0), (1, None), (0, 0.5)]
    for label, teacher, message in ((2, 0.5, "expected 'true_label' (or 'teacher_label') 0 or 1, got 2"),
                                    (1, 1.5, "teacher_p_yes must be a probability in [0, 1], got 1.5"),
                                    (1, "0.5", "teacher_p_yes must be a probability in [0, 1], got '0.5'")):
        bad = write(tmp_path, "bad.jsonl", json.dumps({**rows[0], "true_label": label, "teacher_p_yes": teacher}) + "\n")
        assert error_of(read_stage2_rows, bad) == f":1: {message}"


def test_writers_write_these_exact_bytes(tmp_path):
    write_json_run(tmp_path / "r.json", {"q2": {"a": 1.0}, "q1": {"b": 0.5, "c": 2.0}})
    assert (tmp_path / "r.json").read_text() == '{\n "q1": {\n  "c": 2.0,\n  "b": 0.5\n },\n "q2": {\n  "a": 1.0\n }\n}\n'
    write_video2queries(tmp_path / "v.json", {"v1": ("q1", "q2")})
    assert (tmp_path / "v.json").read_text() == '{\n "v1": [\n  "q1",\n  "q2"\n ]\n}\n'
    write_prediction(tmp_path, "v1", "RankVideo", {"q1": scored("", "", 1.0, 0.0)})
    written = (tmp_path / "v1_reranking_RankVideo.json").read_text()
    assert written.startswith('{\n  "v1": {\n    "q1": {\n      "logprob_yes": ') and written.endswith("\n    }\n  }\n}")


def test_writers_refuse_text_that_would_break_a_line(tmp_path):
    for queries, message in (({"q1": "a\tb"}, "query 'q1' contains a tab or newline"), ({"q\n1": "a"}, "query 'q\\n1' contains a tab or newline")):
        with pytest.raises(ValueError) as info:
            write_queries(tmp_path / "q.tsv", queries)
        assert str(info.value) == message
    for record, message in ((VideoRecord("v1", tmp_path / "a.mp4", {"title": "a\tb"}), "video v1: value 'a\\tb' contains a tab or newline"),
                            (VideoRecord("v1", tmp_path / "a.mp4", {"title": "a\nb"}), "video v1: value 'a\\nb' contains a tab or newline")):
        with pytest.raises(ValueError) as info:
            write_video_sheet(tmp_path / "s.tsv", [record])
        assert str(info.value) == message
    with pytest.raises(ValueError) as info:
        write_video_sheet(tmp_path / "s.tsv", [VideoRecord("v1", tmp_path / "a\tb.mp4")])
    assert str(info.value) == "video v1: value 'a\\tb.mp4' contains a tab or newline"  # the path as stored, relative


def test_video_sheet_fills_missing_metadata_and_keeps_outside_paths_absolute(tmp_path):
    (tmp_path / "sheet").mkdir()
    outside = tmp_path / "elsewhere" / "b.mp4"
    write_video_sheet(tmp_path / "sheet" / "s.tsv", [VideoRecord("a", tmp_path / "sheet" / "a.mp4", {"title": "A"}),
                                                      VideoRecord("b", outside, {"lang": "de"})])
    assert (tmp_path / "sheet" / "s.tsv").read_text() == f"video_id\tpath\tlang\ttitle\na\ta.mp4\t\tA\nb\t{outside}\tde\t\n"


# --- prompts: the exact text a model reads ------------------------------------------------------------------

def test_paper_and_qwen_reranker_prompts_are_these_strings():
    system = ("You are a helpful assistant specialized in video and text understanding. Given a text query and a video, your task is "
              "to determine if the video is relevant to the query. Respond with <answer>yes</answer> if the video is relevant, or "
              "<answer>no</answer> if it is not.")
    video = "<|vision_start|><|video_pad|><|vision_end|>"
    assert shared_prefix("paper") == f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{video}"
    assert render("paper", "dog") == (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{video}Query: dog\nIs the video relevant "
                                      "to the query? Respond with <answer>yes</answer> or <answer>no</answer>.<|im_end|>\n"
                                      "<|im_start|>assistant\n<answer>")
    assert render("qwen3-vl-reranker", "dog") == (
        '<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. Note that '
        'the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n<Instruct>: Given a search query, retrieve relevant videos '
        f"that answer the query\n<Query>: dog\n<Document>: {video}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert render_caption() == ("<|im_start|>system\nYou are a helpful assistant specialized in video and text understanding. Given a "
                                "video, your task is to produce an accurate caption. Respond within <think></think><|im_end|>\n"
                                f"<|im_start|>user\n{video}Caption this video. Respond within <think></think>.<|im_end|>\n"
                                "<|im_start|>assistant\n")
    with pytest.raises(ValueError) as info:
        query_suffix("upstream", "dog")
    assert str(info.value) == "prompt format 'upstream' has no query-independent prefix"


def test_sigmoid_and_log_sigmoid_on_both_sides_and_at_the_extremes():
    assert sigmoid(-2.0) == pytest.approx(1 / (1 + math.exp(2.0)), rel=1e-12) and sigmoid(2.0) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0 and sigmoid(0.0) == 0.5
    assert log_sigmoid(-2.0) == pytest.approx(math.log(sigmoid(-2.0)), rel=1e-12) and log_sigmoid(-1000.0) == -1000.0
    assert log_sigmoid(0.5) == pytest.approx(math.log(sigmoid(0.5)), rel=1e-12) and log_sigmoid(1000.0) == 0.0


# --- mining: judging text, filters, partition, rotation -----------------------------------------------------

def test_judge_prompt_text():
    assert judge_user_prompt("dog", "  a  dog\nruns ", "") == ("Query: dog\nVideo caption: a dog runs\nSpeech transcript: (none)\n"
                                                                "Is the video relevant to the query?")
    assert judge_user_prompt("dog", "", " woof  woof ") == "Query: dog\nVideo caption: (none)\nSpeech transcript: woof woof\nIs the video relevant to the query?"


def test_a_positive_scoring_zero_is_dropped_and_the_next_query_still_judged():
    run = {"qa": {"pos": 0.0, "n": -1.0}, "qb": {"pos": 0.5, "n": 0.25}}
    kept, dropped = filter_queries(run, {"qa": {"pos"}, "qb": {"pos"}}, FilterSettings(10, 2.0, 5))
    assert reasons(dropped) == {"qa": ("filter", "filter_b", "filter b: positive scores 0.0000 <= 0, no ratio to judge")}
    assert kept == [Candidate("qb", "pos", 0.5, [("n", 0.25)])]


def test_partition_refuses_two_positives_and_reads_past_the_positive():
    with pytest.raises(ValueError) as info:
        partition([Judgment("q", "a", True, 1.0), Judgment("q", "b", True, 1.0)], PAPER_PARTITION)
    assert str(info.value) == "query q: expected one judged positive, found 2"
    kept, _ = partition([Judgment("q", "n1", False, -7.0), Judgment("q", "p", True, 1.0), Judgment("q", "n2", False, -9.0)], PAPER_PARTITION)
    assert [j.video_id for j in kept[0].trusted] == ["n1", "n2"]


def test_rotation_walks_a_seeded_order_forward():
    import random

    pool = list(range(5))
    order = list(pool)
    random.Random("3:q").shuffle(order)
    assert [rotate(pool, 2, 3, "q", e) for e in range(3)] == [order[0:2], order[2:4], [order[4], order[0]]]
    assert rotate(pool, 5, 3, "q", 1) == order and rotate(pool, 9, 3, "q", 0) == order
    negatives = [Judgment("q", f"n{i}", False, -7.0) for i in range(5)]
    part, _ = partition([Judgment("q", "p", True, 1.0), *negatives], PAPER_PARTITION)
    assert [j.video_id for j in sample_negatives(part[0], 2, seed=3, epoch=1)] == [f"n{i}" for i in order[2:4]]
    assert [j.video_id for j in sample_negatives(part[0], 2, seed=3)] == [f"n{i}" for i in order[0:2]]  # epoch 0 by default
    other, _ = partition([Judgment("r", "p", True, 1.0), *(Judgment("r", j.video_id, False, -7.0) for j in negatives)], PAPER_PARTITION)
    order_r = list(pool)
    random.Random("3:r").shuffle(order_r)
    assert [j.video_id for j in sample_negatives(other[0], 5, seed=3)] == [f"n{i}" for i in order_r]


def test_training_and_judgment_rows_have_these_fields():
    j = Judgment("q", "v", False, -2.0, "because", 0.0)
    assert judgment_rows([j]) == [{"query_id": "q", "video_id": "v", "is_positive": False, "delta": -2.0, "reasoning": "because",
                                   "yes_threshold": 0.0, "p_yes": sigmoid(-2.0), "says_yes": False}]
    part, _ = partition([Judgment("q", "p", True, 1.0), Judgment("q", "v", False, -7.0, "no")], PAPER_PARTITION)
    records = {"p": {"path": "/p.mp4", "caption": "cp", "asr": "ap"}, "v": {"path": "/v.mp4", "caption": "cv", "asr": "av"}}
    assert stage2_rows(part, {"q": "text"}, records)[1] == {
        "query_id": "q", "query": "text", "doc_id": "v", "videos": ["/v.mp4"], "true_label": 0, "teacher_p_yes": sigmoid(-7.0),
        "teacher_delta": -7.0, "evidence": {"caption": "cv", "asr": "av"}, "teacher_reasoning": "no"}


def test_the_teacher_gets_the_judging_system_prompt_and_the_reasoning_budget():
    from tests.test_mining import ScriptedTeacher

    class Recording(ScriptedTeacher):
        def __init__(self):
            super().__init__()
            self.systems, self.budgets = [], []

        def chat_prompt(self, system, user):
            self.systems.append(system)
            return super().chat_prompt(system, user)

        def generate(self, prompts, max_new_tokens=48):
            self.budgets.append(max_new_tokens)
            return super().generate(prompts, max_new_tokens)

    teacher = Recording()
    judge(teacher, [Candidate("q", "p", 1.0, [("n", 0.5)])], {"q": "kite"}, {"p": {"caption": "kite", "asr": ""}, "n": {"caption": "", "asr": ""}},
          "reason", max_reasoning_tokens=77)
    assert teacher.systems == [JUDGE_SYSTEM, JUDGE_SYSTEM] and teacher.budgets == [77]


# --- evaluation ------------------------------------------------------------------------------------------------

def test_queries_without_judgments_are_excluded_and_an_empty_evaluation_means_zero():
    mean, per_query, excluded = evaluate_run({"q1": {"v1": 1.0}}, {"q2": {"v1": 0}}, ["q1", "q2"], [10])
    assert excluded == {"q1": "no relevant video in the qrels", "q2": "no relevant video in the qrels"}
    assert mean == {"R@10": 0.0, "nDCG@10": 0.0} and per_query == {}


def test_table_is_this_markdown():
    systems = {"OE": {"R@10": 0.5, "nDCG@10": 0.0}, "RV-2": {"R@10": 0.6, "nDCG@10": 0.25}}
    assert table_markdown(systems, "OE", [10], "demo") == ("**demo**\n\n| Method | R@10 | nDCG@10 |\n|---|---|---|\n| OE | 0.500 | 0.000 |\n"
                                                           "| RV-2 | 0.600 | 0.250 |\n| Δ% vs OE | +20.00 | N/A |\n")


def reasons(skips) -> dict:
    """Each skipped item's stage, code and particulars."""
    return {s.item_id: (s.stage, str(s.code), s.reason) for s in skips}


def test_the_funnel_counts_every_step_and_reads_as_this_table():
    from rankvideo.judge.funnel import funnel_counts, funnel_markdown

    records = [{"asr": "speech", "ocr": " ", "caption": "c"}, {"asr": "", "caption": "c"}, {"ocr": "SIGN", "caption": ""}]
    written = [{"variant": "caption"}, {"variant": "audio"}, {"variant": "caption"}]
    partitions = [{"trusted": [1, 2], "suspected": [3], "hard": []}, {"trusted": [1], "suspected": [], "hard": [2, 3, 4]}]
    stage2 = [{"query_id": "a", "true_label": 1}, {"query_id": "a", "true_label": 0}, {"query_id": "a", "true_label": 0},
              {"query_id": "b", "true_label": 1}, {"query_id": "b", "true_label": 0}, {"query_id": "c", "true_label": 1},
              {"query_id": "c", "true_label": 0}]
    counts = funnel_counts(records, written, n_malformed=4, n_after_dedup=5, n_human=6, n_retrieved=11, n_after_a=9, n_after_b=7,
                           judgments=[{}] * 8, partitions=partitions, n_misjudged=1, n_few_trusted=2, stage1=["x", "y"], stage2=stage2)
    assert counts == {
        "videos": 3, "videos_with_text": {"asr": 1, "ocr": 1, "caption": 2}, "queries_written_per_variant": {"caption": 2, "audio": 1},
        "queries_malformed_after_retries": 4, "synthetic_after_dedup": 5, "human_queries": 6, "queries_retrieved": 11,
        "after_filter_a_positive_in_top_k": 9, "after_filter_b_negative_ratio": 7, "pairs_judged": 8, "queries_positive_misjudged": 1,
        "queries_too_few_trusted_negatives": 2, "queries_kept": 2, "negatives": {"trusted": 3, "suspected": 1, "hard": 3},
        "negatives_per_query": {"trusted": 1.5, "suspected": 0.5, "hard": 1.5}, "stage1_records": 2, "stage2_records": 7,
        "stage2_positive_pairs": 3, "stage2_negative_pairs": 4, "stage2_candidates_per_query": 3.5,
        "queries_by_negative_count": {"2": 1, "1": 2}}
    assert list(counts["queries_by_negative_count"]) == ["2", "1"]
    assert funnel_markdown(counts) == (
        "| step | count |\n|---|---|\n"
        "| videos with ASR / OCR / caption text | 1 / 1 / 2 of 3 |\n"
        "| synthetic queries written, per variant | caption 2, audio 1 |\n"
        "| malformed answers after retries | 4 |\n"
        "| synthetic queries after deduplication | 5 |\n"
        "| human queries mixed in | 6 |\n"
        "| after filter (a): positive in first-stage top k | 9 |\n"
        "| after filter (b): top negative <= ratio x positive | 7 |\n"
        "| (query, video) pairs judged by the teacher | 8 |\n"
        "| queries dropped: positive misjudged | 1 |\n"
        "| queries dropped: too few trusted negatives | 2 |\n"
        "| queries kept | 2 |\n"
        "| trusted / suspected / hard negatives | 3 / 1 / 3 |\n"
        "| per query: trusted / suspected / hard | 1.50 / 0.50 / 1.50 |\n"
        "| Stage 1 records (one video per query) | 2 |\n"
        "| Stage 2 records: positives + negatives | 7 = 3 + 4 |\n"
        "| Stage 2 candidates per query (paper: 3.85) | 3.50 |\n"
        "| queries by number of negatives | 1 with 2, 2 with 1 |\n")
    empty = funnel_counts([], [], 0, 0, 0, 0, 0, 0, [], [], 0, 0, [], [])
    assert (empty["negatives_per_query"], empty["stage2_candidates_per_query"]) == ({"trusted": 0.0, "suspected": 0.0, "hard": 0.0}, 0.0)
