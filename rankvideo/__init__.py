"""RANKVIDEO: a video-native reasoning reranker for text-to-video retrieval, and its training lineage."""

__version__ = "0.1.0"
