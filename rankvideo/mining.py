"""From synthetic queries to training data (paper §3, §4.2): first-stage filters, teacher judging,
the trusted / suspected-positive / hard-negative partition, and the two training sets."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rankvideo.formats.runs import ranked
from rankvideo.prompts import sigmoid

JUDGE_SYSTEM = ("You are RankLLM, an intelligent assistant that judges whether a video is relevant to a search query, "
                "using the video's caption and speech transcript as evidence. Answer <answer>yes</answer> if the video "
                "is relevant and <answer>no</answer> if it is not.")


@dataclass(frozen=True)
class Candidate:
    query_id: str
    positive: str
    positive_score: float
    negatives: list[tuple[str, float]]  # first-stage (video, score), best first


def pick_positive(scores: Mapping[str, float], relevant: set[str]) -> str | None:
    """The best-ranked relevant video: one positive per query, as in the paper's 9,267 pairs."""
    return next((vid for vid, _ in ranked(scores) if vid in relevant), None)


def filter_queries(run: Mapping[str, Mapping[str, float]], relevant: Mapping[str, set[str]], positive_depth: int,
                   max_negative_ratio: float, n_candidates: int) -> tuple[list[Candidate], dict[str, str]]:
    """Paper §3 filters: (a) the positive must be in the first-stage top `positive_depth`; (b) drop the
    query when its top hard negative scores more than `max_negative_ratio` times its positive.

    Filter (b) compares raw first-stage scores and so assumes they are positive (OmniEmbed's are);
    a query whose positive scores <= 0 is dropped, since no ratio can be judged for it.
    """
    kept: list[Candidate] = []
    dropped: dict[str, str] = {}
    for qid in sorted(relevant):
        order = ranked(run.get(qid, {}))[:positive_depth]
        scores = dict(order)
        positive = pick_positive(scores, relevant[qid])
        if positive is None:
            dropped[qid] = f"filter a: no relevant video in the first-stage top {positive_depth}"
            continue
        negatives = [(v, s) for v, s in order if v not in relevant[qid]]
        if scores[positive] <= 0:
            dropped[qid] = f"filter b: positive scores {scores[positive]:.4f} <= 0, no ratio to judge"
            continue
        if negatives and negatives[0][1] > max_negative_ratio * scores[positive]:
            dropped[qid] = f"filter b: top hard negative {negatives[0][0]} scores {negatives[0][1]:.4f} > {max_negative_ratio} x positive {scores[positive]:.4f}"
            continue
        kept.append(Candidate(qid, positive, scores[positive], negatives[:n_candidates]))
    return kept, dropped


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


@dataclass
class Partition:
    query_id: str
    positive: Judgment
    trusted: list[Judgment] = field(default_factory=list)
    suspected: list[Judgment] = field(default_factory=list)
    hard: list[Judgment] = field(default_factory=list)

    @property
    def usable_negatives(self) -> list[Judgment]:
        return self.trusted + self.hard


def partition(judgments: Sequence[Judgment], alpha1: float, alpha2: float, min_trusted: int) -> tuple[list[Partition], dict[str, str]]:
    """Paper §4.2: trusted negatives (y=0, delta <= alpha1), suspected positives (y=1, delta > alpha2,
    dropped as likely false negatives), hard negatives (the rest). A query whose positive the teacher
    misjudges, or with fewer than `min_trusted` trusted negatives, is dropped with the reason."""
    by_query: dict[str, list[Judgment]] = {}
    for j in judgments:
        by_query.setdefault(j.query_id, []).append(j)
    kept: list[Partition] = []
    dropped: dict[str, str] = {}
    for qid in sorted(by_query):
        positives = [j for j in by_query[qid] if j.is_positive]
        if len(positives) != 1:
            raise ValueError(f"query {qid}: expected one judged positive, found {len(positives)}")
        if not positives[0].says_yes:
            dropped[qid] = f"teacher misjudged the positive {positives[0].video_id} (delta {positives[0].delta:.3f})"
            continue
        part = Partition(qid, positives[0])
        for j in by_query[qid]:
            if j.is_positive:
                continue
            if not j.says_yes and j.delta <= alpha1:
                part.trusted.append(j)
            elif j.says_yes and j.delta > alpha2:
                part.suspected.append(j)
            else:
                part.hard.append(j)
        if len(part.trusted) < min_trusted:
            dropped[qid] = f"{len(part.trusted)} trusted negative(s) < {min_trusted}"
            continue
        kept.append(part)
    return kept, dropped


def rotate(pool: Sequence[Any], k: int, seed: int, key: str, epoch: int) -> list[Any]:
    """K items of `pool` for one epoch: a seeded order walked k at a time, so over epochs all are seen."""
    pool = list(pool)
    random.Random(f"{seed}:{key}").shuffle(pool)
    if len(pool) <= k:
        return pool
    start = (epoch * k) % len(pool)
    return [pool[(start + i) % len(pool)] for i in range(k)]


def sample_negatives(part: Partition, k: int, seed: int, epoch: int = 0) -> list[Judgment]:
    """K negatives of a query for one epoch."""
    return rotate(sorted(part.usable_negatives, key=lambda j: j.video_id), k, seed, part.query_id, epoch)


def stage1_rows(parts: Sequence[Partition], queries: Mapping[str, str], records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stage 1: one video per query (its positive) with the teacher caption as target."""
    rows = []
    for p in parts:
        vid = p.positive.video_id
        rows.append({"query_id": p.query_id, "query": queries[p.query_id], "doc_id": vid, "videos": [records[vid]["path"]],
                     "caption": records[vid]["caption"]})
    return rows


def stage2_rows(parts: Sequence[Partition], queries: Mapping[str, str], records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stage 2 in upstream's training format: the positive and every usable negative of each query."""
    rows = []
    for p in parts:
        for j in [p.positive, *sorted(p.usable_negatives, key=lambda x: x.video_id)]:
            record = records[j.video_id]
            rows.append({"query_id": p.query_id, "query": queries[p.query_id], "doc_id": j.video_id, "videos": [record["path"]],
                         "true_label": int(j.is_positive), "teacher_p_yes": j.p_yes, "teacher_delta": j.delta,
                         "evidence": {"caption": record["caption"], "asr": record["asr"]}, "teacher_reasoning": j.reasoning})
    return rows


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


def partition_rows(parts: Sequence[Partition]) -> list[dict[str, Any]]:
    """The rows of partition.jsonl: each kept query with its positive and its judged negatives by kind."""
    return [{"query_id": part.query_id, "positive": judgment_rows([part.positive])[0],
             **{k: judgment_rows(getattr(part, k)) for k in ("trusted", "suspected", "hard")}} for part in parts]


def read_judgments(rows: Sequence[Mapping[str, Any]], yes_threshold: float = 0.0) -> list[Judgment]:
    return [Judgment(r["query_id"], r["video_id"], bool(r["is_positive"]), float(r["delta"]), r.get("reasoning", ""), yes_threshold)
            for r in rows]


def read_partitions(rows: Sequence[Mapping[str, Any]]) -> list[Partition]:
    return [Partition(r["query_id"], read_judgments([r["positive"]], r["positive"]["yes_threshold"])[0],
                      *(read_judgments(r[k], r["positive"]["yes_threshold"]) for k in ("trusted", "suspected", "hard"))) for r in rows]
