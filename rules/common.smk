# Helpers shared by every rule file, from rankvideo/workflow; config validation, code fingerprints, input functions.
# No rule lives here; the prefetch rule is in rules/workflow.smk.

import functools
import os
import re
import sys
from pathlib import Path

from rankvideo.rerank.assemble import is_text_reranker
from rankvideo.workflow.config import ablation_rerankers, built_here, coerce_types, loss_ablation_rows, stage1_settings, stage2_settings, stage2_variants, validate_config
from rankvideo.corpus.shards import shard_names
from rankvideo.files.video import configured_video
from rankvideo.files.settings import from_block, record
from rankvideo.extract.settings import CaptionSettings, OcrSettings
from rankvideo.judge.settings import PartitionSettings, TeacherSettings
from rankvideo.rerank.settings import RerankSettings
from rankvideo.retrieve.settings import OmniEmbedSettings
from rankvideo.synthesize.settings import FilterSettings, SynthesisSettings
from rankvideo.workflow.inference import check_inference_fits, engine_settings
from rankvideo.workflow.plan import TRAIN_GPUS, check_training_fits
from rankvideo.workflow.scripts import code_version

config.update(coerce_types(config))  # --config values arrive as strings: read them as the schema's types
validate_config(config, "config.yaml and any --configfile overlays")
# Training must fit its GPUs before any is asked for (python -m rankvideo.workflow.plan shows the whole plan).
PLAN_CACHE = Path(".snakemake/rankvideo")
PLAN_NOTE = check_training_fits(config, TRAIN_GPUS, PLAN_CACHE)
if PLAN_NOTE:
    print(PLAN_NOTE, file=sys.stderr)
# So must every inference job: a vLLM job gets the GPUs its plan asks for, as tensor-parallel ranks.
check_inference_fits(config, PLAN_CACHE)

# Compute nodes are offline: a job loads checkpoints from the cache `snakemake prefetch` filled, never
# downloads. The prefetch rule alone turns this off.
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")

SHARDS = shard_names(config["workflow"]["shards"])
DATASET = config["dataset"]
FIRST_STAGE = config["first_stage"]
# Every first stage by name: the main one, and those RV-2 also reranks for paper Table 2.
FIRST_STAGES = {FIRST_STAGE["name"]: FIRST_STAGE, **{n: {"name": n, **s} for n, s in config["other_first_stages"].items()}}
STAGE2 = stage2_variants(config)  # Stage 2 models by folder name: rv2, and one per loss ablation (paper Table 7)
RERANKERS = {**config["rerankers"], **ablation_rerankers(config)}


wildcard_constraints:
    shard="|".join(SHARDS),
    split="train|test|synthetic",
    reranker="|".join(map(re.escape, RERANKERS)) or "(?!)",
    stage2="|".join(map(re.escape, STAGE2)),
    stage="|".join(map(re.escape, FIRST_STAGES)),


def all_targets():
    return ["results/eval/ndcg.json", "results/eval/table1.md", "results/skipped.tsv", "results/synthesis/funnel.md",
            "results/train/rv1_loss.png", *expand("results/train/{stage2}_loss.png", stage2=STAGE2), "results/paper/table1.csv",
            "results/paper/table1_vs_published.md", "results/paper/table4.md", "results/paper/table5.md",
            "results/paper/table7.md", "results/paper/ndcg_by_group.md", "results/paper/figure3_ecdf.png",
            "results/paper/figure4_latency.png", "results/paper/table2.md", "results/paper/first_stages.md"]


def stage2_job_settings(wildcards):
    """A Stage 2 variant's settings: its loss terms and only the loss settings those terms read."""
    return record(stage2_settings(config, STAGE2[wildcards.stage2]))


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


def first_stage_run(split, stage=FIRST_STAGE["name"]):
    """A first stage's run of a query split (the main first stage's unless named)."""
    return f"results/first_stage/{stage}/{split}.trec"


def first_stage_inputs(wildcards):
    """The usable-video sheet, the split's queries, the extraction records when extracted text is indexed,
    and a precomputed run with the raw sheet when reading one."""
    spec = FIRST_STAGES[wildcards.stage]
    inputs = {"videos": "results/corpus/videos.tsv", "queries": split_queries(wildcards)}
    if spec["backend"] == "precomputed":
        run = config["synthesis"]["first_stage_run"] if wildcards.split == "synthetic" else spec["run"]
        if not run:
            raise ValueError("synthesis.first_stage_run: the 'precomputed' first stage needs the run of the synthetic queries")
        inputs.update(run=run, sheet=DATASET["video_sheet"])
    elif spec["backend"] == "omniembed":
        stage = wildcards.stage
        inputs.update(corpus=expand(f"results/first_stage/{stage}/corpus/{{shard}}.safetensors", shard=SHARDS),
                      corpus_skipped=expand(f"results/first_stage/{stage}/corpus/{{shard}}.skipped.tsv", shard=SHARDS),
                      query_embeddings=f"results/first_stage/{stage}/queries/{wildcards.split}.safetensors")
    elif needs_extraction(spec):
        inputs["records"] = extraction_records()
    return inputs


