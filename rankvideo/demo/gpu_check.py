"""The prepared GPU check (issue #25): Qwen3-VL-8B's widths at two layers, planned as the workflow plans a vLLM job,
then served on a GPU and measured against that plan.

    python -m rankvideo.demo.gpu_check [--out results/gpu_check] [--videos DIR] [--no-bench]

1. Builds the width-true twin (rankvideo.demo.twins.build_width_true_twin): every width of the shipped
   Qwen3-VL-8B-Instruct config.json, 2 decoder layers, 2 vision layers, the twins' small vocabulary, bf16.
2. Plans its memory per GPU with the workflow's own functions (count_served, per_gpu_gb) and prints the plan.
3. With a GPU (torch sees one, or nvidia-smi answers): serves the twin with VLMReranker(backend="vllm"), scores demo
   videos with 3 queries each in both prompt formats, checks every score is finite, reads vLLM's own memory lines from
   the engine's log and nvidia-smi's peak memory.used, and writes measured against planned to OUT/report.md. Then the
   throughput benchmark (bench/rerank_throughput.py, both backends) at Qwen3-VL-8B's full depth, unless --no-bench.
Without a GPU it stops after the plan, says so and exits 0. scripts/gpu_check.sh (`make gpu-check`) builds the CUDA
vLLM environment and runs this module in it. Exit 1: a score failed or was not finite, vLLM's log lacked a line the
comparison needs, or the KV cache's bytes per token were not the plan's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self

from rankvideo.demo.topics import TOPICS
from rankvideo.demo.twins import build_throughput_twin, build_width_true_twin
from rankvideo.models.architecture import Served, count_served, shipped_config
from rankvideo.workflow.inference import BATCHED_TOKENS, per_gpu_gb

BASE = "Qwen/Qwen3-VL-8B-Instruct"
LAYERS, VISION_DEPTH = 2, 2
MAX_MODEL_LEN = 8192
UTILIZATION = 0.5  # vLLM's share of the GPU: the rest stays free for whatever else runs there
FORMATS = ("paper", "upstream")
N_VIDEOS = 3
DEMO_SEED = 13  # the demo corpus's seed (tests/conftest.py, config/demo.yaml)
KV_TOLERANCE = 0.02  # measured KV bytes per token against the plan's: vLLM rounds its log to 0.01 GiB
GIB = 2**30
NO_GPU = "no GPU here: built the width-true twin and planned it; the measured half needs a GPU"
# vLLM 0.32's own log lines (v1/worker/gpu_model_runner.py, v1/worker/gpu_worker.py, v1/core/kv_cache_utils.py,
# config/scheduler.py): what the engine holds after loading, what it left for the KV cache and how many tokens that is.
VLLM_LINES = {
    "weights_gib": r"Model loading took ([\d.]+) GiB",
    "kv_gib": r"Available KV cache memory: ([\d.]+) GiB",
    "kv_tokens": r"KV cache size: ([\d,]+) tokens",
    "batched_tokens": r"max_num_batched_tokens=(\d+)",
    "cuda_graphs_gib": r"Graph capturing finished in \d+ secs?, took ([\d.]+) GiB",
}
NEEDED = {"weights_gib": "Model loading took X GiB", "kv_gib": "Available KV cache memory: X GiB",  # the comparison's
          "kv_tokens": "KV cache size: N tokens"}  # inputs; the other lines are reported when present


def queries() -> list[str]:
    return [topic.queries[0] for topic in TOPICS[:3]]


# --- the twin and its plan ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    served: Served
    gb: dict[str, float]  # per_gpu_gb's row: weights, activations, runtime, kv (GB = 1e9 bytes)
    max_model_len: int
    deepstack_levels: int  # vision taps feeding the decoder: vLLM keeps a buffer of batched tokens x hidden for each

    @property
    def kv_bytes_per_token(self) -> int:
        return self.served.kv_bytes_per_token(1)

    def gib(self, part: str) -> float:
        return self.gb[part] * 1e9 / GIB


def plan_twin(twin: Path, max_model_len: int = MAX_MODEL_LEN) -> Plan:
    """The twin's memory on one GPU, as rankvideo.workflow.inference plans every vLLM job."""
    config = twin / "config.json"
    served = count_served(config)
    levels = len(json.loads(config.read_text())["vision_config"].get("deepstack_visual_indexes", []))
    return Plan(served, per_gpu_gb(served, 1, max_model_len), max_model_len, levels)


