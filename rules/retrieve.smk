# First-stage retrieval (paper §5): OmniEmbed encodes the corpus per shard and each query split, and first_stage
# searches those embeddings; the demo's main first stage is dense text retrieval, and a precomputed run can be read.
# The other first stages of other_first_stages (paper Table 2) run on the test split only.


rule first_stage:
    input:
        unpack(first_stage_inputs),
    output:
        trec="results/first_stage/{stage}/{split}.trec",
        json="results/first_stage/{stage}/{split}.json",
        skipped="results/first_stage/{stage}/{split}.skipped.tsv",
    log:
        "logs/first_stage/{stage}/{split}.log",
    benchmark:
        "benchmarks/first_stage/{stage}/{split}.tsv"
    params:
        name=lambda wildcards: wildcards.stage,
        backend=lambda wildcards: FIRST_STAGES[wildcards.stage]["backend"],
        model=lambda wildcards: FIRST_STAGES[wildcards.stage]["model"],
        text_fields=lambda wildcards: FIRST_STAGES[wildcards.stage]["text_fields"],
        depth=lambda wildcards: FIRST_STAGES[wildcards.stage]["depth"],
        code=code_version("first_stage"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        "../envs/retrieve.yaml"
    script:
        "../workflow_scripts/first_stage.py"


rule tiny_omniembed:
    output:
        thinker=directory("results/models/tiny-omniembed/thinker"),
        adapter=directory("results/models/tiny-omniembed/adapter"),
    log:
        "logs/tiny_omniembed/tiny_omniembed.log",
    params:
        seed=config["demo"]["seed"],
        code=code_version("tiny_omniembed"),
    threads: 2
    conda:
        "../envs/retrieve.yaml"
    script:
        "../workflow_scripts/tiny_omniembed.py"


rule encode_corpus:
    input:
        unpack(encode_corpus_inputs),
    output:
        embeddings="results/first_stage/{stage}/corpus/{shard}.safetensors",
        skipped="results/first_stage/{stage}/corpus/{shard}.skipped.tsv",
    log:
        "logs/encode_corpus/{stage}/{shard}.log",
    benchmark:
        "benchmarks/encode_corpus/{stage}/{shard}.tsv"
    params:
        encoder=omniembed_encoder,
        text_fields=lambda wildcards: FIRST_STAGES[wildcards.stage]["text_fields"],
        settings=record(from_block(OmniEmbedSettings, config["omniembed"])),
        work_dir="results/first_stage/{stage}/corpus/{shard}.work",
        code=code_version("encode_corpus"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 64000 * attempt,
        runtime=lambda wildcards, attempt: 480 * attempt,
    conda:
        "../envs/retrieve.yaml"
    script:
        "../workflow_scripts/encode_corpus.py"


rule encode_queries:
    input:
        unpack(encode_queries_inputs),
    output:
        "results/first_stage/{stage}/queries/{split}.safetensors",
    log:
        "logs/encode_queries/{stage}/{split}.log",
    benchmark:
        "benchmarks/encode_queries/{stage}/{split}.tsv"
    params:
        encoder=omniembed_encoder,
        settings=record(from_block(OmniEmbedSettings, config["omniembed"])),
        code=code_version("encode_queries"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 64000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        "../envs/retrieve.yaml"
    script:
        "../workflow_scripts/encode_queries.py"
