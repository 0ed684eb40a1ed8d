"""The Snakemake side (rules/workflow.smk): config loading and validation, code fingerprints, rule-script logging, prefetch,
the memory plans of the GPU jobs and the check that every rule's env resolves."""
