"""Rule figure4: the per-pair latency of each reranker (paper Figure 4) as a bar chart and a table."""

import json
from pathlib import Path

from rankvideo.analysis.tables import latency_markdown, plot_latency
from rankvideo.files.atomic import atomic_write_text
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    rows = {r["reranker"]: r for r in (json.loads(Path(path).read_text(encoding="utf-8")) for path in sm.input)}
    devices = sorted({r["device"] for r in rows.values()})
    device = " / ".join(devices)
    atomic_write_text(sm.output.table, latency_markdown(rows, device))
    plot_latency(rows, sm.output.figure, f"Per-pair reranking latency on {device}")


run_script(main, snakemake)  # noqa: F821
