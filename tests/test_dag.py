"""The DAG's shape (rankvideo/workflow/dag.py) on a config that breaks the demo's symmetries: first stages of every
backend beside the main one, models built here beside hub ids, a text reranker beside video ones; and, through
Snakemake, every skip file a job writes reaches results/skipped.tsv."""

import copy
import re
import shutil
import subprocess
import sys

import pytest

from rankvideo.files.skips import Skip, Why, merge_skips, read_skips, write_skips
from rankvideo.workflow import dag
from rankvideo.workflow.config import validate_config
from tests.conftest import PAPER_CONFIG, REPO

SHARDS = ["0", "1"]
TINY = "results/models/tiny-omniembed"
OTHERS = {
    "CLIP": {"backend": "precomputed", "run": "runs/clip.json", "model": "clip", "text_fields": ["title"], "depth": 1000},
    "Tiny": {"backend": "omniembed", "run": None, "model": f"{TINY}/thinker", "adapter": f"{TINY}/adapter",
             "text_fields": ["caption", "title"], "depth": 500},
    "Meta": {"backend": "sentence-transformers", "run": None, "model": "minilm", "text_fields": ["title", "description"], "depth": 200},
    "Words": {"backend": "sentence-transformers", "run": None, "model": "minilm", "text_fields": ["title", "ocr"], "depth": 300},
}


@pytest.fixture
def config():
    """The paper config (OmniEmbed from the hub as the main first stage) with four other first stages."""
    wide = copy.deepcopy(PAPER_CONFIG)
    wide["other_first_stages"] = copy.deepcopy(OTHERS)
    validate_config(wide)
    return wide


class Checkpoint:
    """Stands in for the shard_sheet checkpoint: records which paths went through it."""

    def __init__(self):
        self.paths = []

    def __call__(self, path):
        self.paths.append(path)
        return path


def test_first_stages_are_the_main_one_then_the_others_each_with_its_name(config):
    stages = dag.first_stages(config)
    assert list(stages) == ["OmniEmbed", "CLIP", "Tiny", "Meta", "Words"]
    assert stages["OmniEmbed"] == PAPER_CONFIG["first_stage"] and stages["CLIP"] == {"name": "CLIP", **OTHERS["CLIP"]}
    assert dag.first_stage_depths(config) == {"OmniEmbed": 1000, "CLIP": 1000, "Tiny": 500, "Meta": 200, "Words": 300}
    assert dag.first_stage_run("Meta", "synthetic") == "results/first_stage/Meta/synthetic.trec"


def test_each_backend_reads_its_own_inputs(config):
    queries = PAPER_CONFIG["dataset"]["queries"]
    omni = dag.first_stage_inputs(config, SHARDS, "OmniEmbed", "synthetic")
    assert omni == {"videos": "results/corpus/videos.tsv", "queries": "results/synthesis/queries.tsv",
                    "corpus": ["results/first_stage/OmniEmbed/corpus/0.safetensors", "results/first_stage/OmniEmbed/corpus/1.safetensors"],
                    "corpus_skipped": ["results/first_stage/OmniEmbed/corpus/0.skipped.tsv",
                                       "results/first_stage/OmniEmbed/corpus/1.skipped.tsv"],
                    "query_embeddings": "results/first_stage/OmniEmbed/queries/synthetic.safetensors"}  # asr is embedded: no records
    assert dag.first_stage_inputs(config, SHARDS, "CLIP", "test") == {
        "videos": "results/corpus/videos.tsv", "queries": queries["test"], "run": "runs/clip.json", "sheet": PAPER_CONFIG["dataset"]["video_sheet"]}
    assert dag.first_stage_inputs(config, SHARDS, "Meta", "train") == {"videos": "results/corpus/videos.tsv", "queries": queries["train"]}
    assert dag.first_stage_inputs(config, SHARDS, "Words", "test")["records"] == ["results/extract/records/0.jsonl",
                                                                                   "results/extract/records/1.jsonl"]
    with pytest.raises(ValueError) as info:
        dag.first_stage_inputs(config, SHARDS, "CLIP", "synthetic")
    assert str(info.value) == "synthesis.first_stage_run: the 'precomputed' first stage needs the run of the synthetic queries"
    config["synthesis"]["first_stage_run"] = "runs/clip_synthetic.json"
    assert dag.first_stage_inputs(config, SHARDS, "CLIP", "synthetic")["run"] == "runs/clip_synthetic.json"