def plan_text(plan: Plan, base_served: Served) -> str:
    s, gb = plan.served, plan.gb
    per_layer = base_served.kv_bytes_per_token(1) // base_served.layers
    lines = [
        (f"Width-true twin of {BASE}: {s.params / 1e6:.1f}M served parameters, {s.layers} decoder layers of hidden "
         f"{s.hidden_size}, {s.attention_heads} attention heads, {s.kv_heads} KV heads of {s.head_dim}, MLP {s.ffn_width} "
         f"(the real model: {base_served.params / 1e9:.2f}B, {base_served.layers} layers)."),
        (f"KV cache per token: {plan.kv_bytes_per_token} bytes = {s.layers} layers x {s.kv_heads} KV heads x {s.head_dim} "
         f"x K and V x 2 bytes (bf16); per layer {plan.kv_bytes_per_token // s.layers} bytes, the real model's {per_layer}."),
        "",
        (f"Plan per GPU (rankvideo.workflow.inference.per_gpu_gb; tensor parallel 1, max_model_len {plan.max_model_len}, "
         f"activations at {BATCHED_TOKENS} batched tokens):"),
        "",
        "| part | GB (1e9 B) | GiB |",
        "|---|---:|---:|",
        *(f"| {part} | {value:.3f} | {plan.gib(part):.3f} |" for part, value in gb.items()),
        f"| total | {sum(gb.values()):.3f} | {sum(gb.values()) * 1e9 / GIB:.3f} |",
    ]
    return "\n".join(lines) + "\n"


# --- the GPU ---------------------------------------------------------------------------------------------------------

def gpu_index() -> str:
    """The GPU the engine gets: CUDA_VISIBLE_DEVICES' first, as nvidia-smi -i takes it (an index or a UUID)."""
    return (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0]


def nvidia_smi(fields: str) -> list[str] | None:
    """nvidia-smi's values of `fields` for the engine's GPU, or None where nvidia-smi is missing or fails."""
    if shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits", "-i", gpu_index()],
                          check=False, capture_output=True, text=True, timeout=60)
    lines = done.stdout.strip().splitlines()
    return [v.strip() for v in lines[0].split(",")] if done.returncode == 0 and lines else None


def has_gpu() -> bool:
    try:
        import torch

        if torch.cuda.is_available():
            return True
    except ImportError:
        pass
    return nvidia_smi("name") is not None


class MemoryPeak:
    """nvidia-smi's memory.used of the engine's GPU, polled every `interval` seconds in a thread: the peak in MiB."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak, self.samples = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            used = nvidia_smi("memory.used")
            if used:
                self.peak, self.samples = max(self.peak, int(float(used[0]))), self.samples + 1
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- vLLM's log ------------------------------------------------------------------------------------------------------

def parse_vllm_log(text: str) -> dict[str, float | None]:
    """The last value of each of VLLM_LINES in an engine's log (None where the line is missing)."""
    found: dict[str, float | None] = {}
    for key, pattern in VLLM_LINES.items():
        values = re.findall(pattern, text)
        found[key] = float(values[-1].replace(",", "")) if values else None
    return found


@contextmanager
def engine_log(path: Path):
    """Engines started inside send their output to `path`: VLLMProcess hands the child sys.stderr's file."""
    saved = sys.stderr
    with path.open("w") as log:
        sys.stderr = log
        try:
            yield
        finally:
            sys.stderr = saved


