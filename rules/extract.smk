# Extraction (paper §3): speech, captions and on-screen text per shard of usable videos.


rule extract_asr:
    input:
        videos=after_shard_sheet("results/corpus/usable/{shard}.tsv"),
    output:
        rows="results/extract/asr/{shard}.jsonl",
        skipped="results/extract/asr/{shard}.skipped.tsv",
    log:
        "logs/extract_asr/{shard}.log",
    benchmark:
        "benchmarks/extract_asr/{shard}.tsv"
    params:
        backend=config["extract"]["asr_backend"],
        model=config["models"]["asr"],
        code=code_version("extract_asr"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=lambda wildcards, attempt: 120 * attempt,
    conda:
        "../envs/asr.yaml"
    script:
        "../workflow_scripts/extract_asr.py"


rule extract_ocr:
    input:
        videos=after_shard_sheet("results/corpus/usable/{shard}.tsv"),
    output:
        rows="results/extract/ocr/{shard}.jsonl",
        skipped="results/extract/ocr/{shard}.skipped.tsv",
    log:
        "logs/extract_ocr/{shard}.log",
    benchmark:
        "benchmarks/extract_ocr/{shard}.tsv"
    params:
        settings=record(from_block(OcrSettings, config["extract"])),
        code=code_version("extract_ocr"),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=lambda wildcards, attempt: 120 * attempt,
    conda:
        "../envs/ocr.yaml"
    script:
        "../workflow_scripts/extract_ocr.py"


rule extract_captions:
    input:
        videos=after_shard_sheet("results/corpus/usable/{shard}.tsv"),
        model=local_model(config["models"]["captioner"]),
    output:
        rows="results/extract/caption/{shard}.jsonl",
        skipped="results/extract/caption/{shard}.skipped.tsv",
    log:
        "logs/extract_captions/{shard}.log",
    benchmark:
        "benchmarks/extract_captions/{shard}.tsv"
    params:
        model=model_path(config["models"]["captioner"]),
        settings=record(from_block(CaptionSettings, config["extract"])),
        video=record(configured_video(config["video"], 1)),
        engine=engine("extract_captions", config["models"]["captioner"]),
        code=code_version("extract_captions"),
    threads: 2
    resources:
        gpu=engine("extract_captions", config["models"]["captioner"])["tensor_parallel_size"],
        mem_mb=lambda wildcards, attempt: 64000 * attempt,
        runtime=lambda wildcards, attempt: 240 * attempt,
    conda:
        "../envs/vlm.yaml"
    script:
        "../workflow_scripts/extract_captions.py"


rule extract_records:
    input:
        videos=after_shard_sheet("results/corpus/usable/{shard}.tsv"),
        asr=after_shard_sheet("results/extract/asr/{shard}.jsonl"),
        ocr=after_shard_sheet("results/extract/ocr/{shard}.jsonl"),
        caption=after_shard_sheet("results/extract/caption/{shard}.jsonl"),
    output:
        "results/extract/records/{shard}.jsonl",
    log:
        "logs/extract_records/{shard}.log",
    params:
        code=code_version("extract_records"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/extract_records.py"