@pytest.mark.parametrize("fields, extracted", [(["asr"], True), (["ocr", "title"], True), (["description", "caption"], True),
                                               (["title", "description"], False), ([], False)])
def test_extracted_text_fields_need_the_extraction_records(fields, extracted):
    assert dag.needs_extraction({"text_fields": fields}) is extracted


def test_an_encoder_built_here_is_an_input_and_a_hub_encoder_is_not(config):
    assert dag.omniembed_model_inputs(config, "OmniEmbed") == {"model": [], "adapter": [], "processor": []}
    assert dag.omniembed_model_inputs(config, "Tiny") == {"model": [f"{TINY}/thinker"], "adapter": [f"{TINY}/adapter"], "processor": []}
    hub = {"model": "Tevatron/Qwen2.5-Omni-7B-Thinker", "adapter": "Tevatron/OmniEmbed-v0.1-multivent", "processor": "Qwen/Qwen2.5-Omni-7B"}
    assert dag.omniembed_encoder(config, "OmniEmbed", {"model": [], "adapter": [], "processor": []}) == hub
    handed = {"model": ["/abs/thinker"], "adapter": ["/abs/adapter"], "processor": []}  # the paths Snakemake hands the job
    assert dag.omniembed_encoder(config, "Tiny", handed) == {"model": "/abs/thinker", "adapter": "/abs/adapter",
                                                             "processor": hub["processor"]}
    pending = {"model": [], "adapter": [], "processor": []}  # inputs not known yet (the checkpoint)
    assert dag.omniembed_encoder(config, "Tiny", pending) == {"model": f"{TINY}/thinker", "adapter": f"{TINY}/adapter",
                                                              "processor": hub["processor"]}
    checkpoint = Checkpoint()
    assert dag.encode_corpus_inputs(config, "Tiny", "1", checkpoint) == {
        "videos": "results/corpus/usable/1.tsv", "records": "results/extract/records/1.jsonl", "model": [f"{TINY}/thinker"],
        "adapter": [f"{TINY}/adapter"], "processor": []}
    assert checkpoint.paths == ["results/corpus/usable/1.tsv"]  # the shard's sheet waits on the checkpoint; its records do not
    assert dag.encode_queries_inputs(config, "OmniEmbed", "test") == {"queries": PAPER_CONFIG["dataset"]["queries"]["test"], "model": [],
                                                                      "adapter": [], "processor": []}
    assert dag.encode_queries_inputs(config, "Tiny", "synthetic") == {"queries": "results/synthesis/queries.tsv",
                                                                     "model": [f"{TINY}/thinker"],
                                                                     "adapter": [f"{TINY}/adapter"], "processor": []}


def test_a_job_sees_its_model_folder_as_handed_over_or_the_hub_id():
    assert dag.local_model("results/models/rv1") == ["results/models/rv1"] and dag.local_model("Qwen/Qwen3-32B") == []
    assert dag.job_model("results/models/rv1", ["/work/results/models/rv1"]) == "/work/results/models/rv1"
    assert dag.job_model("Qwen/Qwen3-32B", []) == "Qwen/Qwen3-32B"
    assert dag.job_model("results/models/rv1", []) == "results/models/rv1"  # inputs not known yet (checkpoint pending)


