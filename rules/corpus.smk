# The corpus: the demo videos (embedded face only), and which videos every later stage can use.


rule demo_corpus:
    output:
        sheet="results/demo/corpus/videos.tsv",
        videos=directory("results/demo/corpus/videos"),
        queries_train="results/demo/corpus/queries_train.tsv",
        queries_test="results/demo/corpus/queries_test.tsv",
        qrels="results/demo/corpus/qrels.txt",
        query_topics="results/demo/corpus/query_topics.tsv",
        video_truth="results/demo/corpus/video_truth.tsv",
    log:
        "logs/demo_corpus/demo_corpus.log",
    params:
        seed=config["demo"]["seed"],
        code=code_version("demo_corpus"),
    conda:
        "../envs/corpus.yaml"
    script:
        "../workflow_scripts/demo_corpus.py"


checkpoint shard_sheet:
    input:
        sheet=DATASET["video_sheet"],
    output:
        directory("results/corpus/shards"),
    log:
        "logs/shard_sheet/shard_sheet.log",
    params:
        n_shards=len(SHARDS),
        code=code_version("shard_sheet"),
    conda:
        "../envs/corpus.yaml"
    script:
        "../workflow_scripts/shard_sheet.py"


rule probe_shard:
    input:
        sheet=shard_sheet,
    output:
        probe="results/corpus/probe/{shard}.tsv",
        usable="results/corpus/usable/{shard}.tsv",
    log:
        "logs/probe_shard/{shard}.log",
    params:
        fps=config["video"]["fps"],
        max_frames=max(config["video"]["max_frames_stage1"], config["video"]["max_frames_stage2"]),
        code=code_version("probe_shard"),
    resources:
        mem_mb=4000,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        "../envs/corpus.yaml"
    script:
        "../workflow_scripts/probe_shard.py"


rule usable_videos:
    input:
        sheet=DATASET["video_sheet"],
        probes=expand("results/corpus/probe/{shard}.tsv", shard=SHARDS),
    output:
        videos="results/corpus/videos.tsv",
        skipped="results/corpus/skipped.tsv",
    log:
        "logs/usable_videos/usable_videos.log",
    params:
        code=code_version("usable_videos"),
    conda:
        "../envs/corpus.yaml"
    script:
        "../workflow_scripts/usable_videos.py"
