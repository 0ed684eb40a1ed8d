"""The one error type of the file contracts, and the readers they share.

Every reader accepts what editors and upstream's tools write: a UTF-8 byte-order mark (stripped),
CRLF line ends, and gzip-compressed files (`.gz`, as upstream reads its first-stage runs).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path


class FormatError(ValueError):
    """A malformed input file: carries the path and 1-based line so the message points at the fix."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(ValueError):
    """An invalid configuration; the message names the key and what was expected."""


def read_text(path: str | Path) -> str:
    """The whole file as strict UTF-8, gunzipped when it ends in `.gz`, without a byte-order mark."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, None, "file not found")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise FormatError(path, None, f"not a readable gzip file ({err}); recompress it or drop the .gz suffix") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise FormatError(path, line, f"not valid UTF-8 ({err.reason} at byte {err.start}); re-save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def read_json(path: str | Path) -> object:
    """A JSON file's value; a syntax error names its line."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise FormatError(path, err.lineno, f"invalid JSON: {err.msg}") from None


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, object]]:
    """Yield (line number, value) of each non-blank line of a JSONL file; a syntax error names its line."""
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as err:
            raise FormatError(path, lineno, f"invalid JSON line: {err.msg}") from None


def read_json_object(path: str | Path, shape: str) -> dict:
    """A JSON file whose top level must be a non-empty object; `shape` describes it in the error message."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise FormatError(path, None, f"expected a JSON object {shape}")
    require_entries(path, data, f"entries; expected {shape}")
    return data


def iter_fields(path: str | Path, n_fields: int | None = None, sep: str = "\t", min_fields: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) of each non-blank line, checking the field count when given."""
    shown = "tab-separated" if sep == "\t" else "whitespace-separated"
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(sep) if sep == "\t" else line.split()
        if n_fields is not None and len(fields) != n_fields:
            raise FormatError(path, lineno, f"expected {n_fields} {shown} fields, found {len(fields)}: {line[:80]!r}")
        if min_fields is not None and len(fields) < min_fields:
            raise FormatError(path, lineno, f"expected at least {min_fields} {shown} fields, found {len(fields)}: {line[:80]!r}")
        yield lineno, fields


def require_entries(path: str | Path, entries: object, what: str) -> None:
    """An empty input is an error: it would pass as "nothing to do" and turn every metric into a silent 0."""
    if not entries:
        raise FormatError(path, None, f"empty: the file holds no {what}")


def check_known(path: str | Path, line: int | None, kind: str, value: str, known: set[str] | None) -> None:
    if known is not None and value not in known:
        raise FormatError(path, line, f"unknown {kind} {value!r} (not in the {kind} list this file is checked against)")
