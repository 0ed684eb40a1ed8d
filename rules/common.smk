# Helpers shared by every rule: config validation, shards, input functions. No rule lives here.

import os

from rankvideo.config import validate_config
from rankvideo.shards import shard_names
from rankvideo.workflow import code_version

validate_config(config, "config.yaml and any --configfile overlays")

# Compute nodes are offline: a job loads checkpoints from the cache `snakemake prefetch` filled, never
# downloads. The prefetch rule alone turns this off.
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")

SHARDS = shard_names(config["workflow"]["shards"])
DATASET = config["dataset"]
FIRST_STAGE = config["first_stage"]
RERANKERS = config["rerankers"]


wildcard_constraints:
    shard="|".join(SHARDS),
    split="train|test|synthetic",
    reranker="|".join(RERANKERS) or "(?!)",


def all_targets():
    return ["results/eval/ndcg.json", "results/eval/table1.md", "results/skipped.tsv", "results/synthesis/funnel.md",
            "results/train/stage1_loss.png", "results/train/stage2_loss.png", "results/paper/table1.csv",
            "results/paper/table1_vs_published.md", "results/paper/table4.md", "results/paper/table5.md",
            "results/paper/ndcg_by_group.md", "results/paper/figure3_ecdf.png"]


def query_groups():
    """The optional table of query metadata (language, event type, modality) for nDCG@10 by group."""
    path = config["evaluation"]["query_groups"]
    return [path] if path else []


def shard_sheet(wildcards):
    """A shard's rows of the video sheet, known once the shard_sheet checkpoint has run."""
    return f"{checkpoints.shard_sheet.get().output[0]}/{wildcards.shard}.tsv"


def after_shard_sheet(pattern):
    """Input of per-shard work downstream of the shard_sheet checkpoint. Snakemake re-plans a job whose
    input goes through the checkpoint once it has run; a plain input would keep the job of an unchanged
    shard marked for rerun (measured: a new video then reran every shard's extraction)."""

    def inputs(wildcards):
        checkpoints.shard_sheet.get()
        return pattern.format(shard=wildcards.shard)

    return inputs


def split_queries(wildcards):
    if wildcards.split == "synthetic":
        return "results/synthesis/queries.tsv"
    return DATASET["queries"][wildcards.split]


def first_stage_inputs(wildcards):
    """The usable-video sheet, the split's queries, the extraction records when extracted text is indexed,
    and a precomputed run with the raw sheet when reading one."""
    inputs = {"videos": "results/corpus/videos.tsv", "queries": split_queries(wildcards)}
    if FIRST_STAGE["backend"] == "precomputed":
        run = config["synthesis"]["first_stage_run"] if wildcards.split == "synthetic" else FIRST_STAGE["run"]
        if not run:
            raise ValueError("synthesis.first_stage_run: the 'precomputed' first stage needs the run of the synthetic queries")
        inputs.update(run=run, sheet=DATASET["video_sheet"])
    elif needs_extraction():
        inputs["records"] = extraction_records()
    return inputs


def reranker_model(wildcards):
    return local_model(RERANKERS[wildcards.reranker]["model"])


def reranker_scores():
    return {name: f"results/rerank/{name}/scores.json" for name in RERANKERS}


def local_model(model):
    """A model folder this workflow builds (the demo's tiny and text models) is an input; a hub id is not."""
    return [model] if model.startswith("results/models/") else []


def extraction_records():
    return expand("results/extract/records/{shard}.jsonl", shard=SHARDS)


def needs_extraction():
    return any(f in ("asr", "ocr", "caption") for f in FIRST_STAGE["text_fields"])


def model_path(model):
    """The model as a job sees it: its input folder when this workflow builds it, else its name (a hub id)."""
    return lambda wildcards, input: input.model[0] if local_model(model) else model
