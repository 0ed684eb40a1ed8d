"""Teacher judging (paper §4.2): the teacher's yes/no margin on each candidate pair over caption + ASR, with its
reasoning when it reasons first (ReasonRank), and the judgment rows the partition reads back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rankvideo.models.prompts import sigmoid
from rankvideo.synthesize.filters import Candidate

JUDGE_SYSTEM = ("You are RankLLM, an intelligent assistant that judges whether a video is relevant to a search query, "
                "using the video's caption and speech transcript as evidence. Answer <answer>yes</answer> if the video "
                "is relevant and <answer>no</answer> if it is not.")


def judge_user_prompt(query: str, caption: str, asr: str) -> str:
    return (f"Query: {query}\nVideo caption: {' '.join(caption.split()) or '(none)'}\n"
            f"Speech transcript: {' '.join(asr.split()) or '(none)'}\nIs the video relevant to the query?")


@dataclass(frozen=True)
class Judgment:
    query_id: str
    video_id: str
    is_positive: bool
    delta: float  # teacher logit(yes) - logit(no) at the answer position
    reasoning: str = ""
    yes_threshold: float = 0.0  # the teacher answers yes when delta exceeds it (0: its own argmax answer)

    @property
    def says_yes(self) -> bool:
        return self.delta > self.yes_threshold

    @property
    def p_yes(self) -> float:
        return sigmoid(self.delta)


def judgment_rows(judgments: Sequence[Judgment]) -> list[dict[str, Any]]:
    return [{**asdict(j), "p_yes": j.p_yes, "says_yes": j.says_yes} for j in judgments]


def judge_margins(llm, texts: Sequence[tuple[str, str, str]], mode: str, max_reasoning_tokens: int) -> tuple[list[Any], list[str]]:
    """The teacher's margin (textllm.Margin) and reasoning for each (query, caption, asr), over the judging prompt.

    `direct`: the assistant turn is forced to begin with <answer> and the margin read there.
    `reason` (ReasonRank): the teacher reasons first; its text up to <answer> is kept and the margin is
    read after it. Judging and the text reranker share this, so both read the teacher the same way.
    """
    prompts = [llm.chat_prompt(JUDGE_SYSTEM, judge_user_prompt(q, caption, asr)) for q, caption, asr in texts]
    reasoning = [""] * len(prompts)
    if mode == "reason":
        reasoning = [r.split("<answer>")[0] for r in llm.generate(prompts, max_new_tokens=max_reasoning_tokens)]
    return llm.margins([p + r + "<answer>" for p, r in zip(prompts, reasoning)]), reasoning


def judge(llm, candidates: Sequence[Candidate], queries: Mapping[str, str], records: Mapping[str, Mapping[str, Any]],
          mode: str, max_reasoning_tokens: int) -> list[Judgment]:
    """The teacher's judgment of each query's positive and candidate negatives, over caption + ASR."""
    pairs = [(c.query_id, c.positive, True) for c in candidates]
    pairs += [(c.query_id, vid, False) for c in candidates for vid, _ in c.negatives]
    texts = [(queries[q], records[v]["caption"], records[v]["asr"]) for q, v, _ in pairs]
    margins, reasoning = judge_margins(llm, texts, mode, max_reasoning_tokens)
    return [Judgment(q, v, pos, m.delta, r) for (q, v, pos), m, r in zip(pairs, margins, reasoning)]


def read_judgments(rows: Sequence[Mapping[str, Any]], yes_threshold: float = 0.0) -> list[Judgment]:
    return [Judgment(r["query_id"], r["video_id"], bool(r["is_positive"]), float(r["delta"]), r.get("reasoning", ""), yes_threshold)
            for r in rows]


