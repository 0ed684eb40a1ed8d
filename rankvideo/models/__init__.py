"""The models every step shares: prompts, the transformers and vLLM backends, text LLMs, the model card that says how to score a model."""
