"""Metrics equal hand-computed values; the cascade rule orders candidates as documented."""

import json
import math

import pytest

from rankvideo.evaluate.cli import main as evaluate_main
from rankvideo.evaluate.metrics import cascade, evaluate_run, metric_names, relative_delta, table_markdown
from rankvideo.files.qrels import write_qrels
from rankvideo.files.queries import write_queries
from rankvideo.files.runs import write_json_run, write_trec_run

QRELS = {
    "q1": {"d1": 1, "d3": 1},
    "q2": {"d2": 1},
    "q3": {"d1": 0},  # judged, but nothing relevant: cannot be measured
    "q4": {"d9": 1},  # relevant exists, but the run never answers q4: scores 0
}
RUN = {
    "q1": {"d1": 0.9, "d3": 0.5, "d2": 0.5, "d4": 0.1},  # tie d2/d3: d2 ranks first by doc id
    "q2": {"d5": 0.8, "d2": 0.8, "d1": 0.3},  # tie d2/d5: d2 first (trec_eval alone would put d5 first)
    "q3": {"d1": 1.0},
}
IDCG2 = 1 + 1 / math.log2(3)  # two relevant: gains at ranks 1 and 2
# q1's ranking is d1 (rel), d2, d3 (rel), d4.
Q1 = {"R@1": 0.5, "nDCG@1": 1.0, "R@2": 0.5, "nDCG@2": 1.0 / IDCG2, "R@5": 1.0, "nDCG@5": (1 + 1 / math.log2(4)) / IDCG2}
Q2 = {m: 1.0 for m in Q1}
Q4 = {m: 0.0 for m in Q1}


def test_metrics_equal_hand_computed_values():
    mean, per_query, excluded = evaluate_run(RUN, QRELS, ["q1", "q2", "q3", "q4"], cutoffs=[1, 2, 5])
    assert excluded == {"q3": "no relevant video in the qrels"}
    assert per_query["q1"] == pytest.approx(Q1)
    assert per_query["q2"] == pytest.approx(Q2)
    assert per_query["q4"] == pytest.approx(Q4)
    assert mean == pytest.approx({m: (Q1[m] + Q2[m] + Q4[m]) / 3 for m in Q1})
    assert list(mean) == ["R@1", "nDCG@1", "R@2", "nDCG@2", "R@5", "nDCG@5"]


def test_ties_break_by_doc_id_not_by_input_order():
    shuffled = {"q2": {"d2": 0.8, "d5": 0.8, "d1": 0.3}}
    _, per_query, _ = evaluate_run(shuffled, QRELS, ["q2"], cutoffs=[1])
    assert per_query["q2"]["R@1"] == 1.0


def test_cascade_reranks_only_the_head():
    first = {"q": {"a": 5, "b": 4, "c": 3, "d": 2, "e": 1}}
    reranker = {"q": {"a": -1.0, "b": 2.0, "e": 99.0}}  # c failed to score; e is below the depth
    out = cascade(first, reranker, depth=3)
    assert sorted(out["q"], key=lambda d: -out["q"][d]) == ["b", "a", "c", "d", "e"]


def test_cascade_ties_fall_back_to_first_stage_then_doc_id():
    first = {"q": {"x": 1.0, "a": 5.0, "b": 4.0, "y": 1.0}}
    reranker = {"q": {"a": 1.0, "b": 1.0, "x": 0.5, "y": 0.5}}
    out = cascade(first, reranker, depth=4)
    assert sorted(out["q"], key=lambda d: -out["q"][d]) == ["a", "b", "x", "y"]


def test_table_has_paper_shape_and_relative_deltas():
    systems = {"OE": {m: 0.5 for m in metric_names([10])}, "RV-2": {"R@10": 0.6, "nDCG@10": 0.0}}
    table = table_markdown(systems, "OE", [10], "demo")
    assert "| Method | R@10 | nDCG@10 |" in table
    assert "| RV-2 | 0.600 | 0.000 |" in table
    assert "| Δ% vs OE | +20.00 | -100.00 |" in table
    assert relative_delta(1.0, 0.0) is None


def test_cli_evaluates_first_stage_and_cascaded_reranker(tmp_path, capsys):
    write_qrels(tmp_path / "qrels.txt", QRELS)
    write_trec_run(tmp_path / "first.trec", RUN, tag="fs")
    write_queries(tmp_path / "queries.tsv", {q: f"text {q}" for q in QRELS})
    preds = tmp_path / "preds"
    preds.mkdir()
    # The reranker lifts d3 over d2 for q1 and fails on nothing.
    write_json_run(preds / "RV-2.json", {"q1": {"d1": 3.0, "d3": 2.0, "d2": 1.0, "d4": 0.0}, "q2": {"d2": 1.0, "d5": 0.0, "d1": -1.0}})
    rc = evaluate_main(["--first-stage", str(tmp_path / "first.trec"), "--qrels", str(tmp_path / "qrels.txt"),
                        "--pred-dir", str(preds), "--queries", str(tmp_path / "queries.tsv"), "--first-stage-name", "OE",
                        "--cutoffs", "1", "2", "5", "--rerank-depth", "3", "--output", str(tmp_path / "ndcg.json")])
    assert rc == 0
    results = json.loads((tmp_path / "ndcg.json").read_text())
    assert results["queries_evaluated"] == 3 and results["excluded_queries"] == {"q3": "no relevant video in the qrels"}
    assert results["systems"]["OE"]["mean"]["R@2"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert results["systems"]["RV-2"]["mean"]["R@2"] == pytest.approx((1 + 1 + 0) / 3)
    assert results["systems"]["RV-2"]["per_query"]["q1"]["nDCG@2"] == pytest.approx(1.0)
    assert (tmp_path / "ndcg.md").is_file()
    assert "| RV-2 |" in capsys.readouterr().out
