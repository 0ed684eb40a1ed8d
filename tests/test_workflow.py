"""The demo DAG end to end through Snakemake: real videos to results/eval/ndcg.json, then exactly the reruns
each change calls for.

With RANKVIDEO_TEST_SLURM=1 (CI, after scripts/slurm/up.sh) every run goes through the real Slurm
executor plugin (`--profile slurm --workflow-profile slurm/demo`); otherwise through `--profile local`.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rankvideo.corpus.shards import shard_of
from rankvideo.files.runs import read_json_run, read_trec_run
from rankvideo.files.skips import read_skips
from rankvideo.files.video_sheet import VideoRecord, read_video_sheet, write_video_sheet
from tests.conftest import REPO, needs_media_tools

WORKFLOW_FILES = ("Snakefile", "rules", "workflow_scripts", "envs", "config.yaml", "config", "slurm", "local", "rankvideo", "report")
BROKEN = {"v050", "v051", "v052"}
SLURM = os.environ.get("RANKVIDEO_TEST_SLURM") == "1"
EXECUTOR = ("--profile", "slurm", "--workflow-profile", "slurm/demo") if SLURM else ("--profile", "local", "--cores", "2")
needs_slurm = pytest.mark.skipif(not SLURM, reason="needs the single-node Slurm: sudo scripts/slurm/up.sh, RANKVIDEO_TEST_SLURM=1")


def snakemake_cmd(*args: str, targets: tuple[str, ...] = ("all",), overlays: tuple[str, ...] = ("config/two_shards.yaml",)) -> list[str]:
    """A dry run (-n in args) plans locally; a real run goes through the executor under test."""
    executor = ("--cores", "2") if "-n" in args else EXECUTOR
    return [sys.executable, "-m", "snakemake", *targets, *executor, *args, "--configfile", "config/demo.yaml", *overlays]


def workdir_env(workdir: Path) -> dict[str, str]:
    """The copy's own `rankvideo` for the DAG and every job, so a test may change a module there."""
    return {**os.environ, "PYTHONPATH": str(workdir)}


def snakemake(workdir: Path, *args: str, targets: tuple[str, ...] = ("all",),
              overlays: tuple[str, ...] = ("config/two_shards.yaml",)) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd(*args, targets=targets, overlays=overlays), cwd=workdir, capture_output=True, text=True,
                          timeout=3600, env=workdir_env(workdir), check=False)


def save_log(workdir: Path, name: str, result: subprocess.CompletedProcess) -> None:
    """Keep Snakemake's output (and hand it to CI's log digest when RANKVIDEO_DEMO_LOG names a folder)."""
    text = result.stdout + result.stderr
    (workdir / "logs").mkdir(exist_ok=True)
    (workdir / "logs" / f"{name}.log").write_text(text)
    if os.environ.get("RANKVIDEO_DEMO_LOG"):
        Path(os.environ["RANKVIDEO_DEMO_LOG"]).mkdir(parents=True, exist_ok=True)
        (Path(os.environ["RANKVIDEO_DEMO_LOG"]) / f"{name}.log").write_text(text)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    needs_media_tools()
    workdir = tmp_path_factory.mktemp("workflow")
    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, workdir / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                                                                    if src.is_dir() else {}))
    (workdir / "config/two_shards.yaml").write_text("workflow: {shards: 2}\n")
    done = snakemake(workdir)
    save_log(workdir, "demo_run", done)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return workdir


