"""The demo DAG end to end through Snakemake: real videos to results/eval/ndcg.json, then no reruns."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rankvideo.formats.runs import read_json_run, read_trec_run
from rankvideo.formats.video_sheet import read_video_sheet
from rankvideo.manifest import read_skips
from tests.conftest import REPO, needs_media_tools

WORKFLOW_FILES = ("Snakefile", "rules", "workflow_scripts", "envs", "config.yaml", "config")
BROKEN = {"v050", "v051", "v052"}


def snakemake(workdir: Path, *args: str, overlays: tuple[str, ...] = ("config/two_shards.yaml",)) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "all", "--cores", "2", *args,
           "--configfile", "config/demo.yaml", *overlays]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=2400)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    needs_media_tools()
    workdir = tmp_path_factory.mktemp("workflow")
    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, workdir / name)
    (workdir / "config/two_shards.yaml").write_text("workflow: {shards: 2}\n")
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_demo_produces_real_first_stage_metrics(demo_run):
    results = json.loads((demo_run / "results/eval/ndcg.json").read_text())
    assert results["queries_evaluated"] == 16 and results["excluded_queries"] == {}
    first = results["systems"]["MiniLM"]
    assert set(first["mean"]) == {f"{m}@{k}" for m in ("R", "nDCG") for k in (10, 20, 50, 100)}
    assert len(first["per_query"]) == 16
    # The metadata topics are findable from titles; the others are not: a real, imperfect first stage.
    assert 0.0 < first["mean"]["nDCG@10"] < 1.0
    assert "| MiniLM |" in (demo_run / "results/eval/table1.md").read_text()


@pytest.mark.slow
def test_zero_shot_base_model_is_the_first_reranker(demo_run):
    results = json.loads((demo_run / "results/eval/ndcg.json").read_text())
    assert list(results["systems"]) == ["MiniLM", "QVL-I", "QVL-T", "QVL-R", "RV-1", "RV-2"]
    assert results["systems"]["QVL-I"]["kind"] == "reranker" and len(results["systems"]["QVL-I"]["per_query"]) == 16
    scores = read_json_run(demo_run / "results/rerank/QVL-I/scores.json")
    good = {r.video_id for r in read_video_sheet(demo_run / "results/corpus/videos.tsv")}
    assert len(scores) == 16 and all(set(s) == good for s in scores.values())  # depth 100 > corpus: every pair scored
    assert (demo_run / "results/rerank/QVL-I/failed.tsv").read_text().splitlines() == ["query_id\tvideo_id\treason"]


@pytest.mark.slow
def test_broken_files_are_in_the_skip_manifest_and_nowhere_else(demo_run):
    skips = read_skips(demo_run / "results/skipped.tsv")
    assert {s.item_id for s in skips if s.stage == "probe"} == BROKEN
    good = {r.video_id for r in read_video_sheet(demo_run / "results/demo/corpus/videos.tsv")} - BROKEN
    assert {r.video_id for r in read_video_sheet(demo_run / "results/corpus/videos.tsv")} == good
    run = read_trec_run(demo_run / "results/first_stage/test.trec")
    assert all(set(scores) == good for scores in run.values())  # depth 1000 > corpus: every good video, no broken one


@pytest.mark.slow
def test_second_run_has_nothing_to_do(demo_run):
    dry = snakemake(demo_run, "-n")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr


def planned_jobs(result: subprocess.CompletedProcess) -> set[str]:
    table = result.stdout.split("Job stats:")[1].split("total")[0]
    return {line.split()[0] for line in table.splitlines()[3:] if line.strip()}


@pytest.mark.slow
def test_changing_alpha1_reruns_only_the_partition_and_after(demo_run):
    (demo_run / "config/alpha1.yaml").write_text("judge: {alpha1: -0.5}\n")
    dry = snakemake(demo_run, "-n", overlays=("config/two_shards.yaml", "config/alpha1.yaml"))
    assert dry.returncode == 0, dry.stderr[-2000:]
    downstream = {"partition", "training_sets", "funnel", "skip_manifest", "train_stage1", "train_stage2", "rerank_shard",
                  "merge_rerank", "evaluate", "all"}
    assert planned_jobs(dry) == downstream  # no extraction, synthesis, retrieval or judging job


@pytest.mark.slow
def test_changing_lambda_teacher_reruns_stage2_and_after_only(demo_run):
    (demo_run / "config/lambda.yaml").write_text("train: {stage2: {lambda_teacher: 2.0}}\n")
    dry = snakemake(demo_run, "-n", overlays=("config/two_shards.yaml", "config/lambda.yaml"))
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert planned_jobs(dry) == {"train_stage2", "rerank_shard", "merge_rerank", "evaluate", "all"}
    assert "rerank_shard/RV-2/" in dry.stdout and "rerank_shard/RV-1/" not in dry.stdout


@pytest.mark.slow
def test_training_stages_log_and_plot_their_losses(demo_run):
    for stage, terms in ((1, {"caption"}), (2, {"pair", "point", "teacher"})):
        history = [json.loads(l) for l in (demo_run / f"results/train/stage{stage}_log.jsonl").read_text().splitlines()]
        assert history and terms <= set(history[0])
        assert (demo_run / f"results/train/stage{stage}_loss.png").stat().st_size > 10_000
        card = json.loads((demo_run / f"results/models/rv{stage}/rankvideo.json").read_text())
        assert card["prompt_format"] == "paper" and card["stage"] == stage and card["data_sha256"]


@pytest.mark.slow
def test_synthesis_lineage_writes_training_sets_and_funnel(demo_run):
    funnel = json.loads((demo_run / "results/synthesis/funnel.json").read_text())
    assert set(funnel["queries_written_per_variant"]) == {"caption", "audio", "ocr", "metadata", "all"}
    assert funnel["human_queries"] == 32 and funnel["pairs_judged"] > 0
    stage1 = [json.loads(l) for l in (demo_run / "results/train/stage1.jsonl").read_text().splitlines()]
    stage2 = [json.loads(l) for l in (demo_run / "results/train/stage2.jsonl").read_text().splitlines()]
    assert funnel["queries_kept"] == len(stage1) > 0
    assert len(stage2) == funnel["stage2_records"] and {r["true_label"] for r in stage2} == {0, 1}
    judgments = [json.loads(l) for l in (demo_run / "results/judge/judgments.jsonl").read_text().splitlines()]
    assert judgments and all(isinstance(j["delta"], float) for j in judgments)  # a margin for every judged pair
    records = [json.loads(l) for p in sorted((demo_run / "results/extract/records").glob("*.jsonl")) for l in p.read_text().splitlines()]
    good = {r.video_id for r in read_video_sheet(demo_run / "results/corpus/videos.tsv")}
    assert {r["video_id"] for r in records} == good  # every good video reaches extraction, v049 (no audio) too
    silent = next(r for r in records if r["video_id"] == "v049")
    assert silent["asr"] == "" and "no audio stream" in silent["errors"]["asr"] and silent["ocr"] is not None
    speech = next(r for r in records if r["video_id"] == "v028")  # "Our team won the regional chess championship ..."
    assert "chess championship" in speech["asr"].lower()
    text = next(r for r in records if r["video_id"] == "v013")  # on-screen "BRIDGE CLOSED FOR REPAIRS"
    assert "BRIDGE CLOSED FOR REPAIRS" in text["ocr"]
    skipped = (demo_run / "results/skipped.tsv").read_text()
    assert "v049\tasr\tno audio stream" in skipped and "\tfilter\t" in skipped


@pytest.mark.slow
def test_schema_error_fails_at_parse_time_naming_the_key(demo_run):
    (demo_run / "config/bad.yaml").write_text("rerank: {depth: many}\n")
    bad = snakemake(demo_run, "-n", overlays=("config/bad.yaml",))
    assert bad.returncode != 0
    assert "rerank.depth: expected type 'integer', got 'many'" in bad.stdout + bad.stderr


@pytest.mark.parametrize("overlays", [(), ("--configfile", "config/demo.yaml")], ids=["cluster", "demo"])
def test_lint_is_clean(overlays):
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint", *overlays], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0 and "Congratulations, your workflow is in a good condition!" in lint.stdout + lint.stderr, lint.stdout[-3000:]
