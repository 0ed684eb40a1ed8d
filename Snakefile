# RANKVIDEO lineage: videos -> extraction -> query synthesis -> first stage -> teacher judging -> training -> rerank -> evaluation.
# Cluster: snakemake --profile slurm results/eval/ndcg.json   Demo: make demo

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/extract.smk"
include: "rules/synthesize.smk"
include: "rules/retrieve.smk"
include: "rules/judge.smk"
include: "rules/train.smk"
include: "rules/rerank.smk"
include: "rules/evaluate.smk"
include: "rules/analysis.smk"
include: "rules/workflow.smk"


# Cheap merges and bookkeeping run on the submitting host, not as cluster jobs.
localrules:
    all,
    prefetch,
    shard_sheet,
    usable_videos,
    extract_records,
    synthetic_queries,
    filter_queries,
    partition,
    training_sets,
    funnel,
    skip_manifest,
    rerank_candidates,
    merge_rerank,
    evaluate,
    paper_analysis,
    figure4,


rule all:
    input:
        all_targets(),
