"""First-stage retrieval (rules/retrieve.smk): dense retrieval over video text, or a precomputed run read as it is."""
