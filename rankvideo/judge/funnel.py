"""The data-synthesis funnel: counts after every step, in the shape of the paper's §3 numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any


def funnel_counts(records: Sequence[Mapping[str, Any]], written: Sequence[Mapping[str, Any]], n_malformed: int,
                  n_after_dedup: int, n_human: int, n_retrieved: int, n_after_a: int, n_after_b: int,
                  judgments: Sequence[Mapping[str, Any]], partitions: Sequence[Mapping[str, Any]], n_misjudged: int,
                  n_few_trusted: int, stage1: Sequence[Any], stage2: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    per_query_negatives = Counter(sum(1 for r in stage2 if r["query_id"] == q and not r["true_label"])
                                  for q in {r["query_id"] for r in stage2})
    n_parts = max(len(partitions), 1)
    return {
        "videos": len(records),
        "videos_with_text": {m: sum(1 for r in records if r.get(m, "").strip()) for m in ("asr", "ocr", "caption")},
        "queries_written_per_variant": dict(Counter(q["variant"] for q in written)),
        "queries_malformed_after_retries": n_malformed,
        "synthetic_after_dedup": n_after_dedup,
        "human_queries": n_human,
        "queries_retrieved": n_retrieved,
        "after_filter_a_positive_in_top_k": n_after_a,
        "after_filter_b_negative_ratio": n_after_b,
        "pairs_judged": len(judgments),
        "queries_positive_misjudged": n_misjudged,
        "queries_too_few_trusted_negatives": n_few_trusted,
        "queries_kept": len(partitions),
        "negatives": {k: sum(len(p[k]) for p in partitions) for k in ("trusted", "suspected", "hard")},
        "negatives_per_query": {k: sum(len(p[k]) for p in partitions) / n_parts for k in ("trusted", "suspected", "hard")},
        "stage1_records": len(stage1),
        "stage2_records": len(stage2),
        "stage2_positive_pairs": sum(1 for r in stage2 if r["true_label"]),
        "stage2_negative_pairs": sum(1 for r in stage2 if not r["true_label"]),
        "stage2_candidates_per_query": len(stage2) / n_parts,
        "queries_by_negative_count": {str(k): v for k, v in sorted(per_query_negatives.items(), reverse=True)},
    }


def funnel_markdown(counts: Mapping[str, Any]) -> str:
    rows = [
        ("videos with ASR / OCR / caption text", " / ".join(str(counts["videos_with_text"][m]) for m in ("asr", "ocr", "caption")) + f" of {counts['videos']}"),
        ("synthetic queries written, per variant", ", ".join(f"{k} {v}" for k, v in counts["queries_written_per_variant"].items())),
        ("malformed answers after retries", counts["queries_malformed_after_retries"]),
        ("synthetic queries after deduplication", counts["synthetic_after_dedup"]),
        ("human queries mixed in", counts["human_queries"]),
        ("after filter (a): positive in first-stage top k", counts["after_filter_a_positive_in_top_k"]),
        ("after filter (b): top negative <= ratio x positive", counts["after_filter_b_negative_ratio"]),
        ("(query, video) pairs judged by the teacher", counts["pairs_judged"]),
        ("queries dropped: positive misjudged", counts["queries_positive_misjudged"]),
        ("queries dropped: too few trusted negatives", counts["queries_too_few_trusted_negatives"]),
        ("queries kept", counts["queries_kept"]),
        ("trusted / suspected / hard negatives", " / ".join(str(counts["negatives"][k]) for k in ("trusted", "suspected", "hard"))),
        ("per query: trusted / suspected / hard", " / ".join(f"{counts['negatives_per_query'][k]:.2f}" for k in ("trusted", "suspected", "hard"))),
        ("Stage 1 records (one video per query)", counts["stage1_records"]),
        ("Stage 2 records: positives + negatives", f"{counts['stage2_records']} = {counts['stage2_positive_pairs']} + {counts['stage2_negative_pairs']}"),
        ("Stage 2 candidates per query (paper: 3.85)", f"{counts['stage2_candidates_per_query']:.2f}"),
        ("queries by number of negatives", ", ".join(f"{v} with {k}" for k, v in counts["queries_by_negative_count"].items())),
    ]
    return "| step | count |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
