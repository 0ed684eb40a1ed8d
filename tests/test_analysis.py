"""The paper's analyses on small fixtures whose answers are worked out by hand."""

import pytest

from rankvideo.analysis.tables import (
    RankChange,
    compare_cell,
    compare_table,
    first_relevant_rank,
    first_stages_markdown,
    group_breakdown,
    load_published,
    overlap_at,
    plot_ecdf,
    rank_changes,
    relevance_split,
    table2_markdown,
    table7_markdown,
    variance_decomposition,
)


@pytest.mark.parametrize(("ours", "published", "status"), [
    (0.4951, "0.495", "OK"),               # rounds to the printed value
    (0.604, "0.60", "OK"),                 # printed with two decimals: compared at two
    (0.503, "0.495", "within tolerance"),  # 0.008 away, tolerance 0.01
    (0.520, "0.495", "DIFF"),              # 0.025 away
    (None, "0.495", "missing"),
    (0.5, None, "not published"),
])
def test_a_cell_is_ok_within_tolerance_or_diff(ours, published, status):
    assert compare_cell(ours, published, tolerance=0.01) == status


def test_the_comparison_covers_both_sides():
    ours = {"OmniEmbed": {"nDCG@10": 0.4952, "R@10": 0.60}, "RV-2": {"nDCG@10": 0.571}}
    published = {"OmniEmbed": {"nDCG@10": "0.495", "R@10": "0.523"}, "RV-2": {"nDCG@10": "0.566"}, "RR": {"nDCG@10": "0.543"}}
    rows = {(r["system"], r["metric"]): r["status"] for r in compare_table(ours, published, ["R@10", "nDCG@10"], 0.01)}
    assert rows == {("OmniEmbed", "R@10"): "DIFF", ("OmniEmbed", "nDCG@10"): "OK", ("RV-2", "nDCG@10"): "within tolerance",
                    ("RR", "nDCG@10"): "missing"}


def test_published_numbers_are_the_papers():
    published = load_published()
    assert published["dataset"] == "MultiVENT 2.0"
    assert published["table1"]["RV-2"]["nDCG@10"] == "0.566" and published["table1"]["OmniEmbed"]["nDCG@10"] == "0.495"
    assert published["table5"]["QVL-R"]["video_only"] == "0.755"


def test_first_relevant_rank_is_capped():
    scores = {"a": 3.0, "b": 2.0, "c": 1.0}
    assert first_relevant_rank(scores, {"b"}, cap=100) == 2
    assert first_relevant_rank(scores, {"c"}, cap=2) == 2  # ranked third, capped at 2
    assert first_relevant_rank(scores, {"z"}, cap=100) == 100  # never retrieved


def test_rank_changes_sort_most_improved_first():
    before = {"q1": {"a": 3, "b": 2, "c": 1}, "q2": {"a": 3, "b": 2, "c": 1}}
    after = {"q1": {"a": 1, "b": 2, "c": 3}, "q2": {"a": 3, "b": 2, "c": 1}}
    qrels = {"q1": {"c": 1}, "q2": {"b": 1}, "q3": {"a": 0}}  # q3 has nothing relevant: left out
    changes = rank_changes(before, after, qrels, {"q1": "one", "q2": "two", "q3": "three"}, cap=100)
    assert changes == [RankChange("q1", "one", 3, 1), RankChange("q2", "two", 2, 2)]
    assert changes[0].delta == -2


def test_variance_decomposition_by_hand():
    # s = mu_q + mu_v - mu exactly; query means 2, 3; video means 1.5, 3.5; mean 2.5; total SS 5.
    scores = {"q1": {"a": 1.0, "b": 3.0}, "q2": {"a": 2.0, "b": 4.0}}
    r2 = variance_decomposition(scores)
    assert r2["query_only"] == pytest.approx(1 - 4 / 5)   # residuals 1, 1, 1, 1
    assert r2["video_only"] == pytest.approx(1 - 1 / 5)   # residuals 0.25 x 4
    assert r2["additive"] == pytest.approx(1.0)


def test_groups_below_the_minimum_are_left_out():
    per_query = {"RV-2": {"q1": {"nDCG@10": 1.0}, "q2": {"nDCG@10": 0.5}, "q3": {"nDCG@10": 0.0}}}
    shown, means, sizes = group_breakdown(per_query, {"q1": "visual", "q2": "visual", "q3": "speech"}, "nDCG@10", min_queries=2)
    assert shown == ["visual"] and means == {"RV-2": {"visual": 0.75}} and sizes == {"visual": 2, "speech": 1}


