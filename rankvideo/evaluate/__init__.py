"""Evaluation (rules/evaluate.smk): R@k and nDCG@k of the first stage and of each reranker's cascade; `python -m rankvideo.evaluate`."""