def jobs_run(log: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a Snakemake output announced."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", log):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block)
        if head:
            wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
            jobs.append((head.group(1), wildcards.group(1) if wildcards else ""))
    return jobs


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
    assert list(results["systems"]) == ["MiniLM", "QVL-I", "QVL-T", "QVL-R", "ReasonRank", "RV-1", "RV-2", "RV-2-P+PT", "RV-2-P",
                                        "MiniLM-meta", "OmniEmbed"]  # the other first stages, each on its own
    omni = results["systems"]["OmniEmbed"]  # the tiny OmniEmbed's own run: encode_corpus, encode_queries, first_stage
    assert omni["kind"] == "first_stage" and len(omni["per_query"]) == 16
    run = read_trec_run(demo_run / "results/first_stage/OmniEmbed/test.trec")
    assert len(run) == 16 and all(len(ranked) == 49 for ranked in run.values())  # depth 1000 > corpus: every usable video
    good = {r.video_id for r in read_video_sheet(demo_run / "results/corpus/videos.tsv")}
    for name in ("QVL-I", "ReasonRank"):  # a video reranker over frames, the text reranker over caption + ASR records
        assert results["systems"][name]["kind"] == "reranker" and len(results["systems"][name]["per_query"]) == 16
        scores = read_json_run(demo_run / f"results/rerank/{name}/scores.json")
        assert len(scores) == 16 and all(set(s) == good for s in scores.values())  # depth 100 > corpus: every pair scored
        assert (demo_run / f"results/rerank/{name}/failed.tsv").read_text().splitlines() == ["query_id\tvideo_id\treason"]


@pytest.mark.slow
def test_broken_files_are_in_the_skip_manifest_and_nowhere_else(demo_run):
    skips = read_skips(demo_run / "results/skipped.tsv")
    assert {s.item_id for s in skips if s.stage == "probe"} == BROKEN
    good = {r.video_id for r in read_video_sheet(demo_run / "results/demo/corpus/videos.tsv")} - BROKEN
    assert {r.video_id for r in read_video_sheet(demo_run / "results/corpus/videos.tsv")} == good
    run = read_trec_run(demo_run / "results/first_stage/MiniLM/test.trec")
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
                  "merge_rerank", "evaluate", "paper_analysis", "latency", "figure4", "all"}
    assert planned_jobs(dry) == downstream  # no extraction, synthesis, retrieval or judging job


@pytest.mark.slow
def test_changing_lambda_teacher_reruns_stage2_and_after_only(demo_run):
    (demo_run / "config/lambda.yaml").write_text("train: {stage2: {lambda_teacher: 2.0}}\n")
    dry = snakemake(demo_run, "-n", overlays=("config/two_shards.yaml", "config/lambda.yaml"))
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert planned_jobs(dry) == {"train_stage2", "rerank_shard", "merge_rerank", "evaluate", "paper_analysis", "latency", "figure4", "all"}
    # Only the variant with the teacher term: the P and P+PT ablations do not read lambda_teacher.
    assert [w for r, w in jobs_run(dry.stdout) if r == "train_stage2"] == ["stage2=rv2"]
    assert "rerank_shard/RV-2/" in dry.stdout and "rerank_shard/RV-1/" not in dry.stdout and "rerank_shard/RV-2-P" not in dry.stdout


@pytest.mark.slow
def test_a_nested_config_override_plans_as_the_same_overlay_file(demo_run):
    """Snakemake hands `--config train={...}` values over as strings ('2.0'); they are read as the schema's types."""
    dry = snakemake(demo_run, "-n", "--config", 'train={"stage2":{"lambda_teacher":2.0}}')
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert [w for r, w in jobs_run(dry.stdout) if r == "train_stage2"] == ["stage2=rv2"]
    bad = snakemake(demo_run, "-n", "--config", 'train={"stage2":{"lambda_teacher":"four"}}')
    assert bad.returncode != 0 and "train.stage2.lambda_teacher: expected type 'number', got 'four'" in bad.stdout + bad.stderr


