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


# The paper models' tiny twins (rankvideo/demo/twins.py): config/smoke.yaml maps each model id of config.yaml to one.
rule twin:
    wildcard_constraints:
        twin="qwen3vl|qwen3|qwen2|qwen3-omni",
    output:
        directory("results/models/twins/{twin}"),
    log:
        "logs/twin/{twin}.log",
    params:
        seed=config["demo"]["seed"],
        code=code_version("twin"),
    threads: 2
    conda:
        "../envs/vlm.yaml"
    script:
        "../workflow_scripts/twin.py"
