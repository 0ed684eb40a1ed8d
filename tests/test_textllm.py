"""The text LLM interface both backends share: answer tokens, sampling settings, margins from vLLM logprobs."""

import math

import pytest
import torch

from rankvideo.models.textllm import Margin, answer_token_ids, chat_prompt, load_text_llm, margin_from_logprobs, vllm_sampling


def test_answer_tokens_are_read_from_how_the_tokenizer_continues_the_prompt(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    prompt = chat_prompt(tokenizer, "Judge relevance.", "Query: a red ball") + "<answer>"
    yes, no = answer_token_ids(tokenizer, prompt)
    assert yes != no
    assert tokenizer.decode([yes]).strip() == "yes" and tokenizer.decode([no]).strip() == "no"


def test_vllm_sampling_is_greedy_unless_retrying():
    assert vllm_sampling(32, sample=False, seed=5) == {"max_tokens": 32, "temperature": 0.0}
    assert vllm_sampling(32, sample=True, seed=5) == {"max_tokens": 32, "temperature": 0.8, "top_p": 0.95, "seed": 5}


def test_margin_from_vllm_logprobs_is_the_logit_difference():
    # Under a yes/no-only mask the logprobs are log-softmax over the two logits: their difference is the logit margin.
    logits = torch.tensor([1.7, -0.4])
    logprobs = torch.log_softmax(logits, dim=0).tolist()
    margin = margin_from_logprobs({11: logprobs[0], 12: logprobs[1]}, (11, 12), "...<answer>")
    assert isinstance(margin, Margin) and margin.delta == pytest.approx(2.1, abs=1e-6)
    assert math.exp(margin.yes_logit) + math.exp(margin.no_logit) == pytest.approx(1.0)


def test_a_missing_side_fails_loudly_never_as_zero():
    with pytest.raises(RuntimeError, match="no logprob for any 'no' token"):
        margin_from_logprobs({11: -0.1}, (11, 12), "query ... <answer>")
    with pytest.raises(RuntimeError, match="no logprobs"):
        margin_from_logprobs(None, (11, 12), "query ... <answer>")


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="unknown text LLM backend 'tgi'"):
        load_text_llm("tgi", "any")