@pytest.mark.slow
def test_training_stages_log_and_plot_their_losses(demo_run):
    for model, stage, terms in (("rv1", 1, {"caption"}), ("rv2", 2, {"pair", "point", "teacher"}), ("rv2-P+PT", 2, {"pair", "point"}),
                                ("rv2-P", 2, {"pair"})):
        history = [json.loads(l) for l in (demo_run / f"results/train/{model}_log.jsonl").read_text().splitlines()]
        assert history and terms <= set(history[0]) and not {"pair", "point", "teacher"} - terms & set(history[0])
        assert (demo_run / f"results/train/{model}_loss.png").stat().st_size > 10_000
        card = json.loads((demo_run / f"results/models/{model}/rankvideo.json").read_text())
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
    assert "v049\tasr\textraction_failed\tno audio stream" in skipped and "\tfilter\t" in skipped
    assert "v049\tencode_corpus\tno_audio\tno audio track: encoded without audio" in skipped  # OmniEmbed: video and text only


@pytest.mark.slow
def test_paper_analyses_and_the_html_report(demo_run):
    paper = demo_run / "results/paper"
    assert "Not compared: the published numbers are for MultiVENT 2.0" in (paper / "table1_vs_published.md").read_text()
    assert (paper / "table1.csv").read_text().splitlines()[0].startswith("system,R@10,nDCG@10")
    assert "| RV-2 |" in (paper / "table5.md").read_text() and "| QVL-R |" in (paper / "table5.md").read_text()
    assert "visual (4)" in (paper / "ndcg_by_group.md").read_text()  # the demo's query modalities, 4 test queries each
    assert (paper / "figure3_ecdf.png").stat().st_size > 20_000
    table2 = (paper / "table2.md").read_text()  # RV-2 over the main first stage and the demo's metadata-only one
    assert "| MiniLM |" in table2 and "| MiniLM-meta |" in table2 and "| OmniEmbed |" in table2 and table2.count("| + RV-2 |") == 3
    stages = (paper / "first_stages.md").read_text().splitlines()
    assert [line.split(" | ")[0] for line in stages[4:]] == ["| MiniLM", "| MiniLM-meta", "| OmniEmbed"]
    assert all(line.endswith(" | 0.490 |") for line in stages[5:])  # each top 100 is the whole 49-video corpus: 49 of 100 shared
    table7 = (paper / "table7.md").read_text()
    assert [line.split("|")[1].strip() for line in table7.splitlines() if line.startswith("| ") and "Δ%" not in line][1:] == [
        "MiniLM", "P+PT+T (RV-2)", "P+PT (RV-2-P+PT)", "P (RV-2-P)"]
    latency = {p.stem: json.loads(p.read_text()) for p in (demo_run / "results/latency").glob("*.json")}
    assert set(latency) == {"ReasonRank", "QVL-T", "QVL-I", "QVL-R", "RV-1", "RV-2"}
    assert all(r["pairs"] == 8 and r["median_s"] > 0 and r["shared_median_s_per_pair"] > 0 for r in latency.values())
    assert (paper / "figure4_latency.png").stat().st_size > 20_000 and "| RV-2 | 8 |" in (paper / "figure4_latency.md").read_text()
    report = subprocess.run([sys.executable, "-m", "snakemake", "--report", "results/report.html", "--configfile", "config/demo.yaml",
                             "config/two_shards.yaml"], cwd=demo_run, capture_output=True, text=True, timeout=600,
                            env=workdir_env(demo_run), check=False)
    assert report.returncode == 0, report.stderr[-2000:]
    html = (demo_run / "results/report.html").read_text()
    for item in ("Paper results", "Data synthesis", "Training", "figure3_ecdf.png", "figure4_latency.png", "table2.md", "table4.md",
                 "table7.md", "funnel.md", "rv2_loss.png", "rv2-P_loss.png"):
        assert item in html, item


@pytest.mark.slow
def test_schema_error_fails_at_parse_time_naming_the_key(demo_run):
    (demo_run / "config/bad.yaml").write_text("rerank: {depth: many}\n")
    bad = snakemake(demo_run, "-n", overlays=("config/bad.yaml",))
    assert bad.returncode != 0
    assert "rerank.depth: expected type 'integer', got 'many'" in bad.stdout + bad.stderr


