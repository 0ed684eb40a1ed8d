# RANKVIDEO lineage: videos -> corpus checks -> first stage -> evaluation (more stages as they land).
# Cluster: snakemake --profile slurm results/eval/ndcg.json   Demo: make demo

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/extract.smk"
include: "rules/synthesize.smk"
include: "rules/retrieve.smk"
include: "rules/judge.smk"
include: "rules/train.smk"
include: "rules/rerank.smk"
include: "rules/evaluate.smk"


rule all:
    input:
        all_targets(),
