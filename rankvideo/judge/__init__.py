"""Teacher judging and hard-negative mining (paper §4.2, rules/judge.smk): margins, the partition, training sets, the funnel."""
