# Reranking (paper §5): the top rerank.depth of the first stage, per shard of candidate videos so a
# job loads its model once; each video is decoded and encoded once for all its queries. Video rerankers
# read frames; the text reranker (ReasonRank, paper Table 1) reads each video's caption + ASR record.


rule tiny_model:
    output:
        directory("results/models/tiny-qwen3vl"),
    log:
        "logs/tiny_model/tiny_model.log",
    params:
        seed=config["demo"]["seed"],
        code=code_version("tiny_model"),
    threads: 2
    conda:
        "../envs/vlm.yaml"
    script:
        "../workflow_scripts/tiny_model.py"


rule rerank_candidates:
    wildcard_constraints:
        pool="candidates|table2_candidates",
    input:
        runs=pool_runs,
    output:
        "results/rerank/{pool}.json",
    log:
        "logs/rerank_candidates/{pool}.log",
    params:
        depth=config["rerank"]["depth"],
        code=code_version("rerank_candidates"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/rerank_candidates.py"


rule rerank_shard:
    input:
        unpack(rerank_inputs),
    output:
        "results/rerank/{reranker}/shards/{shard}.json",
    log:
        "logs/rerank_shard/{reranker}/{shard}.log",
    benchmark:
        "benchmarks/rerank_shard/{reranker}/{shard}.tsv"
    params:
        spec=lambda wildcards: RERANKERS[wildcards.reranker],
        settings=record(from_block(RerankSettings, config["rerank"])),
        video=record(configured_video(config["video"], 2)),
        engine=reranker_engine,
        n_shards=len(SHARDS),
        work_dir="results/rerank/{reranker}/work/{shard}",
        code=code_version("rerank_shard"),
    threads: 2
    resources:
        gpu=reranker_gpus,
        mem_mb=lambda wildcards, attempt: (96000 if text_reranker_job(wildcards) else 32000) * attempt,
        runtime=lambda wildcards, attempt: 240 * attempt,
    conda:
        "../envs/vlm.yaml"
    script:
        "../workflow_scripts/rerank_shard.py"


rule merge_rerank:
    input:
        expand("results/rerank/{{reranker}}/shards/{shard}.json", shard=SHARDS),
    output:
        scores="results/rerank/{reranker}/scores.json",
        run="results/rerank/{reranker}/run.trec",
        failed="results/rerank/{reranker}/failed.tsv",
    log:
        "logs/merge_rerank/{reranker}.log",
    params:
        code=code_version("merge_rerank"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/merge_rerank.py"