def test_every_first_stage_skip_file_is_collected(config):
    """Each first stage's test run, the main one's synthetic run, and each omniembed stage's corpus encoding per shard."""
    assert dag.first_stage_skips(config, SHARDS) == [
        "results/first_stage/OmniEmbed/test.skipped.tsv", "results/first_stage/CLIP/test.skipped.tsv",
        "results/first_stage/Tiny/test.skipped.tsv", "results/first_stage/Meta/test.skipped.tsv",
        "results/first_stage/Words/test.skipped.tsv", "results/first_stage/OmniEmbed/synthetic.skipped.tsv",
        "results/first_stage/OmniEmbed/corpus/0.skipped.tsv", "results/first_stage/OmniEmbed/corpus/1.skipped.tsv",
        "results/first_stage/Tiny/corpus/0.skipped.tsv", "results/first_stage/Tiny/corpus/1.skipped.tsv"]
    assert dag.skip_manifest_inputs(config, ["7"]) == {
        "corpus": "results/corpus/skipped.tsv",
        "extract": ["results/extract/asr/7.skipped.tsv", "results/extract/ocr/7.skipped.tsv", "results/extract/caption/7.skipped.tsv"],
        "synthesis": ["results/synthesis/generated/7.skipped.tsv"], "dedup": "results/synthesis/dedup.skipped.tsv",
        "filtered": "results/synthesis/filtered_out.tsv", "judged": "results/judge/dropped.tsv",
        "first_stage": dag.first_stage_skips(config, ["7"])}


def test_a_first_stage_whose_every_skip_file_has_lines_reaches_the_manifest(config, tmp_path):
    """Every file skip_manifest reads holds a line naming it; results/skipped.tsv (the rule's merge) holds them all."""
    inputs = dag.skip_manifest_inputs(config, SHARDS)
    paths = [p for value in inputs.values() for p in ([value] if isinstance(value, str) else value)]
    for i, path in enumerate(paths):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        write_skips(tmp_path / path, [Skip(f"item{i}", path, Why.UNUSABLE_CANDIDATE, "a line of this file")])
    merge_skips([tmp_path / p for p in paths], tmp_path / "results/skipped.tsv")
    stages = {s.stage for s in read_skips(tmp_path / "results/skipped.tsv")}
    first_stage = {p for p in stages if p.startswith("results/first_stage/")}
    assert stages == set(paths) and len(paths) == 22
    assert first_stage == {f"results/first_stage/{name}/test.skipped.tsv" for name in ("OmniEmbed", "CLIP", "Tiny", "Meta", "Words")} | {
        "results/first_stage/OmniEmbed/synthetic.skipped.tsv", *(f"results/first_stage/{name}/corpus/{shard}.skipped.tsv"
                                                                  for name in ("OmniEmbed", "Tiny") for shard in SHARDS)}


def test_runs_pools_and_scores_by_name(config):
    assert dag.other_first_stage_runs(config) == {name: f"results/first_stage/{name}/test.trec" for name in OTHERS}
    assert dag.table2_runs(config) == {name: f"results/first_stage/{name}/test.trec" for name in ("OmniEmbed", *OTHERS)}
    assert dag.pool_runs(config, "table2_candidates") == list(dag.table2_runs(config).values())
    assert dag.pool_runs(config, "candidates") == ["results/first_stage/OmniEmbed/test.trec"]
    assert dag.rerank_pool(config, "RV-2") == "results/rerank/table2_candidates.json"  # the analysis reranker: Table 2's pool
    assert dag.rerank_pool(config, "RV-1") == "results/rerank/candidates.json"
    config["other_first_stages"] = {}
    assert dag.rerank_pool(config, "RV-2") == "results/rerank/candidates.json" and dag.other_first_stage_runs(config) == {}
    names = ["QVL-I", "QVL-T", "QVL-R", "ReasonRank", "RV-1", "RV-2", "RV-2-P+PT", "RV-2-P"]
    assert dag.reranker_scores(config) == {name: f"results/rerank/{name}/scores.json" for name in names}
    assert dag.rerankers(config)["RV-2-P"] == {"model": "results/models/rv2-P", "prompt_format": "paper"}
    assert {name: dag.reranker_spec(config, name) for name in names} == dag.rerankers(config)
    with pytest.raises(KeyError):
        dag.reranker_spec(config, "RV-3")


