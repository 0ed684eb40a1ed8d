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


def test_a_reranker_score_below_the_rerank_depth_lifts_nothing(tmp_path):
    """The first stage is deeper (6) than the rerank depth (2), as the paper's 1000 and 100. Paper Table 2's pool gives the
    analysis reranker scores below the main first stage's cut: the other first stage's top video, relevant and scored
    highest, sits at rank 5 of the main one. Reranking the main one's top 2 leaves it at rank 5."""
    from rankvideo.evaluate.systems import evaluate_systems
    from rankvideo.files.runs import truncate
    from rankvideo.files.video2queries import pooled_video2queries

    main = {"q": {"a1": 6.0, "a2": 5.0, "a3": 4.0, "a4": 3.0, "tempting": 2.0, "a6": 1.0}}
    other = {"q": {"tempting": 9.0, "b2": 8.0, "a1": 1.0}}
    pool = pooled_video2queries([truncate(main, 2), truncate(other, 2)])
    assert pool == {"a1": ["q"], "a2": ["q"], "b2": ["q"], "tempting": ["q"]}  # the tempting video is scored: it is in the pool
    scores = {"q": {"tempting": 10.0, "a2": 3.0, "a1": 1.0, "b2": 0.0}}
    out = cascade(main, scores, depth=2)
    assert sorted(out["q"], key=lambda d: -out["q"][d]) == ["a2", "a1", "a3", "a4", "tempting", "a6"]
    qrels = {"q": {"tempting": 1, "a2": 1}}
    write_qrels(tmp_path / "qrels.txt", qrels)
    write_trec_run(tmp_path / "main.trec", main, tag="main")
    write_json_run(tmp_path / "preds/RV-2.json", scores)
    results = evaluate_systems(tmp_path / "main.trec", {"RV-2": tmp_path / "preds/RV-2.json"}, tmp_path / "qrels.txt", ["q"], [1, 2, 5],
                               depth=6, rerank_depth=2, first_stage_name="main", dataset="d")
    reranked = results["systems"]["RV-2"]["per_query"]["q"]
    assert (reranked["R@1"], reranked["R@2"], reranked["R@5"]) == (0.5, 0.5, 1.0)  # a2 first; the tempting video at rank 5
    assert results["systems"]["main"]["per_query"]["q"]["R@1"] == 0.0 and results["rerank_depth"] == 2
    rc = evaluate_main(["--first-stage", str(tmp_path / "main.trec"), "--qrels", str(tmp_path / "qrels.txt"),
                        "--pred-dir", str(tmp_path / "preds"), "--cutoffs", "1", "2", "--depth", "6", "--rerank-depth", "2", "--output", str(tmp_path / "cli.json")])
    assert rc == 0 and json.loads((tmp_path / "cli.json").read_text())["systems"]["RV-2"]["mean"]["R@2"] == 0.5


HELP = """usage: python -m rankvideo.evaluate [-h] --first-stage FIRST_STAGE --qrels QRELS
                                    [--pred-dir PRED_DIR] [--score-field {logit_delta,p_yes}]
                                    [--queries QUERIES] [--first-stage-name FIRST_STAGE_NAME]
                                    [--depth DEPTH] [--rerank-depth RERANK_DEPTH]
                                    [--cutoffs CUTOFFS [CUTOFFS ...]] [--dataset DATASET]
                                    [--output OUTPUT] [--table TABLE] [--debug]

Evaluate a first stage and the rerankers cascaded on it: `python -m rankvideo.evaluate`.

options:
  -h, --help            show this help message and exit
  --first-stage FIRST_STAGE
                        first-stage run: TREC file or {qid: {vid: score}} JSON, optionally .gz
  --qrels QRELS         TREC qrels
  --pred-dir PRED_DIR   a rankvideo.rerank output folder, or a folder of score files (one reranker
                        each) and upstream's per-video files (one reranker per model)
  --score-field {logit_delta,p_yes}
                        the key read from upstream's per-video files
  --queries QUERIES     queries TSV restricting the evaluated queries (default: every query in the
                        run and qrels)
  --first-stage-name FIRST_STAGE_NAME
  --depth DEPTH         first-stage depth (paper: 1000)
  --rerank-depth RERANK_DEPTH
                        rerank the top N (paper: 100)
  --cutoffs CUTOFFS [CUTOFFS ...]
  --dataset DATASET
  --output OUTPUT       write the full results (means and per query) as JSON here
  --table TABLE         write the Markdown table here
  --debug               show the Python traceback of an input error
"""


