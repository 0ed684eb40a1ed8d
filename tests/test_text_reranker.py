"""The text reranker (paper Table 1's ReasonRank row) on the real SmolLM2-135M: the teacher's margin, per pair."""

import math

import pytest

from rankvideo.judge.teacher import judge_margins
from rankvideo.models.prompts import sigmoid
from rankvideo.rerank.text_reranker import TextReranker
from rankvideo.rerank.work import rerank_videos

RECORD = {"video_id": "v1", "path": "/videos/v1.mp4", "caption": "A red kite rises over a beach.", "asr": "Look how high it flies!"}
QUERIES = ["kite festival on the coast", "a chess tournament"]


@pytest.fixture(scope="module")
def llm(text_model):
    from rankvideo.models.textllm import TextLLM

    return TextLLM(str(text_model))


def test_each_pair_scores_the_teachers_own_margin_over_caption_and_asr(llm):
    results = TextReranker(llm, mode="direct").score_video(RECORD, QUERIES)
    margins, _ = judge_margins(llm, [(q, RECORD["caption"], RECORD["asr"]) for q in QUERIES], "direct", 0)
    assert [r["query"] for r in results] == QUERIES and not any(r["failed"] for r in results)
    for result, margin in zip(results, margins):
        assert result["logit_delta"] == pytest.approx(margin.delta, abs=1e-4)
        assert result["p_yes"] == pytest.approx(sigmoid(margin.delta))
    assert results[0]["logit_delta"] != pytest.approx(results[1]["logit_delta"], abs=1e-6)


def test_reason_mode_reads_the_margin_after_the_reasoning(llm):
    results = TextReranker(llm, mode="reason", max_reasoning_tokens=8).score_video(RECORD, QUERIES[:1])
    assert math.isfinite(results[0]["logit_delta"])  # the real model runs the reasoning path end to end


def test_reason_mode_scores_each_pair_after_its_own_reasoning():
    """A scripted teacher whose reasoning is known (tests.test_mining.ScriptedTeacher): +3 after RELEVANT, -4 after UNRELATED."""
    from tests.test_mining import ScriptedTeacher

    other = {**RECORD, "video_id": "v2", "path": "/videos/v2.mp4", "caption": "A chess clock ticks."}
    scored = TextReranker(ScriptedTeacher(), mode="reason").score_videos([(RECORD, QUERIES), (other, QUERIES)])
    assert [[r["logit_delta"] for r in video] for video in scored] == [[3.0, -4.0], [-4.0, -4.0]]
    assert [r["video_path"] for r in scored[1]] == ["/videos/v2.mp4"] * 2


def test_a_video_without_a_record_fails_its_pairs_with_the_reason(llm, tmp_path):
    queries = {"q1": QUERIES[0]}
    results = rerank_videos(TextReranker(llm, mode="direct"), {"v1": ["q1"], "v2": ["q1"]}, queries, {"v1": RECORD, "v2": None},
                            tmp_path, {"model": "smollm2"}, missing="no extraction record")
    assert results["v2"] == [{"query_id": "q1", "failed": True, "error": "no extraction record"}]
    assert results["v1"][0]["failed"] is False and math.isfinite(results["v1"][0]["logit_delta"])


def test_an_unknown_mode_is_named():
    with pytest.raises(ValueError, match="text reranker mode 'think'"):
        TextReranker(object(), mode="think")


def test_several_videos_in_one_call_score_as_each_alone(llm):
    other = {**RECORD, "video_id": "v2", "path": "/videos/v2.mp4", "caption": "Two chess players shake hands.", "asr": ""}
    reranker = TextReranker(llm, mode="direct")
    together = reranker.score_videos([(RECORD, QUERIES), (other, QUERIES[:1])])
    alone = [reranker.score_video(RECORD, QUERIES), reranker.score_video(other, QUERIES[:1])]
    assert [[r["video_path"] for r in video] for video in together] == [["/videos/v1.mp4"] * 2, ["/videos/v2.mp4"]]
    for got, expected in zip(sum(together, []), sum(alone, [])):
        assert got["logit_delta"] == pytest.approx(expected["logit_delta"], abs=1e-4)
