"""Training rows (JSONL), read as upstream's trainers read them and handed on in one shape.

Stage 1 (upstream train_perception.py): the target caption is `caption`, else `evidence.caption`.
Stage 2 (upstream train_reranker.py): the label is `true_label`, else `teacher_label`; the teacher's
probability is `teacher_p_yes`, else `meta.teacher_p_yes` (absent: no teacher term for that row).
Both stages read the video from `videos[0]`. A row missing what its stage needs is an error naming
the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rankvideo.files.errors import FormatError, iter_json_lines, require_entries


def _rows(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for lineno, row in iter_json_lines(path):
        if not isinstance(row, dict):
            raise FormatError(path, lineno, "expected a JSON object per line")
        rows.append((lineno, row))
    require_entries(path, rows, "training rows")
    return rows


def _video(path: str | Path, lineno: int, row: Mapping[str, Any]) -> str:
    videos = row.get("videos")
    if not isinstance(videos, list) or not videos or not isinstance(videos[0], str):
        raise FormatError(path, lineno, "expected 'videos': [path, ...] with the video's path first")
    return videos[0]


def _first(row: Mapping[str, Any], *keys: str) -> Any:
    """The value at the first dotted key present in `row` ('evidence.caption' reads row['evidence']['caption'])."""
    for key in keys:
        node: Any = row
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            return node
    return None


def read_stage1_rows(path: str | Path) -> list[dict[str, Any]]:
    """Caption rows: each with `videos` (path first) and `caption`."""
    out = []
    for lineno, row in _rows(path):
        caption = _first(row, "caption", "evidence.caption")
        if not isinstance(caption, str) or not caption.strip():
            raise FormatError(path, lineno, "no caption: expected a non-empty 'caption' or 'evidence.caption'")
        out.append({**row, "videos": [_video(path, lineno, row)], "caption": caption})
    return out


def read_stage2_rows(path: str | Path) -> list[dict[str, Any]]:
    """Ranking rows: each with `query_id`, `query`, `doc_id`, `videos`, `true_label` (0/1) and `teacher_p_yes` (or None)."""
    out = []
    for lineno, row in _rows(path):
        missing = [k for k in ("query_id", "query", "doc_id") if not isinstance(row.get(k), str)]
        if missing:
            raise FormatError(path, lineno, f"missing or non-string {missing}")
        label = _first(row, "true_label", "teacher_label")
        if label not in (0, 1):  # True and False compare equal to 1 and 0
            raise FormatError(path, lineno, f"expected 'true_label' (or 'teacher_label') 0 or 1, got {label!r}")
        teacher = _first(row, "teacher_p_yes", "meta.teacher_p_yes")
        if teacher is not None and (not isinstance(teacher, int | float) or not 0.0 <= teacher <= 1.0):
            raise FormatError(path, lineno, f"teacher_p_yes must be a probability in [0, 1], got {teacher!r}")
        out.append({**row, "videos": [_video(path, lineno, row)], "true_label": int(label), "teacher_p_yes": teacher})
    return out
