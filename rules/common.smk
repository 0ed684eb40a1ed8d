# Helpers shared by every rule: config validation, shards, input functions. No rule lives here.

from rankvideo.config import validate_config
from rankvideo.corpus import shard_names
from rankvideo.workflow import code_version

validate_config(config, "config.yaml and any --configfile overlays")

SHARDS = shard_names(config["workflow"]["shards"])
DATASET = config["dataset"]
FIRST_STAGE = config["first_stage"]
RERANKERS = config["rerankers"]
TINY_MODEL = "results/models/tiny-qwen3vl"


wildcard_constraints:
    shard="|".join(SHARDS),
    split="train|test",
    reranker="|".join(RERANKERS) or "(?!)",


def all_targets():
    return ["results/eval/ndcg.json", "results/eval/table1.md", "results/corpus/skipped.tsv"]


def split_queries(wildcards):
    return DATASET["queries"][wildcards.split]


def first_stage_inputs(wildcards):
    """The usable-video sheet and the split's queries; a precomputed run and the raw sheet when reading one."""
    inputs = {"videos": "results/corpus/videos.tsv", "queries": split_queries(wildcards)}
    if FIRST_STAGE["backend"] == "precomputed":
        inputs.update(run=FIRST_STAGE["run"], sheet=DATASET["video_sheet"])
    return inputs


def reranker_model(wildcards):
    """The reranker's model folder as an input when this workflow builds it (the demo's tiny model)."""
    model = RERANKERS[wildcards.reranker]["model"]
    return [model] if model == TINY_MODEL else []


def reranker_scores():
    return {name: f"results/rerank/{name}/scores.json" for name in RERANKERS}
