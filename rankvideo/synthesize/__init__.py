"""Query synthesis (paper §3, rules/synthesize.smk): five query variants per video, deduplicated, then the first-stage filters."""