def test_the_paper_config_plans_omniembed_inside_the_dag(tmp_path):
    """config.yaml as it is, on a one-video stand-in for MultiVENT 2.0's files: no precomputed run is asked for; the
    DAG encodes the corpus per shard and both query splits, searches them, and filters the synthetic queries."""
    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    data = tmp_path / "data/multivent2"
    data.mkdir(parents=True)
    (data / "videos.tsv").write_text("video_id\tpath\ttitle\n1\tvideos/1.mp4\ta title\n")
    for split in ("train", "test"):
        (data / f"queries_{split}.tsv").write_text("q1\tan event\n")
    (data / "qrels.txt").write_text("q1 0 1 1\n")
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", "results/eval/ndcg.json", "--cores", "1", "--config", "workflow={shards: 2}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600, env=workdir_env(tmp_path), check=False)
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    planned = jobs_run(dry.stdout)
    assert sorted(w for r, w in planned if r == "encode_corpus") == ["stage=OmniEmbed, shard=0", "stage=OmniEmbed, shard=1"]
    assert sorted(w for r, w in planned if r == "encode_queries") == ["stage=OmniEmbed, split=synthetic", "stage=OmniEmbed, split=test"]
    assert sorted(w for r, w in planned if r == "first_stage") == ["stage=OmniEmbed, split=synthetic", "stage=OmniEmbed, split=test"]
    assert "filter_queries" in {r for r, _ in planned}


@pytest.mark.parametrize("overlays", [(), ("--configfile", "config/demo.yaml"), ("--configfile", "config/smoke.yaml")],
                         ids=["cluster", "demo", "smoke"])
def test_lint_is_clean(overlays):
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint", *overlays], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0 and "Congratulations, your workflow is in a good condition!" in lint.stdout + lint.stderr, lint.stdout[-3000:]


@pytest.mark.slow
@needs_slurm
def test_jobs_went_through_slurm(demo_run):
    log = (demo_run / "logs/demo_run.log").read_text()
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: .*/slurm_logs/rule_(\w+)/", log)
    rules = {rule for _, rule in submitted}
    assert {"demo_corpus", "probe_shard", "extract_asr", "extract_ocr", "extract_captions", "synthesize_queries", "first_stage",
            "judge", "train_stage1", "train_stage2", "rerank_shard"} <= rules
    assert "evaluate" not in rules  # a localrule: cheap merges run on the submitting host
    assert "HF_HUB_OFFLINE=1" in (demo_run / "logs/judge/judge.log").read_text()  # compute jobs run offline
    assert (demo_run / "results/eval/ndcg.json").is_file()


@pytest.mark.slow
def test_changing_a_loss_module_reruns_stage2_and_after_only(demo_run):
    losses = demo_run / "rankvideo/train/losses.py"
    original = losses.read_text()
    try:
        losses.write_text(original + "\n# a changed loss module\n")
        dry = snakemake(demo_run, "-n")
        assert dry.returncode == 0, dry.stderr[-2000:]
        assert planned_jobs(dry) == {"train_stage2", "rerank_shard", "merge_rerank", "evaluate", "paper_analysis", "latency", "figure4",
                                     "all"}
        assert sorted(w for r, w in jobs_run(dry.stdout) if r == "train_stage2") == ["stage2=rv2", "stage2=rv2-P", "stage2=rv2-P+PT"]
        assert "rerank_shard/RV-2/" in dry.stdout and "rerank_shard/RV-1/" not in dry.stdout
    finally:
        losses.write_text(original)


