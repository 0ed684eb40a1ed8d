"""RANKVIDEO: a video-native reasoning reranker for text-to-video retrieval, and its training lineage."""

__version__ = "0.1.0"
__all__ = ["VLMReranker"]


def __getattr__(name: str):
    # Lazy: `import rankvideo` stays light for the workflow's parse step; torch loads on first use.
    if name == "VLMReranker":
        from rankvideo.rerank.reranker import VLMReranker

        return VLMReranker
    raise AttributeError(f"module 'rankvideo' has no attribute {name!r}")
