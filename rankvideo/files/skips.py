"""The skip manifest: every item a stage could not use, with the stage, a fixed code and the particulars.

Nothing is dropped silently: a stage that leaves an item out writes a line here instead. Counts (the funnel) read
the code; the free-text reason beside it is for people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import FormatError, iter_fields

HEADER = ("id", "stage", "code", "reason")


class Why(StrEnum):
    """Why an item was left out, one code per cause; the stage that writes each is named beside it."""

    UNREADABLE_VIDEO = "unreadable_video"  # corpus probe: the video cannot be decoded as the model samples it; encode_corpus:
    # its frames cannot be decoded, the embedding is made without them
    NO_AUDIO = "no_audio"  # corpus probe: kept for video stages, no speech for ASR; encode_corpus: embedded without audio;
    # caption (a captioner that hears): captioned from the frames alone
    EXTRACTION_FAILED = "extraction_failed"  # ASR / OCR / captions failed on this video
    NO_VIEW_TEXT = "no_view_text"  # synthesis: the variant's view of the video has no text
    MALFORMED_ANSWER = "malformed_answer"  # synthesis: no usable query after every retry
    DUPLICATE_QUERY = "duplicate_query"  # synthesis: the same normalised text as an earlier query
    NO_RELEVANT_VIDEO = "no_relevant_video"  # a human query without a relevant video in the qrels
    UNUSABLE_CANDIDATE = "unusable_candidate"  # first stage: a precomputed run ranks a video the corpus cannot use
    FILTER_A = "filter_a"  # paper §3 filter (a): no relevant video in the first-stage top k
    FILTER_B = "filter_b"  # paper §3 filter (b): the top hard negative scores over ratio x the positive (or it scores <= 0)
    MISJUDGED_POSITIVE = "misjudged_positive"  # judging: the teacher says no to the positive
    FEW_TRUSTED_NEGATIVES = "few_trusted_negatives"  # judging: fewer trusted negatives than judge.min_trusted_negatives


@dataclass(frozen=True)
class Skip:
    item_id: str
    stage: str
    code: Why
    reason: str


def count(skips: Iterable[Skip], code: Why) -> int:
    return sum(1 for s in skips if s.code == code)


def write_skips(path: str | Path, skips: Iterable[Skip]) -> None:
    with atomic_write(path) as out:
        out.write("\t".join(HEADER) + "\n")
        for s in skips:
            reason = " ".join(s.reason.split())  # one line, no tabs
            out.write(f"{s.item_id}\t{s.stage}\t{s.code}\t{reason}\n")


def read_skips(path: str | Path) -> list[Skip]:
    rows = iter_fields(path, len(HEADER))
    first = next(rows, None)
    if first is None or tuple(first[1]) != HEADER:
        raise FormatError(path, 1, f"expected the header {HEADER}")
    skips = []
    for line, (item_id, stage, code, reason) in rows:
        if code not in Why.__members__.values():
            raise FormatError(path, line, f"unknown skip code {code!r}; expected one of {[str(w) for w in Why]}")
        skips.append(Skip(item_id, stage, Why(code), reason))
    return skips


def merge_skips(paths: Iterable[str | Path], out: str | Path) -> list[Skip]:
    skips = [s for p in paths for s in read_skips(p)]
    write_skips(out, skips)
    return skips
