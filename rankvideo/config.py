"""Load and validate the workflow configuration: a wrong key or type fails at once, naming the key."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """An invalid configuration; the message names the key and what was expected."""


def schema() -> dict[str, Any]:
    text = resources.files("rankvideo").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _key(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _allowed_keys(node: Mapping[str, Any], root: Mapping[str, Any]) -> list[str]:
    """Keys a schema node accepts, including those of a `$ref`'d definition it extends."""
    keys = set(node.get("properties", {}))
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        keys |= set(root["$defs"][ref.removeprefix("#/$defs/")].get("properties", {}))
    return sorted(keys)


def _describe(error: jsonschema.ValidationError, root: Mapping[str, Any]) -> str:
    """One line per error: where, what was expected, what was found."""
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        allowed = _allowed_keys(error.schema, root)
        return f"{_key(error)}: {error.message}; allowed keys here: {allowed}"
    if error.validator == "required":
        return f"{_key(error)}: {error.message}"
    if error.validator == "oneOf":
        return f"{_key(error)}: {error.instance!r} is not valid; expected one of {[s.get('type', s.get('$ref')) for s in error.validator_value]}"
    expected = {"type": "type", "enum": "one of", "minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
                "minLength": "length >=", "minItems": "at least items", "pattern": "matching"}.get(str(error.validator), str(error.validator))
    return f"{_key(error)}: expected {expected} {error.validator_value!r}, got {error.instance!r}"


def _cross_checks(config: Mapping[str, Any]) -> list[str]:
    problems = []
    video = config["video"]
    if video["min_pixels"] > video["max_pixels"]:
        problems.append(f"video.min_pixels: {video['min_pixels']} exceeds video.max_pixels {video['max_pixels']}")
    if config["rerank"]["depth"] > config["first_stage"]["depth"]:
        problems.append(f"rerank.depth: {config['rerank']['depth']} exceeds first_stage.depth {config['first_stage']['depth']}")
    first = config["first_stage"]
    if first["backend"] == "precomputed" and not first["run"]:
        problems.append("first_stage.run: the 'precomputed' backend needs the path of a first-stage run (TREC or {qid: {vid: score}} JSON)")
    evaluation, rerankers = config["evaluation"], sorted(config["rerankers"])
    for key, names in (("analysis_reranker", [evaluation["analysis_reranker"]]), ("ecdf_rerankers", evaluation["ecdf_rerankers"])):
        unknown = [n for n in names if n not in config["rerankers"]]
        if unknown:
            problems.append(f"evaluation.{key}: {unknown} not among the configured rerankers {rerankers}")
    return problems


def validate_config(config: Mapping[str, Any], source: str = "config") -> None:
    """Raise ConfigError listing every problem, each naming its key."""
    root = schema()
    errors = sorted(jsonschema.Draft202012Validator(root).iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(e, root) for e in errors] or _cross_checks(config)
    if problems:
        raise ConfigError(f"invalid configuration ({source}):\n  " + "\n  ".join(problems))


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive overlay, as Snakemake merges --configfile files."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        out[key] = merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) else copy.deepcopy(value)
    return out


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Read and merge config files in order (config.yaml, then overlays) and validate the result."""
    config: dict[str, Any] = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            config = merge(config, yaml.safe_load(handle) or {})
    validate_config(config, " + ".join(map(str, paths)))
    return config
