"""The rerank driver (rankvideo/rerank/work.py) with a reranker whose every score is known: each score stays with its own
query when a video's queries come unsorted, when a query recurs across videos in other orders, and when several
videos share one call."""

import json

from rankvideo.files.queries import write_queries
from rankvideo.files.runs import read_json_run
from rankvideo.files.video2queries import write_video2queries
from rankvideo.rerank.reranker import scored
from rankvideo.rerank.work import rerank_videos, shard_work, write_outputs

QUERIES = {"q10": "ten", "q2": "two", "q1": "one", "q3": "three"}
VALUE = {"one": 1.0, "two": 2.0, "three": 3.0, "ten": 10.0}
# Unsorted per video, and each query in several videos in other orders; v4 has no evidence.
WORK = {"v2": ["q3", "q1", "q10"], "v1": ["q10", "q2"], "v4": ["q2", "q1"], "v3": ["q2", "q3", "q1"]}
EVIDENCE = {"v1": "f1", "v2": "f2", "v3": "f3", "v4": None}


class ByText:
    """A text reranker's shape (two videos per call) whose margin for a pair is the query text's value minus the
    video's number: any score on the wrong query shows."""

    videos_per_call = 2

    def __init__(self):
        self.calls = []

    def score_videos(self, items):
        self.calls.append([(evidence, list(texts)) for evidence, texts in items])
        return [[scored(text, evidence, VALUE[text], float(evidence[1:])) for text in texts] for evidence, texts in items]


def expected(vid: str, qid: str) -> float:
    return VALUE[QUERIES[qid]] - float(vid[1:])


def test_each_score_stays_with_its_own_query(tmp_path):
    reranker = ByText()
    results = rerank_videos(reranker, WORK, QUERIES, EVIDENCE, tmp_path / "work", {"m": 1}, missing="no file")
    assert reranker.calls == [[("f2", ["three", "one", "ten"]), ("f1", ["ten", "two"])], [("f3", ["two", "three", "one"])]]
    assert list(results) == list(WORK)
    for vid, qids in WORK.items():
        assert [r["query_id"] for r in results[vid]] == qids
    for vid in ("v1", "v2", "v3"):
        assert [r["logit_delta"] for r in results[vid]] == [expected(vid, q) for q in WORK[vid]]
        assert all(r["failed"] is False and r["error"] is None for r in results[vid])
    assert results["v4"] == [{"query_id": "q2", "failed": True, "error": "no file"}, {"query_id": "q1", "failed": True, "error": "no file"}]
    scored_pairs, failed_pairs = write_outputs(results, tmp_path / "out", tag="RV")
    assert (scored_pairs, failed_pairs) == (8, 2)
    run = read_json_run(tmp_path / "out/scores.json")
    assert run == {q: {v: expected(v, q) for v, qids in WORK.items() if q in qids and v != "v4"} for q in QUERIES}
    assert (tmp_path / "out/failed.tsv").read_text() == "query_id\tvideo_id\treason\nq1\tv4\tno file\nq2\tv4\tno file\n"
    resumed = rerank_videos(reranker, WORK, QUERIES, EVIDENCE, tmp_path / "work", {"m": 1}, missing="no file")
    assert len(reranker.calls) == 2 and resumed == results  # every video resumed with its scores on their queries


def test_a_shards_work_list_keeps_each_videos_query_order(tmp_path):
    write_video2queries(tmp_path / "candidates.json", WORK)
    write_queries(tmp_path / "queries.tsv", QUERIES)
    shards = [shard_work(tmp_path / "candidates.json", tmp_path / "queries.tsv", shard, 2) for shard in ("0", "1")]
    assert all(queries == QUERIES for queries, _ in shards)
    assert [sorted(work) for _, work in shards] == [["v2", "v3"], ["v1", "v4"]]  # shard_of: v2, v3 in 0; v1, v4 in 1
    assert all(work[v] == WORK[v] for _, work in shards for v in work)
    assert json.loads((tmp_path / "candidates.json").read_text()) == WORK


class OnePerCall:
    """A video reranker's shape: no videos_per_call, so one video per call."""

    def __init__(self):
        self.calls = []

    def score_videos(self, items):
        self.calls.append([evidence for evidence, _ in items])
        return [[scored(text, evidence, VALUE[text], 0.0) for text in texts] for evidence, texts in items]


