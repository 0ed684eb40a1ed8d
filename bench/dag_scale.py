"""Benchmark: how long Snakemake takes to build the DAG for a MultiVENT-sized corpus (a dry run).

A simulated 110,000-video sheet (no real videos) under the paper config (220 shards, OmniEmbed encoding
each shard in its own job), side by side with a 1,000-video sheet in the same run:
  1. dry run before the shard checkpoint has run (what a user sees first);
  2. the shard checkpoint itself (reads the sheet, writes one sheet per shard);
  3. dry run with every shard known (the whole DAG of per-shard jobs), REPEATS times: median and range;
and `snakemake --version`, the fixed start-up cost every call pays. Installed, the Slurm executor plugin runs
`scontrol show config` on import (snakemake_executor_plugin_slurm.job_status_query.get_min_job_age) and waits up to
10 s when no Slurm controller answers: start one (scripts/slurm/up.sh) to measure as on a cluster.
    python bench/dag_scale.py [--videos 110000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
WORKFLOW = ("Snakefile", "rules", "workflow_scripts", "config.yaml", "envs")


def make_corpus(workdir: Path, n_videos: int) -> Path:
    """A sheet of n_videos (paths that need not exist for a dry run), a few queries and qrels."""
    data = workdir / "data"
    data.mkdir()
    with open(data / "videos.tsv", "w") as sheet:
        sheet.write("video_id\tpath\ttitle\tlanguage\n")
        for i in range(n_videos):
            sheet.write(f"v{i:06d}\tvideos/v{i:06d}.mp4\tevent {i % 2400}\t{('en', 'ar', 'zh', 'ko', 'ru', 'es')[i % 6]}\n")
    for split in ("train", "test"):
        (data / f"queries_{split}.tsv").write_text("q1\tan event\n")
    (data / "qrels.txt").write_text("q1 0 v000000 1\n")
    overlay = {"dataset": {"video_sheet": "data/videos.tsv", "queries": {"train": "data/queries_train.tsv", "test": "data/queries_test.tsv"},
                           "qrels": "data/qrels.txt"}}
    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump(overlay))
    return path


def timed_snakemake(workdir: Path, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    config = ("--configfile", "bench.yaml") if args != ("--version",) else ()
    result = subprocess.run([sys.executable, "-m", "snakemake", *args, *config], cwd=workdir,
                            capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def planned(stdout: str) -> int:
    match = re.search(r"^total\s+(\d+)$", stdout, re.MULTILINE)
    return int(match.group(1)) if match else 0


def measure(n_videos: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in WORKFLOW:
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, workdir / name)
        shutil.copytree(ROOT / "rankvideo", workdir / "rankvideo")
        make_corpus(workdir, n_videos)
        before, out_before = timed_snakemake(workdir, "-n", "results/eval/ndcg.json")
        split, _ = timed_snakemake(workdir, "results/corpus/shards", "--cores", "1")
        runs = [timed_snakemake(workdir, "-n", "results/eval/ndcg.json") for _ in range(REPEATS)]
        startup, _ = timed_snakemake(workdir, "--version")
        times = sorted(seconds for seconds, _ in runs)
        return {"videos": n_videos, "dry_run_s": before, "jobs_before": planned(out_before), "shard_checkpoint_s": split,
                "dry_run_known_s": statistics.median(times), "dry_run_known_range": (times[0], times[-1]),
                "jobs_known": planned(runs[0][1]), "startup_s": startup}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=110_000)
    p.add_argument("--baseline", type=int, default=1_000)
    args = p.parse_args()
    rows = [measure(args.baseline), measure(args.videos)]
    print(f"{'videos':>8} {'dry run (s)':>12} {'jobs':>6} {'shard checkpoint (s)':>21} {'dry run, shards known (s)':>26} {'jobs':>6}")
    for r in rows:
        print(f"{r['videos']:>8} {r['dry_run_s']:>12.1f} {r['jobs_before']:>6} {r['shard_checkpoint_s']:>21.1f} "
              f"{r['dry_run_known_s']:>26.1f} {r['jobs_known']:>6}")
    big, small = rows[1], rows[0]
    low, high = big["dry_run_known_range"]
    print(f"dry run at {big['videos']} videos: {big['dry_run_known_s']:.1f} s (range {low:.1f}-{high:.1f}, {REPEATS} runs), "
          f"{big['dry_run_known_s'] / small['dry_run_known_s']:.2f}x the {small['videos']}-video sheet's; "
          f"of it, `snakemake --version` (start-up) {big['startup_s']:.1f} s")
    if big["startup_s"] > 5:
        print("start-up over 5 s: the Slurm executor plugin's `scontrol show config` found no controller and timed out; "
              "scripts/slurm/up.sh starts one")


if __name__ == "__main__":
    main()
