"""The paper's analyses over a finished run: Table 1 beside the published numbers, Table 4 (queries whose
first relevant video moved most), Table 5 (variance decomposition of scores), nDCG@10 by query group,
and Figure 3 (ECDF of scores for relevant vs non-relevant pairs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rankvideo.evaluate.metrics import metric_names, relative_delta, table_markdown
from rankvideo.files.runs import ranked

PUBLISHED = Path(__file__).resolve().parent / "published.yaml"


# --- Table 1 against the published numbers (pyserini 2CR style) ------------------------------

def load_published(path: str | Path = PUBLISHED) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def compare_cell(ours: float | None, published: str | None, tolerance: float) -> str:
    """OK when ours rounds to the published value at its printed precision; else within tolerance or DIFF."""
    if published is None:
        return "not published"
    if ours is None:
        return "missing"
    decimals = len(published.split(".")[1]) if "." in published else 0
    if round(ours, decimals) == float(published):
        return "OK"
    return "within tolerance" if abs(ours - float(published)) <= tolerance else "DIFF"


def compare_table(ours: Mapping[str, Mapping[str, float]], published: Mapping[str, Mapping[str, str]], metrics: Sequence[str],
                  tolerance: float) -> list[dict[str, Any]]:
    """One row per (system, metric) that either side reports."""
    rows = []
    for system in dict.fromkeys([*published, *ours]):
        for metric in metrics:
            value = ours.get(system, {}).get(metric)
            paper = published.get(system, {}).get(metric)
            if value is None and paper is None:
                continue
            rows.append({"system": system, "metric": metric, "ours": value, "published": paper,
                         "status": compare_cell(value, paper, tolerance)})
    return rows


def comparison_markdown(rows: Sequence[Mapping[str, Any]], source: str, tolerance: float) -> str:
    lines = [f"**Ours vs published** ({source}; tolerance ±{tolerance})", "", "| System | Metric | Ours | Published | Status |",
             "|---|---|---|---|---|"]
    for r in rows:
        ours = "—" if r["ours"] is None else f"{r['ours']:.3f}"
        lines.append(f"| {r['system']} | {r['metric']} | {ours} | {r['published'] or '—'} | {r['status']} |")
    counts = {s: sum(r["status"] == s for r in rows) for s in ("OK", "within tolerance", "DIFF", "missing", "not published")}
    lines += ["", ", ".join(f"{n} {s}" for s, n in counts.items() if n)]
    return "\n".join(lines) + "\n"


# --- Table 4: rank of the first relevant video before and after reranking ---------------------

@dataclass(frozen=True)
class RankChange:
    query_id: str
    query: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before


def first_relevant_rank(scores: Mapping[str, float], relevant: set[str], cap: int) -> int:
    """1-based rank of the first relevant video, capped at `cap` (also when none is ranked)."""
    for rank, (doc, _) in enumerate(ranked(scores)[:cap], start=1):
        if doc in relevant:
            return rank
    return cap


def rank_changes(before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]],
                 qrels: Mapping[str, Mapping[str, int]], queries: Mapping[str, str], cap: int) -> list[RankChange]:
    """Most improved first (most negative delta), then by query id."""
    changes = []
    for qid in sorted(queries):
        relevant = {d for d, rel in qrels.get(qid, {}).items() if rel > 0}
        if relevant:
            changes.append(RankChange(qid, queries[qid], first_relevant_rank(before.get(qid, {}), relevant, cap),
                                      first_relevant_rank(after.get(qid, {}), relevant, cap)))
    return sorted(changes, key=lambda c: (c.delta, c.query_id))


def table4_markdown(changes: Sequence[RankChange], n: int, cap: int, system: str) -> str:
    shown = list(changes[:n]) + [c for c in changes[-n:] if c not in changes[:n]]
    lines = [f"**Most improved and degraded queries with {system}** (rank of the first relevant video, capped at {cap})", "",
             "| Query | Before | After | Δ |", "|---|---|---|---|"]
    lines += [f"| {c.query} | {c.before} | {c.after} | {c.delta:+d} |" for c in shown]
    return "\n".join(lines) + "\n"


# --- Table 5: how much of s(q, v) a query or a video prior explains --------------------------

def variance_decomposition(scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """R² of three predictors of s(q, v) (paper §5.1): the query's mean, the video's mean, and mu_q + mu_v - mu."""
    pairs = [(q, v, s) for q, row in scores.items() for v, s in row.items()]
    if len(pairs) < 2:
        raise ValueError("variance decomposition needs at least two scored pairs")
    mean = sum(s for _, _, s in pairs) / len(pairs)
    total = sum((s - mean) ** 2 for _, _, s in pairs)
    by_query = {q: sum(row.values()) / len(row) for q, row in scores.items() if row}
    video_sums: dict[str, list[float]] = {}
    for _, v, s in pairs:
        video_sums.setdefault(v, []).append(s)
    by_video = {v: sum(values) / len(values) for v, values in video_sums.items()}

    def r2(predict) -> float:
        residual = sum((s - predict(q, v)) ** 2 for q, v, s in pairs)
        return 1.0 - residual / total if total else 0.0

    return {"query_only": r2(lambda q, v: by_query[q]), "video_only": r2(lambda q, v: by_video[v]),
            "additive": r2(lambda q, v: by_query[q] + by_video[v] - mean)}


def table5_markdown(rows: Mapping[str, Mapping[str, float]]) -> str:
    lines = ["**Query / video prior strength: R² of s(q, v) from the query's mean, the video's mean, and both**", "",
             "| Method | Query only | Video only | Q+V |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['query_only']:.3f} | {r['video_only']:.3f} | {r['additive']:.3f} |" for name, r in rows.items()]
    return "\n".join(lines) + "\n"


# --- Table 2: one reranker over several first stages ------------------------------------------

def table2_markdown(rows: Mapping[str, tuple[Mapping[str, float], Mapping[str, float]]], reranker: str, cutoffs: Sequence[int],
                    title: str) -> str:
    """Paper Table 2: each first stage raw, then with `reranker` on its top candidates, and the % change over it."""
    names = metric_names(cutoffs)
    lines = [f"**{title}**", "", "| Method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for stage, (before, after) in rows.items():
        deltas = [relative_delta(after[m], before[m]) for m in names]
        lines += [f"| {stage} | " + " | ".join(f"{before[m]:.3f}" for m in names) + " |",
                  f"| + {reranker} | " + " | ".join(f"{after[m]:.3f}" for m in names) + " |",
                  "| Δ% | " + " | ".join("N/A" if d is None else f"{d:+.2f}" for d in deltas) + " |"]
    return "\n".join(lines) + "\n"


# --- First stages compared ------------------------------------------------------------------

OVERLAP_CUTOFFS = (10, 100)  # top-k overlaps between first-stage runs


def overlap_at(run: Mapping[str, Mapping[str, float]], other: Mapping[str, Mapping[str, float]], k: int) -> float:
    """Mean over `run`'s queries of the share of its top k that `other`'s top k also holds (a query `other` lacks: 0)."""
    if not run:
        return 0.0
    top = {q: {v for v, _ in ranked(scores)[:k]} for q, scores in other.items()}
    return sum(len({v for v, _ in ranked(scores)[:k]} & top.get(q, set())) / k for q, scores in run.items()) / len(run)


def first_stages_markdown(means: Mapping[str, Mapping[str, float]], overlaps: Mapping[str, Mapping[int, float]], main: str,
                          cutoffs: Sequence[int], title: str) -> str:
    """Every first stage on the test qrels, and the overlap of its top k with the main first stage's: whether an encoder
    run in the DAG reproduces a released run of the same model (configured as a precomputed first stage)."""
    names = metric_names(cutoffs)
    ks = sorted({k for row in overlaps.values() for k in row})
    lines = [f"**{title}**", "", "| first stage | " + " | ".join([*names, *(f"overlap@{k} with {main}" for k in ks)]) + " |",
             "|---" * (len(names) + len(ks) + 1) + "|"]
    for stage, row in means.items():
        cells = [f"{row[m]:.3f}" for m in names] + [f"{overlaps[stage][k]:.3f}" if stage in overlaps else "" for k in ks]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- Table 7: the Stage 2 loss ablation ------------------------------------------------------

def table7_markdown(results: Mapping[str, Any], rows: Mapping[str, str]) -> str:
    """Paper Table 7 from ndcg.json: the first stage, then each loss subset's Stage 2 reranker cascaded on it.
    `rows` maps a loss label ("P+PT") to the reranker trained with that subset, in the order shown."""
    if not rows:
        return "No loss ablation configured (evaluation.loss_ablation).\n"
    first, systems = results["first_stage"], results["systems"]
    table = {first: systems[first]["mean"], **{f"{label} ({name})": systems[name]["mean"] for label, name in rows.items()}}
    title = (f"{results['dataset']}: Stage 2 loss ablation on {results['queries_evaluated']} queries "
             "(P pairwise, PT pointwise, T teacher)")
    return table_markdown(table, first, results["cutoffs"], title)


# --- nDCG@10 by query group -------------------------------------------------------------------

def group_breakdown(per_query: Mapping[str, Mapping[str, Mapping[str, float]]], groups: Mapping[str, str], metric: str,
                    min_queries: int) -> tuple[list[str], dict[str, dict[str, float]], dict[str, int]]:
    """(groups shown, {system: {group: mean metric}}, queries per group); groups under min_queries are left out."""
    sizes: dict[str, int] = {}
    for qid in next(iter(per_query.values()), {}):
        if qid in groups:
            sizes[groups[qid]] = sizes.get(groups[qid], 0) + 1
    shown = sorted(g for g, n in sizes.items() if n >= min_queries)
    means = {system: {g: sum(v[metric] for q, v in rows.items() if groups.get(q) == g) / sizes[g] for g in shown}
             for system, rows in per_query.items()}
    return shown, means, sizes


def breakdown_markdown(column: str, metric: str, shown: Sequence[str], means: Mapping[str, Mapping[str, float]],
                       sizes: Mapping[str, int], min_queries: int) -> str:
    hidden = sorted(g for g in sizes if g not in shown)
    lines = [f"**{metric} by query {column}** (groups with at least {min_queries} queries)", ""]
    if shown:
        lines += ["| Method | " + " | ".join(f"{g} ({sizes[g]})" for g in shown) + " |", "|---|" + "---|" * len(shown)]
        lines += [f"| {system} | " + " | ".join(f"{row[g]:.3f}" for g in shown) + " |" for system, row in means.items()]
    else:
        lines.append("No group has enough queries.")
    if hidden:
        lines += ["", "Left out (too few queries): " + ", ".join(f"{g} ({sizes[g]})" for g in hidden)]
    return "\n".join(lines) + "\n"


# --- Figure 3 -----------------------------------------------------------------------------------

def relevance_split(scores: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]]) -> tuple[list[float], list[float]]:
    """Scores of relevant and of non-relevant (query, video) pairs (unjudged pairs count as non-relevant)."""
    relevant, other = [], []
    for q, row in scores.items():
        for v, s in row.items():
            (relevant if qrels.get(q, {}).get(v, 0) > 0 else other).append(s)
    return relevant, other


def plot_ecdf(panels: Mapping[str, tuple[Sequence[float], Sequence[float]]], out: str | Path, title: str) -> None:
    """One panel per model: the ECDF of s(q, v) over relevant and over non-relevant pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), dpi=110, sharey=True, squeeze=False)
    for ax, (name, (relevant, other)) in zip(axes[0], panels.items()):
        for values, label, style in ((relevant, "relevant", "-"), (other, "non-relevant", "--")):
            xs = sorted(values)
            ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], style, where="post", label=f"{label} (n={len(xs)})")
        ax.set_title(name)
        ax.set_xlabel("s(q, v) = logit(yes) − logit(no)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    axes[0][0].set_ylabel("fraction of pairs with score ≤ s")
    fig.suptitle(title)
    _save(fig, out)


# --- Figure 4: per-pair latency ----------------------------------------------------------------

def latency_markdown(rows: Mapping[str, Mapping[str, Any]], device: str) -> str:
    """Figure 4's numbers: the median seconds per pair alone (batch 1) and shared across a video's queries."""
    lines = [f"**Median latency per (query, video) pair on {device}**", "",
             "| Method | Pairs | Alone (s, batch 1) | Shared video (s per pair) | Queries per video |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {r['pairs']} | {r['median_s']:.3f} | {r['shared_median_s_per_pair']:.3f} | {r['queries_per_video']:.1f} |"
              for name, r in rows.items()]
    return "\n".join(lines) + "\n"


def plot_latency(rows: Mapping[str, Mapping[str, Any]], out: str | Path, title: str) -> None:
    """Bars of the median per-pair latency of each reranker: scored alone, and shared across a video's queries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    xs = range(len(names))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(names) + 2), 3.8), dpi=110)
    alone = ax.bar([x - 0.2 for x in xs], [rows[n]["median_s"] for n in names], 0.4, label="alone (batch 1, as the paper)")
    shared = ax.bar([x + 0.2 for x in xs], [rows[n]["shared_median_s_per_pair"] for n in names], 0.4,
                    label="shared video (all its candidate queries)")
    ax.bar_label(alone, fmt="%.3f", fontsize=7)
    ax.bar_label(shared, fmt="%.3f", fontsize=7)
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("median seconds per (query, video) pair")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, out)


def _save(fig: Any, out: str | Path) -> None:
    """Write a figure through a temporary file, so a killed job leaves no half-written image."""
    import matplotlib.pyplot as plt

    tmp = Path(out).with_name(Path(out).stem + ".partial.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