def omniembed_model_inputs(spec):
    """The encoder's folders when this workflow builds them (the demo's tiny twin); hub ids are read from the cache."""
    return {"model": local_model(spec["model"]), "adapter": local_model(spec["adapter"]),
            "processor": local_model(config["omniembed"]["processor"])}


def omniembed_encoder(wildcards, input):
    """What an encoding job loads: model, adapter and processor, as the folders this workflow built or as hub ids."""
    spec = FIRST_STAGES[wildcards.stage]
    named = {**spec, "processor": config["omniembed"]["processor"]}
    return {key: (getattr(input, key, None) or [named[key]])[0] for key in ("model", "adapter", "processor")}


def encode_corpus_inputs(wildcards):
    return {"videos": after_shard_sheet("results/corpus/usable/{shard}.tsv")(wildcards),
            "records": f"results/extract/records/{wildcards.shard}.jsonl", **omniembed_model_inputs(FIRST_STAGES[wildcards.stage])}


def encode_queries_inputs(wildcards):
    return {"queries": split_queries(wildcards), **omniembed_model_inputs(FIRST_STAGES[wildcards.stage])}


def first_stage_skips():
    """Every first stage's skip lines: of its test run (and the main one's synthetic run), and of its corpus encoding."""
    runs = [f"results/first_stage/{name}/test.skipped.tsv" for name in FIRST_STAGES]
    runs.append(f"results/first_stage/{FIRST_STAGE['name']}/synthetic.skipped.tsv")
    encoded = [f"results/first_stage/{name}/corpus/{shard}.skipped.tsv" for name, spec in FIRST_STAGES.items()
               if spec["backend"] == "omniembed" for shard in SHARDS]
    return runs + encoded


def other_first_stage_runs():
    """The test run of every first stage but the main one, by name."""
    return {name: first_stage_run("test", name) for name in FIRST_STAGES if name != FIRST_STAGE["name"]}


def table2_runs():
    """The test run of every first stage, the main one first (paper Table 2)."""
    return {name: first_stage_run("test", name) for name in FIRST_STAGES}


def pool_runs(wildcards):
    """The runs a rerank pool draws from: the main first stage's, or every first stage's (table2_candidates)."""
    return list(table2_runs().values()) if wildcards.pool == "table2_candidates" else [first_stage_run("test")]


def rerank_pool(wildcards):
    """The analysis reranker scores the top rerank.depth of every first stage when others are configured (Table 2);
    every other reranker the main first stage's."""
    table2 = len(FIRST_STAGES) > 1 and wildcards.reranker == config["evaluation"]["analysis_reranker"]
    return "results/rerank/table2_candidates.json" if table2 else "results/rerank/candidates.json"


def text_reranker_job(wildcards):
    return is_text_reranker(RERANKERS[wildcards.reranker])


def reranker_inputs(wildcards):
    """What every job of a reranker reads: the rerank work list, the test queries, its model folder when built here."""
    return {"candidates": rerank_pool(wildcards), "queries": DATASET["queries"]["test"],
            "model": local_model(RERANKERS[wildcards.reranker]["model"])}


def rerank_inputs(wildcards):
    """A reranker shard's inputs and evidence: the video sheet for a video reranker, the shard's caption + ASR
    records for a text reranker."""
    if text_reranker_job(wildcards):
        return {**reranker_inputs(wildcards), "evidence": after_shard_sheet("results/extract/records/{shard}.jsonl")(wildcards)}
    return {**reranker_inputs(wildcards), "evidence": "results/corpus/videos.tsv"}


def latency_inputs(wildcards):
    """A reranker's inputs for timing, with every shard's evidence: the sample spans the whole pool."""
    return {**reranker_inputs(wildcards), "evidence": extraction_records() if text_reranker_job(wildcards) else ["results/corpus/videos.tsv"]}


def reranker_scores():
    return {name: f"results/rerank/{name}/scores.json" for name in RERANKERS}


def local_model(model):
    """A model folder this workflow builds (the demo's tiny and text models) is an input; a hub id is not."""
    return [model] if built_here(model) else []


def extraction_records():
    return expand("results/extract/records/{shard}.jsonl", shard=SHARDS)


def needs_extraction(spec):
    return any(f in ("asr", "ocr", "caption") for f in spec["text_fields"])


def model_path(model):
    """The model as a job sees it: its input folder when this workflow builds it, else its name (a hub id)."""
    return lambda wildcards, input: input.model[0] if local_model(model) else model


@functools.cache
def engine(key, model):
    """A GPU job's engine settings as plain data (rankvideo.workflow.inference): its context, vLLM's share of each GPU, and
    its GPUs; remembered, since every shard's job asks."""
    return record(engine_settings(config, key, model, PLAN_CACHE))


def reranker_engine(wildcards):
    return engine("rerank", RERANKERS[wildcards.reranker]["model"])


def reranker_gpus(wildcards):
    return reranker_engine(wildcards)["tensor_parallel_size"]