@dataclass
class EngineRun:
    """One engine's run: its prompt format, its scores, what vLLM logged and how long it took."""

    fmt: str
    scores: list[dict[str, Any]]
    log: dict[str, float | None]
    log_path: Path
    seconds: float

    def bad_scores(self) -> list[str]:
        return [f"{Path(r['video_path']).name} / {r['query']}: {r['error'] or r['logit_delta']}" for r in self.scores
                if r["failed"] or not math.isfinite(r["logit_delta"])]

    def kv_bytes_per_token(self) -> float | None:
        kv, tokens = self.log["kv_gib"], self.log["kv_tokens"]
        return kv * GIB / tokens if kv is not None and tokens else None


def serve_and_score(twin: Path, fmt: str, videos: list[Path], out: Path, utilization: float = UTILIZATION,
                    max_model_len: int = MAX_MODEL_LEN) -> EngineRun:
    """Start vLLM on the twin through the reranker (its log to OUT/vllm-<fmt>.log), score every video, close it."""
    from rankvideo.models.vllm_engine import EngineDied
    from rankvideo.rerank.reranker import VLMReranker

    start, log_path = time.perf_counter(), out / f"vllm-{fmt}.log"
    try:
        with engine_log(log_path):
            reranker = VLMReranker(str(twin), backend="vllm", prompt_format=fmt, gpu_memory_utilization=utilization,
                                   max_model_len=max_model_len)
    except EngineDied as err:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"vLLM did not start on the twin ({fmt}): {str(err).splitlines()[0]}\n"
                         f"--- the end of {log_path} ---\n{tail}") from err
    try:
        scores = [r for video in videos for r in reranker.score_video(video, queries())]
    finally:
        reranker.backend.engine.close()
    return EngineRun(fmt, scores, parse_vllm_log(log_path.read_text(errors="replace")), log_path, time.perf_counter() - start)


# --- the demo videos -------------------------------------------------------------------------------------------------

def demo_videos(videos: Path | None, out: Path, n: int = N_VIDEOS) -> list[Path]:
    """The first `n` videos of `videos`, else `n` demo videos of different topics drawn now (rankvideo.demo.corpus, seed
    13; pictures only: the reranker reads frames, and ffmpeg alone encodes them)."""
    if videos is not None:
        found = sorted(videos.glob("*.mp4"))[:n]
        if not found:
            raise SystemExit(f"no .mp4 in {videos}")
        return found
    from rankvideo.demo.corpus import encode_video, plan_corpus

    if shutil.which("ffmpeg") is None:
        raise SystemExit("the demo videos need ffmpeg on PATH (apt-get install -y ffmpeg), or pass --videos DIR")
    folder = out / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    specs = [s for s in plan_corpus(DEMO_SEED) if s.topic is not None and not s.broken and s.variant == 0][:n]
    paths = []
    for spec in specs:
        path = folder / f"{spec.video_id}.mp4"
        if not path.is_file():
            encode_video(replace(spec, speech=None), path, folder)
        paths.append(path)
    return paths


# --- the report ------------------------------------------------------------------------------------------------------

def _num(value: float | None, fmt: str = ".2f") -> str:
    return "missing" if value is None else format(value, fmt)


