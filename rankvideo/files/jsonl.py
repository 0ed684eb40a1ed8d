"""JSON Lines files: one record per line, written atomically, read strictly (file and line named on error)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rankvideo.files.atomic import atomic_write
from rankvideo.files.errors import iter_json_lines


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with atomic_write(path) as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [row for _, row in iter_json_lines(path)]
