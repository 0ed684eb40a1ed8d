# First-stage retrieval (paper §5): OmniEmbed's run on the cluster, dense text retrieval in the demo; and the
# other first stages of other_first_stages (paper Table 2), test split only.


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