@pytest.mark.slow
@needs_slurm
def test_a_two_gpu_training_job_starts_its_script_once_and_sees_both_gpus(demo_run):
    """slurm/demo gives train_stage1 `gpu: 2`; the executor plugin wraps the job in srun, which has split such a job into
    one-GPU tasks in earlier plugin versions (snakemake-executor-plugin-slurm #316, #459). The job records its launch."""
    launch = json.loads((demo_run / "results/models/rv1/rankvideo.json").read_text())["launch"]
    assert launch["SLURM_JOB_ID"] and (launch["SLURM_NTASKS"], launch["SLURM_PROCID"]) == ("1", "0")
    assert launch["CUDA_VISIBLE_DEVICES"] == launch["SLURM_STEP_GPUS"] == "0,1"
    assert launch["processes"] == 1  # the fake GPUs are no CUDA devices: train.processes auto starts one process here


def running_slurm_job(timeout: float) -> str:
    """The id of the first job Slurm reports RUNNING within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i"], capture_output=True, text=True, check=True).stdout.split()
        if out:
            return out[0]
        time.sleep(1)
    raise AssertionError(f"no Slurm job running within {timeout} s")


@pytest.mark.slow
@needs_slurm
def test_scancel_mid_training_leaves_nothing_complete_and_the_rerun_resumes(demo_run):
    target = ("results/models/rv2",)
    ckpts = demo_run / "results/train/checkpoints/rv2"
    shutil.rmtree(ckpts)  # the first run's checkpoints reach the last step: start this one from scratch
    proc = subprocess.Popen(snakemake_cmd("--forcerun", "train_stage2", targets=target), cwd=demo_run, env=workdir_env(demo_run),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        job = running_slurm_job(timeout=300)
        deadline = time.monotonic() + 300
        while not list(ckpts.glob("*/step-*/COMPLETE")) and time.monotonic() < deadline:
            time.sleep(1)
        assert list(ckpts.glob("*/step-*/COMPLETE")), "no complete checkpoint before the cancel"
        subprocess.run(["scancel", job], check=True)
        out, _ = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode != 0, out[-2000:]
    assert not (demo_run / "results/models/rv2").exists(), "a cancelled job left a model folder"
    rerun = snakemake(demo_run, targets=target)
    save_log(demo_run, "scancel_rerun", rerun)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert "resuming from" in (demo_run / "logs/train_stage2/rv2.log").read_text()
    assert (demo_run / "results/models/rv2/model.safetensors").is_file()


@pytest.mark.slow
def test_a_new_video_reruns_only_its_shard_and_what_depends_on_it(demo_run):
    """Last: it changes the corpus. Real run of the per-shard stages, then a dry run of the rest."""
    sheet = demo_run / "results/demo/corpus/videos.tsv"
    records = read_video_sheet(sheet)
    source = next(r for r in records if r.video_id == "v013")
    new = VideoRecord("v900", source.path.with_name("v900.mp4"), {**source.metadata, "title": "A bridge closed for repairs, again"})
    shutil.copy(source.path, new.path)
    write_video_sheet(sheet, [*records, new])
    shard = shard_of("v900", 2)
    per_shard = tuple(f"results/extract/records/{s}.jsonl" for s in ("0", "1"))
    run = snakemake(demo_run, targets=(*per_shard, "results/corpus/videos.tsv"))
    save_log(demo_run, "new_video", run)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    ran = jobs_run(run.stdout + run.stderr)
    assert ("shard_sheet", "") in ran and not any(rule == "demo_corpus" for rule, _ in ran)
    for rule in ("probe_shard", "extract_asr", "extract_ocr", "extract_captions", "extract_records"):
        assert [w for r, w in ran if r == rule] == [f"shard={shard}"], (rule, ran)
    dry = snakemake(demo_run, "-n")
    assert dry.returncode == 0, dry.stderr[-2000:]
    planned = jobs_run(dry.stdout + dry.stderr)
    assert [w for r, w in planned if r == "synthesize_queries"] == [f"shard={shard}"]
    assert {"first_stage", "judge", "train_stage1", "train_stage2", "evaluate"} <= {r for r, _ in planned}
    assert not {"probe_shard", "extract_asr", "extract_ocr", "extract_captions"} & {r for r, _ in planned}
