"""The DAG's shape as plain functions of the config: the targets of `rule all`, each rule's inputs and the skip files the
manifest collects.

rules/common.smk calls these with the config and the shard names; what only Snakemake has (wildcards, `expand`, the
shard_sheet checkpoint) stays there and comes in as strings or as `checkpointed`, a function that returns a per-shard
path once the checkpoint has run. So every input list is checked without Snakemake (tests/test_dag.py), and a skip
file left out of results/skipped.tsv shows up in a unit test rather than in a user's missing line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rankvideo.rerank.assemble import is_text_reranker
from rankvideo.retrieve.first_stage import EXTRACTED_FIELDS
from rankvideo.workflow.config import ablation_rerankers, built_here, stage2_variants

Checkpointed = Callable[[str], str]
USABLE_VIDEOS = "results/corpus/videos.tsv"  # the usable-video sheet (rule usable_videos): a video reranker's evidence


def first_stages(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every first stage by name: the main one, and those RV-2 also reranks for paper Table 2."""
    main = config["first_stage"]
    return {main["name"]: dict(main), **{name: {"name": name, **spec} for name, spec in config["other_first_stages"].items()}}


def rerankers(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every reranker by name: the configured ones, and one per loss ablation (paper Table 7)."""
    return {**config["rerankers"], **ablation_rerankers(config)}


def reranker_spec(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One reranker's spec: a configured one by lookup, the ablations built only for theirs (every shard's job asks)."""
    return config["rerankers"].get(name) or ablation_rerankers(config)[name]


def all_targets(config: Mapping[str, Any]) -> list[str]:
    """What `rule all` asks for: Table 1, the skip manifest, the funnel, every loss plot and the paper's analyses."""
    return ["results/eval/ndcg.json", "results/eval/table1.md", "results/skipped.tsv", "results/synthesis/funnel.md",
            "results/train/rv1_loss.png", *(f"results/train/{name}_loss.png" for name in stage2_variants(config)),
            "results/paper/table1.csv", "results/paper/table1_vs_published.md", "results/paper/table4.md",
            "results/paper/table5.md", "results/paper/table7.md", "results/paper/ndcg_by_group.md",
            "results/paper/figure3_ecdf.png", "results/paper/figure4_latency.png", "results/paper/table2.md",
            "results/paper/first_stages.md"]


def query_groups(config: Mapping[str, Any]) -> list[str]:
    """The optional table of query metadata (language, event type, modality) for nDCG@10 by group."""
    path = config["evaluation"]["query_groups"]
    return [path] if path else []


def split_queries(config: Mapping[str, Any], split: str) -> str:
    """The queries of a split: the synthesised ones, or the dataset's train or test queries."""
    return "results/synthesis/queries.tsv" if split == "synthetic" else config["dataset"]["queries"][split]


def first_stage_run(stage: str, split: str) -> str:
    """A first stage's run of a query split."""
    return f"results/first_stage/{stage}/{split}.trec"


def shard_files(pattern: str, shards: Sequence[str]) -> list[str]:
    """A per-shard pattern (`{shard}`) for every shard, in shard order."""
    return [pattern.format(shard=shard) for shard in shards]


def extraction_records(shards: Sequence[str]) -> list[str]:
    return shard_files("results/extract/records/{shard}.jsonl", shards)


def needs_extraction(spec: Mapping[str, Any]) -> bool:
    """Whether a text first stage indexes extracted text (ASR, OCR, captions), not the video sheet's metadata alone."""
    return any(field in EXTRACTED_FIELDS for field in spec["text_fields"])


def local_model(model: str) -> list[str]:
    """A model folder this workflow builds (the demo's tiny and text models) is an input; a hub id is not."""
    return [model] if built_here(model) else []


def job_model(model: str, inputs: Sequence[str]) -> str:
    """The model as a job sees it: its input folder as Snakemake hands it over (`inputs`, the job's input of
    `local_model(model)`) when this workflow builds it, else its name (a hub id). A job whose inputs wait on the
    shard_sheet checkpoint has none yet: it names the model until they are known."""
    return inputs[0] if inputs else model


def first_stage_inputs(config: Mapping[str, Any], shards: Sequence[str], stage: str, split: str) -> dict[str, Any]:
    """The usable-video sheet, the split's queries, the extraction records when extracted text is indexed, the
    embeddings an omniembed first stage searches, and a precomputed run with the raw sheet when reading one."""
    spec = first_stages(config)[stage]
    inputs: dict[str, Any] = {"videos": USABLE_VIDEOS, "queries": split_queries(config, split)}
    if spec["backend"] == "precomputed":
        run = config["synthesis"]["first_stage_run"] if split == "synthetic" else spec["run"]
        if not run:
            raise ValueError("synthesis.first_stage_run: the 'precomputed' first stage needs the run of the synthetic queries")
        inputs.update(run=run, sheet=config["dataset"]["video_sheet"])
    elif spec["backend"] == "omniembed":
        inputs.update(corpus=shard_files(f"results/first_stage/{stage}/corpus/{{shard}}.safetensors", shards),
                      corpus_skipped=shard_files(f"results/first_stage/{stage}/corpus/{{shard}}.skipped.tsv", shards),
                      query_embeddings=f"results/first_stage/{stage}/queries/{split}.safetensors")
    elif needs_extraction(spec):
        inputs["records"] = extraction_records(shards)
    return inputs


def omniembed_model_inputs(config: Mapping[str, Any], stage: str) -> dict[str, list[str]]:
    """The encoder's folders when this workflow builds them (the demo's tiny twin); hub ids are read from the cache."""
    spec = first_stages(config)[stage]
    return {"model": local_model(spec["model"]), "adapter": local_model(spec["adapter"]),
            "processor": local_model(config["omniembed"]["processor"])}


def omniembed_encoder(config: Mapping[str, Any], stage: str, inputs: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """What an encoding job loads: model, adapter and processor, as the folders this workflow built (the job's `inputs`
    of those names) or as hub ids."""
    named = {**first_stages(config)[stage], "processor": config["omniembed"]["processor"]}
    return {key: job_model(named[key], inputs[key]) for key in ("model", "adapter", "processor")}


def encode_corpus_inputs(config: Mapping[str, Any], stage: str, shard: str, checkpointed: Checkpointed) -> dict[str, Any]:
    """A shard's usable videos (known once the shard_sheet checkpoint has run), its extraction records and the encoder."""
    return {"videos": checkpointed(f"results/corpus/usable/{shard}.tsv"), "records": f"results/extract/records/{shard}.jsonl",
            **omniembed_model_inputs(config, stage)}


def encode_queries_inputs(config: Mapping[str, Any], stage: str, split: str) -> dict[str, Any]:
    return {"queries": split_queries(config, split), **omniembed_model_inputs(config, stage)}


def first_stage_skips(config: Mapping[str, Any], shards: Sequence[str]) -> list[str]:
    """Every first stage's skip files: of its test run (and the main one's synthetic run), and of its corpus encoding."""
    stages = first_stages(config)
    runs = [f"results/first_stage/{name}/test.skipped.tsv" for name in stages]
    runs.append(f"results/first_stage/{config['first_stage']['name']}/synthetic.skipped.tsv")
    encoded = [path for name, spec in stages.items() if spec["backend"] == "omniembed"
               for path in shard_files(f"results/first_stage/{name}/corpus/{{shard}}.skipped.tsv", shards)]
    return runs + encoded


def skip_manifest_inputs(config: Mapping[str, Any], shards: Sequence[str]) -> dict[str, Any]:
    """Every skip file of the lineage, by the stage that writes it: what results/skipped.tsv gathers."""
    return {"corpus": "results/corpus/skipped.tsv",
            "extract": [f"results/extract/{modality}/{shard}.skipped.tsv" for modality in EXTRACTED_FIELDS for shard in shards],
            "synthesis": shard_files("results/synthesis/generated/{shard}.skipped.tsv", shards),
            "dedup": "results/synthesis/dedup.skipped.tsv", "filtered": "results/synthesis/filtered_out.tsv",
            "judged": "results/judge/dropped.tsv", "first_stage": first_stage_skips(config, shards)}


def other_first_stage_runs(config: Mapping[str, Any]) -> dict[str, str]:
    """The test run of every first stage but the main one, by name."""
    return {name: first_stage_run(name, "test") for name in config["other_first_stages"]}


def table2_runs(config: Mapping[str, Any]) -> dict[str, str]:
    """The test run of every first stage, the main one first (paper Table 2)."""
    return {name: first_stage_run(name, "test") for name in first_stages(config)}


def first_stage_depths(config: Mapping[str, Any]) -> dict[str, int]:
    """How deep each first stage's run is read, by name."""
    return {name: spec["depth"] for name, spec in first_stages(config).items()}


def pool_runs(config: Mapping[str, Any], pool: str) -> list[str]:
    """The runs a rerank pool draws from: the main first stage's, or every first stage's (table2_candidates)."""
    return list(table2_runs(config).values()) if pool == "table2_candidates" else [first_stage_run(config["first_stage"]["name"], "test")]


def rerank_pool(config: Mapping[str, Any], reranker: str) -> str:
    """The analysis reranker scores the top rerank.depth of every first stage when others are configured (Table 2);
    every other reranker the main first stage's."""
    table2 = bool(config["other_first_stages"]) and reranker == config["evaluation"]["analysis_reranker"]
    return "results/rerank/table2_candidates.json" if table2 else "results/rerank/candidates.json"


def reranker_inputs(config: Mapping[str, Any], reranker: str) -> dict[str, Any]:
    """What every job of a reranker reads: the rerank work list, the test queries, its model folder when built here."""
    return {"candidates": rerank_pool(config, reranker), "queries": config["dataset"]["queries"]["test"],
            "model": local_model(reranker_spec(config, reranker)["model"])}


def rerank_inputs(config: Mapping[str, Any], reranker: str, shard: str, checkpointed: Checkpointed) -> dict[str, Any]:
    """A reranker shard's inputs and evidence: the usable-video sheet for a video reranker, the shard's caption + ASR
    records (known once the shard_sheet checkpoint has run) for a text reranker."""
    text = is_text_reranker(reranker_spec(config, reranker))
    evidence = checkpointed(f"results/extract/records/{shard}.jsonl") if text else USABLE_VIDEOS
    return {**reranker_inputs(config, reranker), "evidence": evidence}


def latency_inputs(config: Mapping[str, Any], shards: Sequence[str], reranker: str) -> dict[str, Any]:
    """A reranker's inputs for timing, with every shard's evidence: the sample spans the whole pool."""
    text = is_text_reranker(reranker_spec(config, reranker))
    return {**reranker_inputs(config, reranker), "evidence": extraction_records(shards) if text else [USABLE_VIDEOS]}


def reranker_scores(config: Mapping[str, Any]) -> dict[str, str]:
    """Every reranker's merged scores, by name."""
    return {name: f"results/rerank/{name}/scores.json" for name in rerankers(config)}
