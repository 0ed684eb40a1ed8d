"""VLMReranker on the tiny Qwen3-VL: shared video encoding equals one pair per forward."""

import json
import math

import pytest
import torch

from rankvideo import VLMReranker
from rankvideo.models.prompts import AnswerIds
from rankvideo.models.vllm_backend import parse_answer_logprobs, video_input

SMALL = {"min_pixels": 64 * 64, "max_pixels": 128 * 128}
QUERIES = ["a red ball bouncing up and down", "flood warning issued for the river area", "x",
           "two yellow balls crashing into each other in the middle of the screen", "library"]


def video(demo_corpus, vid):
    return str(demo_corpus / "videos" / f"{vid}.mp4")


@pytest.mark.parametrize("fmt", ["paper", "upstream", "qwen3-vl-reranker"])
def test_shared_encoding_equals_naive_scoring(spread_model, demo_corpus, fmt):
    reranker = VLMReranker(str(spread_model), prompt_format=fmt, batch_size=2, **SMALL)  # 5 queries: 3 batches
    for vid in ("v001", "v014"):
        fast = reranker.score_video(video(demo_corpus, vid), QUERIES)
        naive = [reranker.backend.score_naive(video(demo_corpus, vid), q) for q in QUERIES]
        for got, (yes, no) in zip(fast, naive):
            assert abs(got["yes_logit"] - yes) <= 1e-4 and abs(got["no_logit"] - no) <= 1e-4
        deltas = [r["logit_delta"] for r in fast]
        assert max(deltas) - min(deltas) > 1e-2  # the queries really score differently: the equality is not vacuous


def test_scores_are_deterministic_and_consistent(spread_model, demo_corpus):
    reranker = VLMReranker(str(spread_model), **SMALL)
    first = reranker.score_video(video(demo_corpus, "v007"), QUERIES)
    assert first == reranker.score_video(video(demo_corpus, "v007"), QUERIES)
    assert len({round(r["logit_delta"], 6) for r in first}) == len(QUERIES)  # determinism of distinct scores, not of one value


def test_score_batch_keeps_input_order_and_records_failures(spread_model, demo_corpus):
    reranker = VLMReranker(str(spread_model), **SMALL)
    paths = [video(demo_corpus, v) for v in ("v001", "v051", "v014", "v001")]
    queries = [QUERIES[0], QUERIES[1], QUERIES[2], QUERIES[3]]
    results = reranker.score_batch(queries, paths)
    assert [(r["query"], r["video_path"]) for r in results] == list(zip(queries, paths))
    assert results[1]["failed"] and results[1]["error"] == "file is empty (0 bytes)" and results[1]["logit_delta"] is None
    alone = reranker.score_video(paths[3], [queries[3]])[0]
    assert results[3]["logit_delta"] == pytest.approx(alone["logit_delta"], abs=1e-5)
    ranked = reranker.rank(QUERIES[0], [paths[1], paths[0], paths[2]])
    assert ranked[-1]["video_path"] == paths[1]  # a failed pair ranks below every scored one
    assert ranked[0]["logit_delta"] >= ranked[1]["logit_delta"]


def test_prompt_format_comes_from_the_model_folder(spread_model, tmp_path):
    assert json.loads((spread_model / "rankvideo.json").read_text())["prompt_format"] == "paper"
    assert VLMReranker(str(spread_model), **SMALL).prompt_format == "paper"
    assert VLMReranker(str(spread_model), prompt_format="upstream", **SMALL).prompt_format == "upstream"


def test_reasoning_reranker_scores_after_its_own_reasoning(spread_model, demo_corpus):
    """QVL-T: it writes its reasoning, then the score is read after the <answer> that follows it."""
    from rankvideo.models.prompts import answer_ids, reasoning_prompt

    reranker = VLMReranker(str(spread_model), max_reasoning_tokens=3, **SMALL)
    path = video(demo_corpus, "v001")
    got = reranker.score_video(path, QUERIES[:2])
    backend = reranker.backend
    sampled = backend.video.sample(path)
    ids = answer_ids(backend.tokenizer, "paper")
    for query, result in zip(QUERIES[:2], got):
        # Recomputed with plain transformers calls (generate, then one full forward), not the backend's scoring path.
        prompt = reasoning_prompt(query)
        inputs = backend.model_inputs(prompt, sampled)
        with torch.no_grad():
            out = backend.model.generate(**inputs, max_new_tokens=3, do_sample=False)
        thought = backend.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=False).split("<answer>")[0]
        with torch.no_grad():
            logits = backend.model(**backend.model_inputs(prompt + thought + "<answer>", sampled)).logits[0, -1]
        assert result["logit_delta"] == pytest.approx(float(logits[ids.yes[0]] - logits[ids.no[0]]), abs=1e-4)
    with pytest.raises(ValueError, match="use prompt_format 'paper'"):
        VLMReranker(str(spread_model), prompt_format="upstream", max_reasoning_tokens=3, **SMALL)


def test_unknown_backend_is_rejected(spread_model):
    with pytest.raises(ValueError, match="unknown backend 'onnx'"):
        VLMReranker(str(spread_model), backend="onnx")


# --- vLLM: request building and answer parsing are shared and tested here -----------------------

def test_vllm_request_carries_sampled_frames_and_metadata(demo_corpus):
    from rankvideo.files.video import sample_video

    sampled = sample_video(video(demo_corpus, "v001"), max_frames=8, **SMALL)
    frames, metadata = video_input(sampled)
    assert frames is sampled.frames and frames.shape[0] == len(sampled.indices)
    assert metadata["frames_indices"] == sampled.indices and metadata["fps"] == sampled.info.fps
    assert metadata["total_num_frames"] == sampled.info.total_frames


def test_vllm_logprobs_need_both_sides():
    ids = AnswerIds(yes=(10, 11), no=(20,))
    yes, no = parse_answer_logprobs({10: -0.5, 11: -2.0, 20: -1.5}, ids)
    assert yes == pytest.approx(math.log(math.exp(-0.5) + math.exp(-2.0))) and no == pytest.approx(-1.5)
    missing = parse_answer_logprobs({10: -0.1}, ids)  # Tevatron's case: one side only
    assert isinstance(missing, str) and "no logprob for any 'no' token" in missing
    assert parse_answer_logprobs(None, ids) == "vLLM returned no logprobs for the answer position"
    assert isinstance(parse_answer_logprobs({10: -math.inf, 20: -1.0}, ids), str)
