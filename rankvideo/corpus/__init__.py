"""Paper §5's corpus, checked (rules/corpus.smk): every video probed as the model will sample it, shard sheets for per-video jobs."""
