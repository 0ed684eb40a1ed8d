"""Figure 4's latency measurement: a fixed sample, the warm-up left out, per-pair cost alone and shared."""

import pytest

from rankvideo.analysis.latency import measure_latency, sample_pairs
from rankvideo.analysis.tables import latency_markdown, plot_latency
from rankvideo.rerank.reranker import scored

VIDEO2QUERIES = {"v1": ["q1", "q2", "q3"], "v2": ["q1"], "v3": ["q2", "q3"]}
QUERIES = {"q1": "a", "q2": "b", "q3": "c"}


class CostPerQuery:
    """A reranker whose calls advance a clock by 1 s per call plus 0.5 s per query: latencies known by hand."""

    def __init__(self):
        self.now, self.calls = 0.0, []

    def clock(self):
        return self.now

    def score_video(self, item, queries):
        self.calls.append((item, len(queries)))
        self.now += 1.0 + 0.5 * len(queries)
        return [scored(q, str(item), 0.0, 0.0) for q in queries]  # the result shape every reranker returns

    def score_videos(self, items):
        return [self.score_video(item, queries) for item, queries in items]


def test_the_sample_is_fixed_by_its_seed_and_capped_by_the_pool():
    assert sample_pairs(VIDEO2QUERIES, 3, seed=13) == sample_pairs(VIDEO2QUERIES, 3, seed=13)
    assert len(set(sample_pairs(VIDEO2QUERIES, 3, seed=13))) == 3
    assert sorted(sample_pairs(VIDEO2QUERIES, 100, seed=1)) == sorted((v, q) for v, qs in VIDEO2QUERIES.items() for q in qs)


def test_latency_alone_and_shared_by_hand():
    reranker = CostPerQuery()
    pairs = [("v1", "q2"), ("v2", "q1"), ("v3", "q3"), ("v9", "q1")]
    result = measure_latency(reranker, pairs, QUERIES, {"v1": "f1", "v2": "f2", "v3": "f3"}, VIDEO2QUERIES, clock=reranker.clock)
    assert reranker.calls[0] == ("f1", 1)  # the warm-up, not counted
    assert result["per_pair_s"] == [1.5, 1.5, 1.5] and result["median_s"] == 1.5
    # shared: v1 (1 + 0.5*3)/3, v2 1.5/1, v3 (1 + 0.5*2)/2 -> median 1.0
    assert result["shared_median_s_per_pair"] == pytest.approx(1.0) and result["shared_videos"] == 3
    assert (result["pairs"], result["skipped_pairs"]) == (3, 1)  # v9 has no evidence
    assert result["queries_per_video"] == pytest.approx(6 / 3)


def test_no_measurable_pair_is_an_error():
    with pytest.raises(ValueError, match="no sampled pair has its video"):
        measure_latency(CostPerQuery(), [("v9", "q1")], QUERIES, {}, VIDEO2QUERIES)


def test_figure4_and_its_table(tmp_path):
    rows = {"QVL-I": {"pairs": 20, "median_s": 0.31, "shared_median_s_per_pair": 0.05, "queries_per_video": 15.0},
            "RV-2": {"pairs": 20, "median_s": 0.29, "shared_median_s_per_pair": 0.04, "queries_per_video": 15.0}}
    table = latency_markdown(rows, "CPU (2 cores)")
    assert "on CPU (2 cores)" in table and "| RV-2 | 20 | 0.290 | 0.040 | 15.0 |" in table
    out = tmp_path / "figure4.png"
    plot_latency(rows, out, "latency")
    assert out.read_bytes().startswith(b"\x89PNG") and not list(tmp_path.glob("*.partial.png"))


def test_a_text_reranker_reads_records_and_a_video_reranker_the_sheet(tmp_path):
    from rankvideo.files.jsonl import write_jsonl
    from rankvideo.rerank.assemble import reranker_evidence

    records = tmp_path / "records.jsonl"
    write_jsonl(records, [{"video_id": "v1", "path": "v1.mp4", "caption": "c", "asr": "a"}])
    evidence, missing = reranker_evidence({"kind": "text"}, [records], ["v1", "v2"])
    assert evidence["v1"]["caption"] == "c" and evidence["v2"] is None and "no extraction record" in missing
    sheet = tmp_path / "videos.tsv"
    sheet.write_text("video_id\tpath\nv1\t/videos/v1.mp4\n")
    evidence, missing = reranker_evidence({"model": "m"}, [sheet], ["v1", "v2"])
    assert str(evidence["v1"]).endswith("v1.mp4") and evidence["v2"] is None and missing == "video file not found"




def test_a_widened_work_list_rescores_only_the_videos_whose_queries_changed(tmp_path):
    from rankvideo.rerank.work import rerank_videos

    reranker = CostPerQuery()
    first = rerank_videos(reranker, {"v1": ["q1"], "v2": ["q1"]}, QUERIES, {"v1": "f1", "v2": "f2"}, tmp_path, {"m": 1})
    assert reranker.calls == [("f1", 1), ("f2", 1)] and set(first) == {"v1", "v2"}
    widened = rerank_videos(reranker, {"v1": ["q1", "q2"], "v2": ["q1"]}, QUERIES, {"v1": "f1", "v2": "f2"}, tmp_path, {"m": 1})
    assert reranker.calls[2:] == [("f1", 2)]  # v2's queries are unchanged: resumed, not rescored
    assert [r["query_id"] for r in widened["v1"]] == ["q1", "q2"]
    narrowed = rerank_videos(reranker, {"v1": ["q1", "q2"]}, QUERIES, {"v1": "f1"}, tmp_path, {"m": 1})
    assert reranker.calls[3:] == [] and set(narrowed) == {"v1"}  # nothing rescored, nothing outside the list returned
