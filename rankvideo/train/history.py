"""A training run's per-step log: JSONL for tools, a plot of every loss term for the report."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rankvideo.files.atomic import atomic_write_text


def write_history(history: Sequence[Mapping[str, Any]], jsonl: str | Path, plot: str | Path, title: str) -> None:
    """The per-step log as JSONL and a plot of every loss component against the step."""
    atomic_write_text(jsonl, "".join(json.dumps(row) + "\n" for row in history))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history[0] if k not in ("step", "epoch", "lr")]
    steps = [r["step"] for r in history]
    window = max(1, len(history) // 20)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for name in names:
        values = [r[name] for r in history]
        line, = ax.plot(steps, values, linewidth=0.6, alpha=0.3)
        smooth = [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1]) for i in range(len(values))]
        ax.plot(steps, smooth, color=line.get_color(), linewidth=1.8, label=f"{name} (mean of last {window} steps)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (per step: faint; running mean: bold)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = Path(plot).with_name(Path(plot).stem + ".partial.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(plot)
