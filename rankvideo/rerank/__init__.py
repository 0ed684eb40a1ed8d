"""Reranking (paper §5, rules/rerank.smk): VLMReranker over frames, TextReranker over caption + ASR, one `score_video` protocol; `python -m rankvideo.rerank`."""
