# Two-stage training (paper §4): Stage 1 perception SFT, then Stage 2 ranking, once per loss subset of
# evaluation.loss_ablation (paper Table 7; the {stage2} wildcard names the model). Checkpoints live outside
# the declared outputs, keyed by everything the run depends on, so a killed job resumes and a changed
# setting starts afresh.


rule train_stage1:
    input:
        data="results/train/stage1.jsonl",
        model=local_model(config["models"]["base"]),
    output:
        model=directory("results/models/rv1"),
        history="results/train/rv1_log.jsonl",
        plot=report("results/train/rv1_loss.png", caption="../report/loss.rst", category="Training"),
    log:
        "logs/train_stage1/train_stage1.log",
    benchmark:
        "benchmarks/train_stage1/train_stage1.tsv"
    params:
        base=model_path(config["models"]["base"]),
        settings=record(stage1_settings(config)),
        video=record(configured_video(config["video"], 1)),
        checkpoints="results/train/checkpoints/stage1",
        code=code_version("train_stage1"),
    threads: 2
    resources:
        gpu=TRAIN_GPUS,
        mem_mb=lambda wildcards, attempt: 256000 * attempt,
        runtime=lambda wildcards, attempt: 1440 * attempt,
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/train_stage1.py"


rule train_stage2:
    input:
        data="results/train/stage2.jsonl",
        model="results/models/rv1",
    output:
        model=directory("results/models/{stage2}"),
        history="results/train/{stage2}_log.jsonl",
        plot=report("results/train/{stage2}_loss.png", caption="../report/loss.rst", category="Training"),
    log:
        "logs/train_stage2/{stage2}.log",
    benchmark:
        "benchmarks/train_stage2/{stage2}.tsv"
    params:
        base=lambda wildcards, input: input.model,
        settings=stage2_job_settings,
        video=record(configured_video(config["video"], 2)),
        checkpoints="results/train/checkpoints/{stage2}",
        code=code_version("train_stage2"),
    threads: 2
    resources:
        gpu=TRAIN_GPUS,
        mem_mb=lambda wildcards, attempt: 256000 * attempt,
        runtime=lambda wildcards, attempt: 1440 * attempt,
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/train_stage2.py"