def test_a_text_reranker_reads_its_shards_records_and_a_video_reranker_the_usable_sheet(config):
    queries = PAPER_CONFIG["dataset"]["queries"]["test"]
    checkpoint = Checkpoint()
    assert dag.rerank_inputs(config, "ReasonRank", "1", checkpoint) == {
        "candidates": "results/rerank/candidates.json", "queries": queries, "model": [], "evidence": "results/extract/records/1.jsonl"}
    assert checkpoint.paths == ["results/extract/records/1.jsonl"]
    assert dag.rerank_inputs(config, "RV-2", "1", checkpoint) == {
        "candidates": "results/rerank/table2_candidates.json", "queries": queries, "model": ["results/models/rv2"],
        "evidence": "results/corpus/videos.tsv"}
    assert checkpoint.paths == ["results/extract/records/1.jsonl"]  # the usable sheet does not wait on the checkpoint
    assert dag.latency_inputs(config, SHARDS, "ReasonRank")["evidence"] == ["results/extract/records/0.jsonl",
                                                                             "results/extract/records/1.jsonl"]
    assert dag.latency_inputs(config, SHARDS, "RV-2-P") == {"candidates": "results/rerank/candidates.json", "queries": queries,
                                                             "model": ["results/models/rv2-P"], "evidence": ["results/corpus/videos.tsv"]}


def test_all_asks_for_every_table_and_each_stage2_variants_loss_plot(config):
    targets = dag.all_targets(config)
    assert [t for t in targets if t.startswith("results/train/")] == [
        "results/train/rv1_loss.png", "results/train/rv2_loss.png", "results/train/rv2-P+PT_loss.png", "results/train/rv2-P_loss.png"]
    assert targets[:4] == ["results/eval/ndcg.json", "results/eval/table1.md", "results/skipped.tsv", "results/synthesis/funnel.md"]
    paper = ("table1.csv", "table1_vs_published.md", "table2.md", "table4.md", "table5.md", "table7.md", "ndcg_by_group.md",
             "first_stages.md", "figure3_ecdf.png", "figure4_latency.png")
    assert {f"results/paper/{name}" for name in paper} < set(targets)
    assert len(targets) == len(set(targets)) == 18
    assert dag.query_groups(config) == []
    config["evaluation"]["query_groups"] = "groups.tsv"
    assert dag.query_groups(config) == ["groups.tsv"]


SKIP_TABLE = re.compile(r"(skipped|filtered_out|dropped)\.tsv$")


def planned_outputs(stdout: str) -> dict[str, tuple[list[str], list[str]]]:
    """(inputs, outputs) of each job of a dry run, by its first output."""
    jobs = {}
    for block in stdout.split("\n[")[1:]:
        fields = {m.group(1): m.group(2).split(", ") for m in re.finditer(r"^\s+(input|output): (.*)$", block, re.MULTILINE)}
        if "output" in fields:
            jobs[fields["output"][0]] = (fields.get("input", []), fields["output"])
    return jobs


@pytest.mark.slow
def test_every_skip_file_a_job_writes_reaches_the_skip_manifest(tmp_path):
    """A dry run of the demo config (its three first stages, OmniEmbed among them) on a made-up two-shard sheet whose
    shard_sheet checkpoint has run: the skip tables every job writes are exactly what skip_manifest reads."""
    sys.path.insert(0, str(REPO / "bench"))
    from dag_scale import make_corpus

    for name in ("Snakefile", "rules", "workflow_scripts", "envs", "config.yaml", "config", "rankvideo", "report"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, tmp_path / name)
    make_corpus(tmp_path, 4)
    (tmp_path / "results/corpus/shards").mkdir(parents=True)
    for shard in SHARDS:
        (tmp_path / f"results/corpus/shards/{shard}.tsv").write_text("video_id\tpath\n")
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", "all", "--cores", "1", "--configfile", "config/demo.yaml", "bench.yaml",
                          "--config", "workflow={'shards': 2}"], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    jobs = planned_outputs(dry.stdout)
    written = {path for _, outputs in jobs.values() for path in outputs if SKIP_TABLE.search(path)} - {"results/skipped.tsv"}
    assert set(jobs["results/skipped.tsv"][0]) == written
    assert {"results/first_stage/MiniLM/synthetic.skipped.tsv", "results/first_stage/OmniEmbed/corpus/1.skipped.tsv",
            "results/extract/caption/1.skipped.tsv", "results/synthesis/dedup.skipped.tsv"} < written
