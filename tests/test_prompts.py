"""One prompt module for training and inference: formats, answer tokens, and the shared prefix."""

import math

import pytest
import torch
from transformers import AutoTokenizer

from rankvideo.models.prompts import (
    ANSWER_PREFIX,
    SYSTEM_UPSTREAM,
    VIDEO_PLACEHOLDER,
    AnswerIds,
    answer_ids,
    query_suffix,
    reasoning_prompt,
    render,
    shared_prefix,
)
from rankvideo.models.transformers_backend import yes_no_logits


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def test_upstream_format_is_upstreams_prompt():
    text = render("upstream", "person playing guitar")
    assert text == (f"<|im_start|>system\n{SYSTEM_UPSTREAM}<|im_end|>\n<|im_start|>user\nQuery: person playing guitar\n"
                    "Is the video relevant to the query? Respond with <answer>yes</answer> or <answer>no</answer>."
                    f"{VIDEO_PLACEHOLDER}<|im_end|>\n<|im_start|>assistant\n")
    assert SYSTEM_UPSTREAM.endswith("it is not. ")  # the trailing space of upstream's later commit
    assert text.index("person playing guitar") < text.index(VIDEO_PLACEHOLDER)
    assert shared_prefix("upstream") is None


def test_paper_format_puts_the_video_first_and_ends_at_the_answer_tag():
    text = render("paper", "dog running")
    assert text.index(VIDEO_PLACEHOLDER) < text.index("dog running")
    assert text.endswith("<|im_start|>assistant\n" + ANSWER_PREFIX)
    assert text == shared_prefix("paper") + query_suffix("paper", "dog running")
    assert shared_prefix("paper").endswith(VIDEO_PLACEHOLDER)


def test_qwen3_vl_reranker_and_reasoning_prompts():
    text = render("qwen3-vl-reranker", "dog running")
    assert text.index("<Query>: dog running") < text.index(VIDEO_PLACEHOLDER)
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") and shared_prefix("qwen3-vl-reranker") is None
    assert reasoning_prompt("dog running") + ANSWER_PREFIX == render("paper", "dog running")


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError, match="unknown prompt format 'mine'"):
        render("mine", "q")


def test_paper_answer_tokens_are_single_and_follow_the_prompt(tokenizer):
    ids = answer_ids(tokenizer, "paper")
    assert tokenizer.convert_ids_to_tokens([ids.yes[0], ids.no[0]]) == ["yes", "no"]
    prompt = tokenizer(render("paper", "a red ball"), add_special_tokens=False)["input_ids"]
    for word, answer in (("yes", ids.yes[0]), ("no", ids.no[0])):
        full = tokenizer(render("paper", "a red ball") + word + "</answer>", add_special_tokens=False)["input_ids"]
        assert full[: len(prompt) + 1] == prompt + [answer]  # the model's answer token is the scored token


def test_upstream_answer_ids_are_every_case_variant(tokenizer):
    ids = answer_ids(tokenizer, "upstream")
    assert {tokenizer.decode([i]).strip().lower() for i in ids.yes} == {"yes"}
    assert {tokenizer.decode([i]).strip().lower() for i in ids.no} == {"no"}
    assert len(ids.yes) >= 2 and len(ids.no) >= 2  # 'yes' and 'Yes' at least


def test_score_is_logit_difference_or_logsumexp_over_variants():
    logits = torch.tensor([[0.0, 2.0, -1.0, 0.5, 3.0]])
    yes, no = yes_no_logits(logits, AnswerIds((1,), (2,)))
    assert (yes.item(), no.item()) == pytest.approx((2.0, -1.0))
    yes, no = yes_no_logits(logits, AnswerIds((1, 3), (2, 4)))
    assert yes.item() == pytest.approx(math.log(math.exp(2.0) + math.exp(0.5)))
    assert no.item() == pytest.approx(math.log(math.exp(-1.0) + math.exp(3.0)))


def built_tokenizer(words: list[str], bos: bool = False, chars: bool = False):
    """A real fast tokenizer built here: whole words, or single characters only (so 'yes' takes three tokens)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<s>", "[UNK]", *words])}
    tok = Tokenizer(models.BPE(vocab, merges=[], unk_token="[UNK]") if chars else models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", bos_token="<s>")


def test_answer_ids_read_the_words_alone_without_special_tokens():
    assert answer_ids(built_tokenizer(["yes", "no", "Yes"], bos=True), "paper") == AnswerIds((2,), (3,))  # no <s> in front
    with pytest.raises(ValueError) as info:
        answer_ids(built_tokenizer(list("yesno"), chars=True), "paper")
    assert str(info.value) == "the tokenizer splits 'yes' into 3 tokens; the paper score needs one"
    assert answer_ids(built_tokenizer(["yes", "No", "YES", "no"]), "upstream") == AnswerIds((2, 4), (3, 5))
    for words in (["yes", "Yes"], ["no", "NO"]):
        with pytest.raises(ValueError) as info:
            answer_ids(built_tokenizer(words), "upstream")
        assert str(info.value) == "the tokenizer has no 'yes' or no 'no' token"