def measured_text(plan: Plan, runs: list[EngineRun], gpu: list[str] | None, peak: MemoryPeak, baseline_mib: int | None,
                  utilization: float) -> str:
    """Measured against planned, one column per engine."""
    name, total_mib = (gpu[0], float(gpu[1])) if gpu else ("unknown GPU", None)
    requested_gib = utilization * total_mib / 1024 if total_mib else None
    rows: dict[str, list[str]] = {
        "weights (GiB)": [f"{plan.gib('weights'):.2f}", *(_num(r.log["weights_gib"]) for r in runs)],
        "KV cache (GiB)": [f"{plan.gib('kv'):.2f} (one {plan.max_model_len}-token sequence)", *(_num(r.log["kv_gib"]) for r in runs)],
        "KV cache tokens": [str(plan.max_model_len), *(_num(r.log["kv_tokens"], ",.0f") for r in runs)],
        "KV bytes per token": [str(plan.kv_bytes_per_token), *(_num(r.kv_bytes_per_token(), ".0f") for r in runs)],
        "activations + runtime (GiB)": [f"{plan.gib('activations') + plan.gib('runtime'):.2f}",
                                        *(_num(requested_gib - r.log["kv_gib"] - r.log["weights_gib"])
                                          if requested_gib and r.log["kv_gib"] is not None and r.log["weights_gib"] is not None
                                          else "missing" for r in runs)],
        "batched tokens": [str(BATCHED_TOKENS), *(_num(r.log["batched_tokens"], ".0f") for r in runs)],
        "CUDA graphs (GiB)": ["in runtime", *(_num(r.log["cuda_graphs_gib"]) for r in runs)],
        "engine start + scoring (s)": ["-", *(f"{r.seconds:.0f}" for r in runs)],
    }
    lines = [(f"Measured on {name} ({_num(total_mib, '.0f')} MiB), gpu_memory_utilization {utilization}: vLLM's share "
              f"{_num(requested_gib)} GiB. Measured values are vLLM's own log lines; activations + runtime = the share - KV "
              "cache - weights."), "",
             "| | planned | " + " | ".join(f"measured, {r.fmt}" for r in runs) + " |",
             "|---|---:|" + "---:|" * len(runs),
             *(f"| {row} | " + " | ".join(values) + " |" for row, values in rows.items()), "",
             (f"nvidia-smi memory.used: {baseline_mib if baseline_mib is not None else 'unknown'} MiB before the first engine, "
              f"peak {peak.peak} MiB over {peak.samples} samples; the plan's minimum total is "
              f"{sum(plan.gb.values()) * 1e9 / GIB:.2f} GiB (vLLM fills its whole share, most of it with KV cache)."), ""]
    for r in runs:
        batched = r.log["batched_tokens"]
        if not batched:
            continue
        activations = plan.gib("activations") * batched / BATCHED_TOKENS  # per_gpu_gb's activations scale with the batch
        lines.append(f"- {r.fmt}: vLLM batches {batched:.0f} tokens, the plan {BATCHED_TOKENS}; the plan's activations at "
                     f"{batched:.0f}: {activations:.2f} GiB.")
        if r.log["weights_gib"] is not None:
            extra = plan.deepstack_levels * batched * plan.served.hidden_size * 2 / GIB
            lines.append(f"- {r.fmt}: vLLM's Qwen3-VL also allocates {plan.deepstack_levels} deepstack buffers of batched tokens "
                         f"x hidden in bf16 at load ({extra:.2f} GiB, inside 'Model loading took'): planned weights + buffers "
                         f"= {plan.gib('weights') + extra:.2f} GiB, measured {r.log['weights_gib']:.2f}.")
    return "\n".join(lines) + "\n"


def checks(plan: Plan, runs: list[EngineRun]) -> list[str]:
    """What failed: scores, missing log lines, KV bytes per token off the plan's."""
    problems = []
    for r in runs:
        problems += [f"{r.fmt}: score {s}" for s in r.bad_scores()]
        missing = [line for key, line in NEEDED.items() if r.log[key] is None]
        if missing:
            problems.append(f"{r.fmt}: vLLM's log ({r.log_path}) lacks {missing}")
        measured = r.kv_bytes_per_token()
        if measured is not None and abs(measured / plan.kv_bytes_per_token - 1) > KV_TOLERANCE:
            problems.append(f"{r.fmt}: KV bytes per token {measured:.0f}, planned {plan.kv_bytes_per_token}")
    return problems


def scores_text(runs: list[EngineRun]) -> str:
    lines = ["| format | video | query | logit_delta |", "|---|---|---|---:|"]
    lines += [f"| {r.fmt} | {Path(s['video_path']).name} | {s['query']} | {_num(s['logit_delta'], '.4f')} |"
              for r in runs for s in r.scores]
    return "\n".join(lines) + "\n"


# --- the throughput benchmark ----------------------------------------------------------------------------------------

BENCH_LAYERS, BENCH_VISION_DEPTH = 36, 27  # Qwen3-VL-8B's own depths: on a GPU the throughput twin is the 8B's compute


