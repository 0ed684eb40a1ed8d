# Reranking (paper §5): the top rerank.depth of the first stage, per shard of candidate videos so a
# job loads its model once; each video is decoded and encoded once for all its queries.


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
    input:
        run="results/first_stage/test.trec",
    output:
        "results/rerank/candidates.json",
    log:
        "logs/rerank_candidates/rerank_candidates.log",
    params:
        depth=config["rerank"]["depth"],
        code=code_version("rerank_candidates"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/rerank_candidates.py"


rule rerank_shard:
    input:
        candidates="results/rerank/candidates.json",
        videos="results/corpus/videos.tsv",
        queries=DATASET["queries"]["test"],
        model=reranker_model,
    output:
        "results/rerank/{reranker}/shards/{shard}.json",
    log:
        "logs/rerank_shard/{reranker}/{shard}.log",
    benchmark:
        "benchmarks/rerank_shard/{reranker}/{shard}.tsv"
    params:
        model=lambda wildcards: RERANKERS[wildcards.reranker]["model"],
        prompt_format=lambda wildcards: RERANKERS[wildcards.reranker]["prompt_format"],
        max_reasoning_tokens=lambda wildcards: RERANKERS[wildcards.reranker].get("max_reasoning_tokens", 0),
        backend=config["rerank"]["backend"],
        batch_size=config["rerank"]["batch_size"],
        video=config["video"],
        n_shards=len(SHARDS),
        work_dir=lambda wildcards: f"results/rerank/{wildcards.reranker}/work/{wildcards.shard}",
        code=code_version("rerank_shard"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 32000 * attempt,
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
