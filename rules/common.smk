# Helpers shared by every rule file, from rankvideo/workflow; config validation, code fingerprints, input functions.
# No rule lives here; the prefetch rule is in rules/workflow.smk.

import functools
import os
import re
import sys
from pathlib import Path

from rankvideo.rerank.assemble import is_text_reranker
from rankvideo.workflow import dag
from rankvideo.workflow.config import coerce_types, loss_ablation_rows, stage1_settings, stage2_settings, stage2_variants, validate_config
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
FIRST_STAGES = dag.first_stages(config)  # the main first stage, and those RV-2 also reranks for paper Table 2
STAGE2 = stage2_variants(config)  # Stage 2 models by folder name: rv2, and one per loss ablation (paper Table 7)
RERANKERS = dag.rerankers(config)


wildcard_constraints:
    shard="|".join(SHARDS),
    split="train|test|synthetic",
    reranker="|".join(map(re.escape, RERANKERS)) or "(?!)",
    stage2="|".join(map(re.escape, STAGE2)),
    stage="|".join(map(re.escape, FIRST_STAGES)),


# The DAG's shape lives in rankvideo/workflow/dag.py (unit-tested there); these pass it the config, the shard names,
# a job's wildcards and the shard_sheet checkpoint.


def all_targets():
    return dag.all_targets(config)


def stage2_job_settings(wildcards):
    """A Stage 2 variant's settings: its loss terms and only the loss settings those terms read."""
    return record(stage2_settings(config, STAGE2[wildcards.stage2]))


def query_groups():
    return dag.query_groups(config)


def shard_sheet(wildcards):
    """A shard's rows of the video sheet, known once the shard_sheet checkpoint has run."""
    return f"{checkpoints.shard_sheet.get().output[0]}/{wildcards.shard}.tsv"


def checkpointed(path):
    """A per-shard input downstream of the shard_sheet checkpoint. Snakemake re-plans a job whose input goes through
    the checkpoint once it has run; a plain input would keep the job of an unchanged shard marked for rerun (measured:
    a new video then reran every shard's extraction)."""
    checkpoints.shard_sheet.get()
    return path


def after_shard_sheet(pattern):
    """The input function of a per-shard pattern, through the shard_sheet checkpoint."""
    return lambda wildcards: checkpointed(pattern.format(shard=wildcards.shard))


def first_stage_run(split, stage=FIRST_STAGE["name"]):
    return dag.first_stage_run(stage, split)


def first_stage_inputs(wildcards):
    return dag.first_stage_inputs(config, SHARDS, wildcards.stage, wildcards.split)


def omniembed_encoder(wildcards, input):
    return dag.omniembed_encoder(config, wildcards.stage, {key: getattr(input, key, []) for key in ("model", "adapter", "processor")})


def encode_corpus_inputs(wildcards):
    return dag.encode_corpus_inputs(config, wildcards.stage, wildcards.shard, checkpointed)


def encode_queries_inputs(wildcards):
    return dag.encode_queries_inputs(config, wildcards.stage, wildcards.split)


def skip_manifest_inputs(wildcards):
    return dag.skip_manifest_inputs(config, SHARDS)


def other_first_stage_runs():
    return dag.other_first_stage_runs(config)


def table2_runs():
    return dag.table2_runs(config)


def first_stage_depths():
    return dag.first_stage_depths(config)


def pool_runs(wildcards):
    return dag.pool_runs(config, wildcards.pool)


def text_reranker_job(wildcards):
    return is_text_reranker(RERANKERS[wildcards.reranker])


def rerank_inputs(wildcards):
    return dag.rerank_inputs(config, wildcards.reranker, wildcards.shard, checkpointed)


def latency_inputs(wildcards):
    return dag.latency_inputs(config, SHARDS, wildcards.reranker)


def reranker_scores():
    return dag.reranker_scores(config)


def local_model(model):
    return dag.local_model(model)


def extraction_records():
    return dag.extraction_records(SHARDS)


def model_path(model):
    """The model as a job sees it, from the job's own `model` input (rankvideo.workflow.dag.job_model)."""
    return lambda wildcards, input: dag.job_model(model, input.model)


@functools.cache
def engine(key, model):
    """A GPU job's engine settings as plain data (rankvideo.workflow.inference): its context, vLLM's share of each GPU, and
    its GPUs; remembered, since every shard's job asks."""
    return record(engine_settings(config, key, model, PLAN_CACHE))


def reranker_engine(wildcards):
    return engine("rerank", RERANKERS[wildcards.reranker]["model"])


def reranker_gpus(wildcards):
    return reranker_engine(wildcards)["tensor_parallel_size"]
