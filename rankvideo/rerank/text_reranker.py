"""The ReasonRank-style text reranker of paper Table 1 and Figure 4: a text LLM reading a video's caption and
speech transcript instead of its frames.

It scores with the teacher's judging prompt and margin (rankvideo.judge.teacher.judge_margins), so the row shows what
the teacher that labelled Stage 2's data achieves as a reranker. It is pointwise, one margin per pair, as the
cascade needs; ReasonRank itself reranks listwise over a sliding window, which is why the paper reads its latency
as an amortised per-candidate figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankvideo.judge.teacher import judge_margins
from rankvideo.rerank.reranker import scored

MODES = ("direct", "reason")


class TextReranker:
    """`score_video(record, queries)` over an extraction record (caption, asr, path), VLMReranker's result shape."""

    videos_per_call = 64  # the rerank driver hands this many videos' pairs to the LLM at once, so vLLM fills the GPU

    def __init__(self, llm: Any, mode: str = "reason", max_reasoning_tokens: int = 1024):
        if mode not in MODES:
            raise ValueError(f"text reranker mode {mode!r}: expected one of {MODES}")
        self.llm, self.mode, self.max_reasoning_tokens = llm, mode, max_reasoning_tokens

    def score_video(self, record: Mapping[str, Any], queries: Sequence[str]) -> list[dict[str, Any]]:
        return self.score_videos([(record, queries)])[0]

    def score_videos(self, items: Sequence[tuple[Mapping[str, Any], Sequence[str]]]) -> list[list[dict[str, Any]]]:
        """Every pair of several videos in one LLM call, results per video in input order."""
        texts = [(q, record["caption"], record["asr"]) for record, queries in items for q in queries]
        margins, _ = judge_margins(self.llm, texts, self.mode, self.max_reasoning_tokens)
        results, start = [], 0
        for record, queries in items:
            results.append([scored(q, record["path"], m.yes_logit, m.no_logit) for q, m in zip(queries, margins[start:start + len(queries)])])
            start += len(queries)
        return results