def test_progress_logs_and_files_of_a_run_and_its_resumption(tmp_path, monkeypatch, caplog, capsys):
    import logging
    import re

    from rankvideo.rerank import work

    monkeypatch.setattr(work.time, "perf_counter", lambda: 5.0)  # no time passes: the rate divides by 1e-9 s
    out = tmp_path / "a/b/work"  # folders made as needed
    reranker = OnePerCall()
    with caplog.at_level(logging.INFO, logger="rankvideo.rerank.work"):
        first = rerank_videos(reranker, {"v1": ["q1"], "v3": ["q2", "q3"]}, QUERIES, {"v1": "f1", "v3": "f3"}, out, {"b": 1, "a": [2]})
    assert reranker.calls == [["f1"], ["f3"]] and caplog.messages == []
    assert (out / "settings.json").read_text() == '{"a": [2], "b": 1}'
    bar = capsys.readouterr().err.split("\r")[-1]
    assert re.search(r"^rerank: 100%\|.*\| 2/2 \[.*video/s, pairs_per_s=3000000000\.00\]", bar), bar
    lines = (out / "scores.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"video_id": v, "results": first[v]} for v in ("v1", "v3")]
    with caplog.at_level(logging.INFO, logger="rankvideo.rerank.work"):
        again = rerank_videos(reranker, {"v1": ["q1"], "v3": ["q2", "q3"], "v2": ["q1"]}, QUERIES, {"v2": None}, out, {"a": [2], "b": 1})
    assert caplog.messages == ["resuming: 2 videos already scored, 1 to go"] and reranker.calls[:2] == [["f1"], ["f3"]]
    assert again["v2"] == [{"query_id": "q1", "failed": True, "error": "video file not found"}]  # the default reason


def test_progress_written_with_other_settings_or_none_is_set_aside(tmp_path, caplog):
    from rankvideo.rerank.work import read_progress

    (tmp_path / "scores.jsonl").write_text('{"video_id": "v1", "results": []}\n')
    assert read_progress(tmp_path, {"m": 1}) == {}  # no settings recorded beside it
    assert (tmp_path / "scores.jsonl.stale").read_text() == '{"video_id": "v1", "results": []}\n'
    assert not (tmp_path / "scores.jsonl").exists()
    assert caplog.messages == [f"{tmp_path / 'scores.jsonl'} was written with other settings; starting afresh"]
    assert read_progress(tmp_path, {"m": 1}) == {}  # nothing to resume


def test_a_torn_last_line_is_dropped_from_the_file_too(tmp_path, caplog):
    from rankvideo.rerank.work import read_progress

    (tmp_path / "settings.json").write_text('{"m": 1}')
    whole = '{"video_id": "v1", "results": [{"query_id": "q1"}]}\n{"video_id": "v2", "results": []}\n'
    (tmp_path / "scores.jsonl").write_text(whole + '{"video_id": "v3", "resu')
    assert read_progress(tmp_path, {"m": 1}) == {"v1": [{"query_id": "q1"}], "v2": []}
    assert (tmp_path / "scores.jsonl").read_text() == whole
    assert caplog.messages == [f"dropping a torn last line of {tmp_path / 'scores.jsonl'}"]
    assert read_progress(tmp_path, {"m": 1}) == {"v1": [{"query_id": "q1"}], "v2": []} and len(caplog.messages) == 1


def test_upstream_output_is_one_file_per_video_with_its_scored_queries(tmp_path):
    results = rerank_videos(ByText(), WORK, QUERIES, EVIDENCE, tmp_path / "work", {"m": 1})
    assert write_outputs(results, tmp_path / "up", tag="RV", output_format="upstream", model_name="RankVideo") == (8, 2)
    files = sorted(p.name for p in (tmp_path / "up").iterdir())
    assert files == ["failed.tsv", "v1_reranking_RankVideo.json", "v2_reranking_RankVideo.json", "v3_reranking_RankVideo.json"]
    v2 = json.loads((tmp_path / "up/v2_reranking_RankVideo.json").read_text())
    assert list(v2) == ["v2"] and list(v2["v2"]) == WORK["v2"]
    assert v2["v2"]["q10"]["logit_delta"] == expected("v2", "q10")
    write_outputs({"v9": [{"query_id": "q1", "failed": False, **{k: 0.0 for k in ("p_yes", "logit_delta")}, "error": None,
                           "yes_logit": 0.0, "no_logit": 0.0, "logprob_yes": 0.0, "logprob_no": 0.0}]}, tmp_path / "up", tag="RV",
                  output_format="upstream")
    assert (tmp_path / "up/v9_reranking_.json").is_file()  # no model name given: upstream's name with an empty model
    write_outputs(results, tmp_path / "ours", tag="RV")
    assert (tmp_path / "ours/run.trec").read_text().splitlines()[0] == f"q1 Q0 v2 1 {expected('v2', 'q1'):.6f} RV"
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == ["failed.tsv", "run.trec", "scores.json"]


def test_a_local_models_identity_is_its_files_names_sizes_and_times(tmp_path):
    import hashlib
    import os

    from rankvideo.rerank.work import model_fingerprint

    model = tmp_path / "rv2"
    (model / "sub").mkdir(parents=True)
    (model / "b.bin").write_bytes(b"12345")
    (model / "sub/a.json").write_bytes(b"{}")
    os.utime(model / "b.bin", ns=(1, 2_000))
    os.utime(model / "sub/a.json", ns=(1, 3_000))
    digest = hashlib.sha256(b"b.bin:5:2000;sub/a.json:2:3000;").hexdigest()[:16]
    assert model_fingerprint(str(model)) == f"{model}@{digest}"
    assert model_fingerprint("Qwen/Qwen3-VL-8B-Instruct") == "Qwen/Qwen3-VL-8B-Instruct"


def test_a_work_list_naming_an_unknown_query_fails_before_any_work(tmp_path):
    import pytest

    from rankvideo.files.errors import FormatError

    write_video2queries(tmp_path / "candidates.json", {"v1": ["q1", "q404"]})
    write_queries(tmp_path / "queries.tsv", QUERIES)
    with pytest.raises(FormatError, match="q404"):
        shard_work(tmp_path / "candidates.json", tmp_path / "queries.tsv", "0", 1)

