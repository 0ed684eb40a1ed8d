"""The Snakemake side (rules/workflow.smk): config loading and validation, code fingerprints, rule-script logging, prefetch."""