def test_the_help_names_every_flag_and_the_two_required(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as done:
        evaluate_main(["--help"])
    assert done.value.code == 0 and capsys.readouterr().out == HELP
    for argv in ([], ["--first-stage", "run.trec"], ["--qrels", "q.txt", "--first-stage", "r", "--score-field", "p_no"]):
        with pytest.raises(SystemExit) as done:
            evaluate_main(argv)
        assert done.value.code == 2
    assert "error: argument --score-field: invalid choice: 'p_no'" in capsys.readouterr().err


@pytest.fixture
def files(tmp_path):
    """qrels in a folder named as the dataset, a first stage 1002 videos deep and a reranker of p_yes != logit_delta order."""
    from rankvideo.files.predictions import write_prediction
    from rankvideo.rerank.reranker import scored

    (tmp_path / "MyData").mkdir()
    write_qrels(tmp_path / "MyData/qrels.txt", {"q1": {"d1001": 1, "d2": 1}, "q2": {"d1": 1}, "q9": {"d1": 1}})
    deep = {f"d{i}": 2000.0 - i for i in range(1002)}  # d1001 ranks 1002nd: inside the top 1002, outside the default 1000
    write_trec_run(tmp_path / "first.trec", {"q1": deep, "q2": {"d1": 1.0, "d2": 2.0}, "q3": {"d1": 1.0}}, tag="fs")
    preds = tmp_path / "preds"
    for vid, (yes, no) in {"d0": (0.0, 1.0), "d2": (3.0, 0.0)}.items():
        write_prediction(preds, vid, "RV", {"q1": scored("q", vid, yes, no)})
    write_prediction(preds, "d1", "RV", {"q2": scored("q", "d1", 1.0, 0.0)})
    return tmp_path


def test_the_defaults_are_the_papers_depths_and_cutoffs_and_the_qrels_folder_names_the_dataset(files, capsys):
    out = files / "out.json"
    assert evaluate_main(["--first-stage", str(files / "first.trec"), "--qrels", str(files / "MyData/qrels.txt"), "--pred-dir",
                          str(files / "preds"), "--output", str(out)]) == 0
    results = json.loads(out.read_text())
    assert (results["dataset"], results["first_stage"], results["first_stage_depth"], results["rerank_depth"], results["cutoffs"]) == (
        "MyData", "first_stage", 1000, 100, [10, 20, 50, 100])
    assert list(results["systems"]) == ["first_stage", "RV"] and results["queries_evaluated"] == 2  # q1, q2: in the run and the qrels
    assert results["systems"]["first_stage"]["per_query"]["q1"]["R@100"] == 0.5  # d1001 is below the default depth
    assert capsys.readouterr().out == (files / "out.md").read_text()  # printed as written, no extra newline
    title = "**MyData: 2 queries; rerankers reorder the top 100 of the depth-1000 first_stage list**"
    assert (files / "out.md").read_text().startswith(title)


def test_flags_reach_the_evaluation(files, capsys):
    table = files / "t.md"
    argv = ["--first-stage", str(files / "first.trec"), "--qrels", str(files / "MyData/qrels.txt"), "--pred-dir", str(files / "preds"),
            "--depth", "1002", "--rerank-depth", "3", "--cutoffs", "1", "--first-stage-name", "FS", "--dataset", "Named",
            "--table", str(table)]
    assert evaluate_main(argv) == 0
    results = json.loads((files / "t.json").read_text())
    assert (results["dataset"], results["first_stage_depth"], results["rerank_depth"], results["cutoffs"]) == ("Named", 1002, 3, [1])
    assert results["systems"]["FS"]["per_query"]["q1"]["R@1"] == 0.0
    assert results["systems"]["RV"]["per_query"]["q1"]["R@1"] == 0.5  # logit_delta, the default field: d2 (3) over d0 (-1)
    capsys.readouterr()
    assert evaluate_main([*argv[:-2], "--score-field", "p_yes"]) == 0
    assert capsys.readouterr().out.startswith("**Named**\n")  # no file asked for: the table printed, titled by the dataset
    assert evaluate_main([*argv, "--queries", str(files / "MyData/qrels.txt")]) == 2  # a qrels file is no queries TSV


def test_each_system_is_recorded_with_its_kind_and_source_and_other_first_stages_at_their_depth(tmp_path):
    from rankvideo.evaluate.systems import evaluate_systems, load_scores, write_results

    write_qrels(tmp_path / "qrels.txt", {"q1": {"a": 1}, "q2": {"b": 1}, "q4": {"a": 1}})
    write_trec_run(tmp_path / "main.trec", {"q1": {"a": 2.0, "b": 1.0}, "q2": {"a": 2.0, "b": 1.0}, "q3": {"a": 1.0}}, tag="m")
    write_trec_run(tmp_path / "other.trec", {"q1": {"b": 2.0, "a": 1.0}, "q2": {"b": 2.0, "a": 1.0}}, tag="o")
    write_json_run(tmp_path / "R.json", {"q1": {"b": 5.0, "a": 0.0}, "q2": {"b": 5.0, "a": 0.0}})
    results = evaluate_systems(tmp_path / "main.trec", {"R": str(tmp_path / "R.json")}, tmp_path / "qrels.txt", None, [1], 2, 2, "M", "D",
                               other_first_stages={"O": (tmp_path / "other.trec", 1)})
    r1 = {name: {q: v["R@1"] for q, v in s["per_query"].items()} for name, s in results["systems"].items()}
    assert r1 == {"M": {"q1": 1.0, "q2": 0.0}, "R": {"q1": 0.0, "q2": 1.0}, "O": {"q1": 0.0, "q2": 1.0}}  # q1, q2: run and qrels
    assert [(s["kind"], s["source"]) for s in results["systems"].values()] == [
        ("first_stage", str(tmp_path / "main.trec")), ("reranker", str(tmp_path / "R.json")), ("first_stage", str(tmp_path / "other.trec"))]
    assert results["systems"]["O"]["mean"] == {"R@1": 0.5, "nDCG@1": 0.5}
    write_results(results, tmp_path / "out.json", tmp_path / "out.md")
    assert (tmp_path / "out.json").read_text() == json.dumps(results, indent=1) + "\n"
    assert (tmp_path / "out.md").read_text().startswith("**D: 2 queries; rerankers reorder the top 2 of the depth-2 M list**\n")
    assert load_scores(tmp_path / "R.json") == {"q1": {"b": 5.0, "a": 0.0}, "q2": {"b": 5.0, "a": 0.0}}
    one_deep = evaluate_systems(tmp_path / "main.trec", {}, tmp_path / "qrels.txt", ["q1", "q2"], [2], 1, 1, "M", "D",
                                other_first_stages={"O": (tmp_path / "other.trec", 1)})
    assert one_deep["systems"]["M"]["per_query"]["q2"]["R@2"] == 0.0  # each first stage read to its depth, 1
    assert one_deep["systems"]["O"]["per_query"]["q1"]["R@2"] == 0.0


def test_a_pred_dir_names_each_system_after_its_file(tmp_path):
    from rankvideo.evaluate.systems import load_scores, pred_dir_systems
    from rankvideo.files.predictions import RERANK_RECORD, write_prediction
    from rankvideo.rerank.reranker import scored

    ours = tmp_path / "RV-2"
    write_json_run(ours / "scores.json", {"q": {"v": 1.0}})
    (ours / RERANK_RECORD).write_text("{}")
    assert pred_dir_systems(ours) == {"RV-2": str(ours / "scores.json")}  # a rankvideo.rerank output folder: one reranker
    loose = tmp_path / "loose"
    write_json_run(loose / "scores.json", {"q": {"v": 1.0}})  # without the settings record: a score file like any other
    write_json_run(loose / "RV.2.json", {"q": {"v": 1.0}})
    write_trec_run(loose / "bm25.trec", {"q": {"v": 1.0}}, tag="b")
    (loose / "zipped.run.gz").write_bytes(__import__("gzip").compress(b"q Q0 v 1 1.0 z\n"))
    write_prediction(loose, "v", "Qwen3", {"q": scored("q", "v", 2.0, 0.0)})
    write_prediction(loose, "w", "Qwen3", {"q": scored("q", "w", 0.0, 0.0)})
    assert pred_dir_systems(loose) == {"Qwen3": str(loose / "*_reranking_Qwen3.json"), "RV.2": str(loose / "RV.2.json"),
                                       "bm25": str(loose / "bm25.trec"), "scores": str(loose / "scores.json"),
                                       "zipped": str(loose / "zipped.run.gz")}
    assert load_scores(loose / "*_reranking_Qwen3.json") == {"q": {"v": 2.0, "w": 0.0}}  # logit_delta unless asked
    assert load_scores(loose / "*_reranking_Qwen3.json", "p_yes") == {"q": {"v": pytest.approx(0.8807970779778823), "w": 0.5}}
