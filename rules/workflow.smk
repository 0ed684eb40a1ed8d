# Offline compute nodes: `snakemake prefetch` on a login node fills the model caches; every job runs
# with HF_HUB_OFFLINE=1 (set in rules/common.smk), so a missing checkpoint fails fast instead of downloading.


rule prefetch:
    output:
        "results/prefetch.json",
    log:
        "logs/prefetch/prefetch.log",
    params:
        code=code_version("prefetch"),
    conda:
        "../envs/prefetch.yaml"
    script:
        "../workflow_scripts/prefetch.py"
