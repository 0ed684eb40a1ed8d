# First-stage retrieval (paper §5): OmniEmbed's run on the cluster, dense text retrieval in the demo.


rule first_stage:
    input:
        unpack(first_stage_inputs),
    output:
        trec="results/first_stage/{split}.trec",
        json="results/first_stage/{split}.json",
        skipped="results/first_stage/{split}.skipped.tsv",
    log:
        "logs/first_stage/{split}.log",
    benchmark:
        "benchmarks/first_stage/{split}.tsv"
    params:
        name=FIRST_STAGE["name"],
        backend=FIRST_STAGE["backend"],
        model=FIRST_STAGE["model"],
        text_fields=FIRST_STAGE["text_fields"],
        depth=FIRST_STAGE["depth"],
        code=code_version("first_stage"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        "../envs/retrieve.yaml"
    script:
        "../workflow_scripts/first_stage.py"