def test_ecdf_figure_is_written(tmp_path):
    scores = {"q1": {"a": 2.0, "b": -1.0, "c": 0.5}}
    relevant, other = relevance_split(scores, {"q1": {"a": 1}})
    assert relevant == [2.0] and sorted(other) == [-1.0, 0.5]
    plot_ecdf({"base": (relevant, other), "RV-2": (relevant, other)}, tmp_path / "f.png", "ECDF")
    assert (tmp_path / "f.png").stat().st_size > 10_000 and not list(tmp_path.glob("*.partial.png"))


def test_a_breakdown_without_large_enough_groups_says_so():
    from rankvideo.analysis.tables import breakdown_markdown

    text = breakdown_markdown("topic", "nDCG@10", [], {"RV-2": {}}, {"a": 1, "b": 1}, 3)
    assert "No group has enough queries." in text and "a (1), b (1)" in text and "| RV-2 |" not in text


def test_table7_lists_the_loss_subsets_in_config_order_with_deltas_over_the_first_stage():
    means = {"FS": {"R@10": 0.5, "nDCG@10": 0.4}, "RV-2": {"R@10": 0.6, "nDCG@10": 0.5}, "RV-2-P": {"R@10": 0.5, "nDCG@10": 0.3}}
    results = {"dataset": "D", "first_stage": "FS", "queries_evaluated": 7, "cutoffs": [10],
               "systems": {name: {"mean": m} for name, m in means.items()}}
    table = table7_markdown(results, {"P+PT+T": "RV-2", "P": "RV-2-P"})
    lines = table.splitlines()
    assert "Stage 2 loss ablation on 7 queries" in lines[0]
    assert lines[4] == "| FS | 0.500 | 0.400 |"
    assert lines[5:9] == ["| P+PT+T (RV-2) | 0.600 | 0.500 |", "| Δ% vs FS | +20.00 | +25.00 |",
                          "| P (RV-2-P) | 0.500 | 0.300 |", "| Δ% vs FS | +0.00 | -25.00 |"]
    assert table7_markdown(results, {}).startswith("No loss ablation configured")


def test_table2_gives_each_first_stage_its_reranked_row_and_change():
    rows = {"A": ({"R@10": 0.5, "nDCG@10": 0.4}, {"R@10": 0.6, "nDCG@10": 0.5}), "B": ({"R@10": 0.0, "nDCG@10": 0.2}, {"R@10": 0.1, "nDCG@10": 0.1})}
    lines = table2_markdown(rows, "RV-2", [10], "T").splitlines()
    assert lines[4:10] == ["| A | 0.500 | 0.400 |", "| + RV-2 | 0.600 | 0.500 |", "| Δ% | +20.00 | +25.00 |",
                           "| B | 0.000 | 0.200 |", "| + RV-2 | 0.100 | 0.100 |", "| Δ% | N/A | -50.00 |"]


def test_overlap_is_the_shared_share_of_each_querys_top_k():
    ours = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"d": 1.0, "e": 0.5}, "q3": {"f": 1.0}}
    released = {"q1": {"c": 9.0, "a": 8.0, "z": 7.0}, "q2": {"e": 2.0, "d": 1.0}}
    assert overlap_at(ours, released, 2) == pytest.approx((1 / 2 + 2 / 2 + 0) / 3)  # q1: {a, b} vs {c, a}; q3 absent there
    assert overlap_at(ours, ours, 3) == pytest.approx((1 + 2 / 3 + 1 / 3) / 3)  # a list shorter than k shares fewer than k
    assert overlap_at({}, released, 10) == 0.0


def test_the_first_stages_table_gives_each_its_metrics_and_overlap_with_the_main_one():
    means = {"Omni": {"R@10": 0.5, "nDCG@10": 0.4}, "Released": {"R@10": 0.6, "nDCG@10": 0.45}}
    lines = first_stages_markdown(means, {"Released": {10: 0.8, 100: 0.9}}, "Omni", [10], "T").splitlines()
    assert lines[2] == "| first stage | R@10 | nDCG@10 | overlap@10 with Omni | overlap@100 with Omni |"
    assert lines[4:] == ["| Omni | 0.500 | 0.400 |  |  |", "| Released | 0.600 | 0.450 | 0.800 | 0.900 |"]
