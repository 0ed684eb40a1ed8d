"""Scoring backends behind VLMReranker: transformers (CPU/GPU, shared video encoding) and vLLM (cluster)."""