def bench_commands(twin: Path) -> list[list[str]] | None:
    """bench/rerank_throughput.py on both backends, once, on `twin`, when this checkout has the script and it takes
    the flags used here."""
    script = Path(__file__).resolve().parents[2] / "bench" / "rerank_throughput.py"
    if not script.is_file():
        return None
    usage = subprocess.run([sys.executable, str(script), "--help"], check=False, capture_output=True, text=True).stdout
    if "--model" not in usage or "--repeats" not in usage:
        return None
    return [[sys.executable, str(script), "--backend", backend, "--model", str(twin), "--repeats", "1"] for backend in ("transformers", "vllm")]


def throughput(out: Path, no_bench: bool) -> None:
    """After the report: build the throughput twin at the 8B's depth (afresh: never a stale or half-built one) and
    append bench/rerank_throughput.py's tables for both backends to OUT/report.md, each run's log beside it."""
    bench_twin = out / "throughput_twin"
    commands = bench_commands(bench_twin)
    if commands is None:
        print("throughput: bench/rerank_throughput.py is not in this checkout or lacks --repeats; see docs/benchmarks.md")
    elif not no_bench:
        shutil.rmtree(bench_twin, ignore_errors=True)
        try:
            build_throughput_twin(bench_twin, BENCH_LAYERS, BENCH_VISION_DEPTH)
        except (OSError, RuntimeError) as err:
            failure = f"throughput: building the {BENCH_LAYERS}-layer twin in {bench_twin} failed: {type(err).__name__}: {err}\n"
            print(failure)
            with (out / "report.md").open("a") as report:
                report.write(f"\n## Throughput\n\n{failure}")
            commands = None
    for command in commands or []:
        line = " ".join(command)
        if no_bench:
            print(f"throughput (skipped, --no-bench):\n  {line}")
            continue
        print(f"throughput:\n  {line}", flush=True)
        backend = command[command.index("--backend") + 1]
        bench = subprocess.run(command, check=False, capture_output=True, text=True)
        (out / f"bench-{backend}.log").write_text(bench.stderr)
        table = bench.stdout if bench.returncode == 0 else f"failed (exit {bench.returncode}); its log: {out / f'bench-{backend}.log'}\n"
        print(table)
        with (out / "report.md").open("a") as report:
            report.write(f"\n## Throughput, {backend} (`{line}`)\n\n```\n{table}```\n")


# --- main ------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/gpu_check"), help="folder for the twin, the logs and report.md")
    parser.add_argument("--videos", type=Path, help="score the first videos of this folder (default: demo videos drawn now)")
    parser.add_argument("--max-model-len", type=int, default=MAX_MODEL_LEN)
    parser.add_argument("--gpu-memory-utilization", type=float, default=UTILIZATION)
    parser.add_argument("--no-bench", action="store_true", help="skip the throughput benchmark after the report")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    args.out.mkdir(parents=True, exist_ok=True)
    base = shipped_config(BASE)
    twin = build_width_true_twin(base, args.out / "twin", layers=LAYERS, vision_depth=VISION_DEPTH, seed=0)
    plan = plan_twin(twin, args.max_model_len)
    planned = plan_text(plan, count_served(base))
    print(planned)
    if not has_gpu():
        print(NO_GPU)
        return 0

    videos = demo_videos(args.videos, args.out)
    gpu = nvidia_smi("name,memory.total")
    baseline = nvidia_smi("memory.used")
    with MemoryPeak() as peak:
        runs = [serve_and_score(twin, fmt, videos, args.out, args.gpu_memory_utilization, args.max_model_len) for fmt in FORMATS]
    problems = checks(plan, runs)
    verdict = "OK: every score finite, KV bytes per token as planned" if not problems else "FAIL:\n" + "\n".join(f"- {p}" for p in problems)
    report = "\n".join([f"# GPU check: width-true twin of {BASE}", "", "## Plan", "", planned,
                        "## Measured", "", measured_text(plan, runs, gpu, peak, int(float(baseline[0])) if baseline else None,
                                                         args.gpu_memory_utilization),
                        f"## Scores ({len(videos)} videos x {len(queries())} queries, both prompt formats)", "", scores_text(runs),
                        verdict, ""])
    (args.out / "report.md").write_text(report)
    print(report)
    throughput(args.out, args.no_bench)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
