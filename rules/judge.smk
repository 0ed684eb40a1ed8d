# Teacher judging and hard-negative mining (paper §3, §4.2), then the two training sets and the funnel.


rule judge:
    input:
        candidates="results/synthesis/candidates.jsonl",
        queries="results/synthesis/queries.tsv",
        records=extraction_records(),
        model=local_model(config["models"]["teacher"]),
    output:
        "results/judge/judgments.jsonl",
    log:
        "logs/judge/judge.log",
    benchmark:
        "benchmarks/judge/judge.tsv"
    params:
        model=model_path(config["models"]["teacher"]),
        settings=record(from_block(TeacherSettings, config["judge"])),
        engine=engine("judge", config["models"]["teacher"]),
        code=code_version("judge"),
    threads: 2
    resources:
        gpu=engine("judge", config["models"]["teacher"])["tensor_parallel_size"],
        mem_mb=lambda wildcards, attempt: 96000 * attempt,
        runtime=lambda wildcards, attempt: 480 * attempt,
    conda:
        "../envs/textllm.yaml"
    script:
        "../workflow_scripts/judge.py"


rule partition:
    input:
        "results/judge/judgments.jsonl",
    output:
        partition="results/judge/partition.jsonl",
        dropped="results/judge/dropped.tsv",
    log:
        "logs/partition/partition.log",
    params:
        settings=record(from_block(PartitionSettings, config["judge"])),
        code=code_version("partition"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/partition.py"


rule training_sets:
    input:
        partition="results/judge/partition.jsonl",
        queries="results/synthesis/queries.tsv",
        records=extraction_records(),
    output:
        stage1="results/train/stage1.jsonl",
        stage2="results/train/stage2.jsonl",
        sampled="results/train/stage2_epoch0_negatives.tsv",
    log:
        "logs/training_sets/training_sets.log",
    params:
        negatives=config["train"]["stage2"]["negatives"],
        seed=config["judge"]["seed"],
        code=code_version("training_sets"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/training_sets.py"


rule funnel:
    input:
        records=extraction_records(),
        generated=expand("results/synthesis/generated/{shard}.jsonl", shard=SHARDS),
        generated_skips=expand("results/synthesis/generated/{shard}.skipped.tsv", shard=SHARDS),
        queries="results/synthesis/queries.tsv",
        provenance="results/synthesis/provenance.jsonl",
        candidates="results/synthesis/candidates.jsonl",
        filtered_out="results/synthesis/filtered_out.tsv",
        judgments="results/judge/judgments.jsonl",
        partition="results/judge/partition.jsonl",
        dropped="results/judge/dropped.tsv",
        stage1="results/train/stage1.jsonl",
        stage2="results/train/stage2.jsonl",
    output:
        json="results/synthesis/funnel.json",
        md=report("results/synthesis/funnel.md", caption="../report/funnel.rst", category="Data synthesis"),
    log:
        "logs/funnel/funnel.log",
    params:
        code=code_version("funnel"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/funnel.py"


rule skip_manifest:
    input:
        unpack(skip_manifest_inputs),
    output:
        "results/skipped.tsv",
    log:
        "logs/skip_manifest/skip_manifest.log",
    params:
        code=code_version("skip_manifest"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/skip_manifest.py"
