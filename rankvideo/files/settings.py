"""Typed settings as plain data, the contract between a rule's params and its script.

Each step's settings (rankvideo/<step>/settings.py) are frozen dataclasses, one field per config key, with no defaults
of their own. A rule passes them as `record(settings)`: Snakemake compares params by repr and skips any other object,
so a changed setting reruns its jobs only when it travels as a dict. The script rebuilds them with `from_record`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, fields, is_dataclass
from typing import Any


def record(settings: Any) -> dict[str, Any]:
    """Settings as plain data for a rule's params."""
    return asdict(settings)


def from_record(cls: type, data: Mapping[str, Any]) -> Any:
    """The settings `record` wrote, rebuilt as `cls`, nested settings (and None for a part that is off) included."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        kinds = [k for k in typing.get_args(hints[f.name]) if k is not type(None)] if isinstance(hints[f.name], types.UnionType) else [hints[f.name]]
        nested = next((k for k in kinds if is_dataclass(k)), None)
        value = data[f.name]
        values[f.name] = from_record(nested, value) if nested is not None and value is not None else value
    return cls(**values)


def pick(cls: type, block: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a config block that are fields of the dataclass `cls`."""
    return {f.name: block[f.name] for f in fields(cls) if f.name in block}


def from_block(cls: type, block: Mapping[str, Any]) -> Any:
    """`cls` built from the keys of a validated config block that name its fields (every field is required)."""
    return cls(**pick(cls, block))
