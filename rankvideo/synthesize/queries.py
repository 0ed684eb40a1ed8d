"""Five-variant query synthesis (paper §3): a text LLM writes a reasoning-intensive query about the
event a video shows from one view of it: caption only, audio only, OCR only, metadata only, or all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rankvideo.files.skips import Skip, Why
from rankvideo.synthesize.settings import SynthesisSettings

VARIANTS = ("caption", "audio", "ocr", "metadata", "all")
SYSTEM = ("You write search queries for a video retrieval benchmark. From what is known about a video, write one "
          "reasoning-intensive query about the real-world event it shows: what a person would type to find footage "
          "of this event, not a description of the video. Answer with the query only, on one line.")
MAX_WORDS = 32
THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
LEADER = re.compile(r"^\s*(?:\d+[.)]\s*|[-*•]\s*|(?:search\s+)?query\s*[:\-]\s*)+", re.I)


@dataclass(frozen=True)
class SyntheticQuery:
    query_id: str
    text: str
    variant: str
    video_id: str
    model: str
    attempt: int


def evidence(record: Mapping[str, Any], variant: str) -> str:
    """The view of the video a variant writes from; empty when that view has no text."""
    meta = record.get("metadata", {})
    parts = {
        "caption": [("Video caption", record.get("caption", ""))],
        "audio": [("Speech transcript", record.get("asr", ""))],
        "ocr": [("On-screen text", record.get("ocr", ""))],
        "metadata": [("Title", meta.get("title", "")), ("Description", meta.get("description", ""))],
    }
    parts["all"] = [p for v in ("metadata", "caption", "audio", "ocr") for p in parts[v]]
    if variant not in parts:
        raise ValueError(f"unknown query variant {variant!r}; expected one of {VARIANTS}")
    return "\n".join(f"{label}: {' '.join(text.split())}" for label, text in parts[variant] if text.strip())


def user_prompt(evidence_text: str) -> str:
    return f"{evidence_text}\n\nWrite the search query."


def parse_query(raw: str) -> tuple[str | None, str]:
    """The query in an LLM answer, or None and why: thinking blocks, numbering, quotes and chatter removed."""
    text = THINK.sub("", raw or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    content = [line for line in lines if not line.endswith(":")]  # "Here is the query:" introduces, it is not the query
    if not content:
        return None, "empty answer"
    query = LEADER.sub("", content[0]).replace("**", "").strip().strip("\"'`“”‘’").strip()
    words = query.split()
    if len(words) > MAX_WORDS:
        query = re.split(r"(?<=[.?!])\s", query)[0]
        words = query.split()
    if len(words) > MAX_WORDS:
        return None, f"answer too long ({len(words)} words)"
    if len(words) < 2:
        return None, f"answer too short: {query!r}"
    return " ".join(words), ""


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def synthesize(records: Sequence[Mapping[str, Any]], llm, settings: SynthesisSettings) -> tuple[list[SyntheticQuery], list[Skip]]:
    """One query per (video, variant); a malformed answer is retried with sampling, then recorded as skipped."""
    variants, retries = settings.variants, settings.retries
    queries: list[SyntheticQuery] = []
    skips: list[Skip] = []
    pending: list[tuple[Mapping[str, Any], str, str]] = []
    for record in records:
        for variant in variants:
            text = evidence(record, variant)
            if text:
                pending.append((record, variant, llm.chat_prompt(SYSTEM, user_prompt(text))))
            else:
                skips.append(Skip(f"{record['video_id']}:{variant}", "synthesis", Why.NO_VIEW_TEXT, f"no {variant} text for this video"))
    for attempt in range(retries + 1):
        if not pending:
            break
        answers = llm.generate([p for _, _, p in pending], max_new_tokens=settings.max_new_tokens, sample=attempt > 0, seed=attempt)
        retry = []
        for (record, variant, prompt), raw in zip(pending, answers):
            query, reason = parse_query(raw)
            if query is not None:
                queries.append(SyntheticQuery(f"s-{record['video_id']}-{variant}", query, variant, record["video_id"], llm.name, attempt))
            elif attempt == retries:
                skips.append(Skip(f"{record['video_id']}:{variant}", "synthesis", Why.MALFORMED_ANSWER, f"{reason} after {retries + 1} attempts; last: {raw[:80]!r}"))
            else:
                retry.append((record, variant, prompt))
        pending = retry
    return queries, skips


def deduplicate(queries: Iterable[SyntheticQuery]) -> tuple[list[SyntheticQuery], list[Skip]]:
    """Drop queries whose normalised text repeats an earlier one (a broad query fits many videos)."""
    first: dict[str, str] = {}
    kept, skips = [], []
    for q in queries:
        key = normalise(q.text)
        if key in first:
            skips.append(Skip(q.query_id, "synthesis", Why.DUPLICATE_QUERY, f"duplicate of {first[key]}"))
        else:
            first[key] = q.query_id
            kept.append(q)
    return kept, skips


def as_rows(queries: Iterable[SyntheticQuery]) -> list[dict[str, Any]]:
    return [asdict(q) for q in queries]
