"""Upstream's rerank output: one JSON file per video, `<video_id>_reranking_<model>.json`, holding
`{video_id: {query_id: {logprob_yes, logprob_no, logit_delta, p_yes}}}`; upstream's evaluate.py reads a
folder of them (`--pred-dir`). `python -m rankvideo.rerank --output-format upstream` writes them and
`python -m rankvideo.evaluate` reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import FormatError, read_json_object
from rankvideo.files.runs import Run, finite_score

RERANK_RECORD = "settings.json"  # what `python -m rankvideo.rerank` writes beside its scores: marks its output folder
UPSTREAM_KEYS = ("logprob_yes", "logprob_no", "logit_delta", "p_yes")
SCORE_FIELDS = ("logit_delta", "p_yes")
# Upstream evaluate.py's order: the chosen field, else logit_delta, else the model card's name for it.
FALLBACK_FIELDS = ("logit_delta", "logit_delta_yes_minus_no")
FILE_NAME = re.compile(r"^(?P<video>.+)_reranking_(?P<model>.+)\.json$")


def upstream_model_name(model: str) -> str:
    """The model part of upstream's file names: the last path component of --model ('hltcoe/RankVideo' -> 'RankVideo')."""
    return Path(model).name


def prediction_file(out_dir: str | Path, video_id: str, model_name: str) -> Path:
    return Path(out_dir) / f"{video_id}_reranking_{model_name}.json"


def write_prediction(out_dir: str | Path, video_id: str, model_name: str, scores: Mapping[str, Mapping[str, Any]]) -> Path:
    """One video's scored queries, each with upstream's four keys."""
    path = prediction_file(out_dir, video_id, model_name)
    with atomic_write(path) as out:
        json.dump({video_id: {qid: {k: fields[k] for k in UPSTREAM_KEYS} for qid, fields in scores.items()}}, out, indent=2)
    return path


def _field(path: Path, fields: Mapping[str, Any], score_field: str) -> float | None:
    for name in (score_field, *FALLBACK_FIELDS):
        if name in fields:
            return finite_score(path, None, fields[name])
    return None


def read_predictions(paths: Iterable[str | Path], score_field: str = "logit_delta") -> Run:
    """Merge per-video files into a run {query_id: {video_id: score}}; a pair in two files is an error."""
    run: Run = {}
    for path in map(Path, paths):
        data = read_json_object(path, "{video_id: {query_id: {logit_delta, p_yes, ...}}}")
        for vid, queries in data.items():
            if not isinstance(queries, dict) or not all(isinstance(f, dict) for f in queries.values()):
                raise FormatError(path, None, f"video {vid!r}: expected an object {{query_id: {{logit_delta, p_yes, ...}}}}")
            for qid, fields in queries.items():
                score = _field(path, fields, score_field)
                if score is None:
                    raise FormatError(path, None, f"({qid}, {vid}) has none of the score keys {[score_field, *FALLBACK_FIELDS]}")
                scores = run.setdefault(qid, {})
                if vid in scores:
                    raise FormatError(path, None, f"({qid}, {vid}) is scored in another file of this folder as well")
                scores[vid] = score
    return run


def prediction_files(folder: str | Path) -> dict[str, list[Path]]:
    """Upstream's per-video files in a folder, grouped by the model named in their file names."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(Path(folder).glob("*_reranking_*.json")):
        match = FILE_NAME.match(path.name)
        if match:
            groups.setdefault(match["model"], []).append(path)
    return groups
