"""Load and validate the workflow configuration: a wrong key or type fails at once, naming the key."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from rankvideo.files.errors import ConfigError
from rankvideo.train.settings import Stage1Settings, Stage2Settings, loss_label

MODELS_DIR = "results/models"  # the folder every model this workflow builds lies in (rules/train.smk, the demo's models)
MAIN_STAGE2 = "rv2"  # results/models/rv2: Stage 2 with train.stage2.losses, the reranker RV-2


def built_here(model: str) -> bool:
    """A model this workflow builds (a rule's output under MODELS_DIR), not a hub id or a folder of the user's."""
    return model.startswith(f"{MODELS_DIR}/")


def _python_int(_checker: Any, instance: Any) -> bool:
    """JSON Schema's integer also admits 5.0, which passes validation and then fails a job at range() or a slice: an
    integer key takes a Python int (a bool is not one)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


VALIDATOR = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                         type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _python_int))


@functools.cache
def schema() -> dict[str, Any]:
    """The config schema, parsed once: every coercion and validation reads it (read-only)."""
    text = resources.files("rankvideo").joinpath("workflow/config.schema.yaml").read_text()
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
    expected = {"enum": "one of", "minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
                "minLength": "length >=", "minItems": "at least items", "pattern": "matching"}.get(str(error.validator), str(error.validator))
    return f"{_key(error)}: expected {expected} {error.validator_value!r}, got {error.instance!r}"


def _cross_checks(config: Mapping[str, Any]) -> list[str]:
    problems = []
    video = config["video"]
    if video["min_pixels"] > video["max_pixels"]:
        problems.append(f"video.min_pixels: {video['min_pixels']} exceeds video.max_pixels {video['max_pixels']}")
    if config["rerank"]["depth"] > config["first_stage"]["depth"]:
        problems.append(f"rerank.depth: {config['rerank']['depth']} exceeds first_stage.depth {config['first_stage']['depth']}")
    stages = {"first_stage": config["first_stage"], **{f"other_first_stages.{n}": s for n, s in config["other_first_stages"].items()}}
    for key, stage in stages.items():
        if stage["backend"] == "precomputed" and not stage["run"]:
            problems.append(f"{key}.run: the 'precomputed' backend needs the path of a first-stage run (TREC or {{qid: {{vid: score}}}} JSON)")
        if key != "first_stage" and stage["depth"] < config["rerank"]["depth"]:
            problems.append(f"{key}.depth: {stage['depth']} is below rerank.depth {config['rerank']['depth']}")
    if config["first_stage"]["name"] in config["other_first_stages"]:
        problems.append(f"other_first_stages.{config['first_stage']['name']}: the name of first_stage; give it another")
    evaluation, rerankers = config["evaluation"], sorted(config["rerankers"])
    for key, names in (("analysis_reranker", [evaluation["analysis_reranker"]]), ("ecdf_rerankers", evaluation["ecdf_rerankers"]),
                       ("latency_rerankers", evaluation["latency_rerankers"])):
        unknown = [n for n in names if n not in config["rerankers"]]
        if unknown:
            problems.append(f"evaluation.{key}: {unknown} not among the configured rerankers {rerankers}")
    if evaluation["loss_ablation"] and stage2_reranker(config) is None:
        problems.append(f"evaluation.loss_ablation: no reranker scores {MODELS_DIR}/{MAIN_STAGE2} (the Stage 2 model) to name "
                        f"the ablation rows after; add one to rerankers or set loss_ablation: []")
    return problems


def _parts(node: Mapping[str, Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A schema node and every schema it composes ($ref, oneOf/anyOf/allOf, then/else), flattened."""
    parts = [node]
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        parts += _parts(root["$defs"][ref.removeprefix("#/$defs/")], root)
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(key, []):
            parts += _parts(sub, root)
    for key in ("then", "else"):
        if key in node:
            parts += _parts(node[key], root)
    return parts


def _child(parts: Sequence[Mapping[str, Any]], key: str) -> dict[str, Any]:
    """The schema of an object's member `key`: every composed part's property or additionalProperties schema."""
    found = [p["properties"][key] for p in parts if key in p.get("properties", {})]
    found += [p["additionalProperties"] for p in parts if isinstance(p.get("additionalProperties"), Mapping)
              and key not in p.get("properties", {})]
    return {"anyOf": found}


def _from_string(text: str, types: set[str]) -> Any:
    """A --config string read as the type the schema wants; unreadable text stays a string for validation to name."""
    if types & {"integer", "number"}:
        for kind in (int, float) if "number" in types else (int,):
            try:
                return kind(text)
            except ValueError:
                pass
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(parsed, str) else parsed


def coerce_types(value: Any, node: Mapping[str, Any] | None = None) -> Any:
    """`value` with strings converted where the schema asks for a number, boolean, null, list or object.

    Snakemake hands nested `--config` values over as strings (`train={"stage2":{"lambda_teacher":4.0}}` gives
    '4.0'); the YAML config files keep their own types, so only such strings change.
    """
    root = schema()
    parts = _parts(node if node is not None else root, root)
    if isinstance(value, str):
        declared = {t for p in parts for t in ([p["type"]] if isinstance(p.get("type"), str) else p.get("type", []))}
        constants = {c for p in parts for c in ([p["const"]] if "const" in p else []) + list(p.get("enum", []))}
        if declared and "string" not in declared and value not in constants:
            value = _from_string(value, declared)
    if isinstance(value, Mapping):
        return {k: coerce_types(v, _child(parts, k)) for k, v in value.items()}
    if isinstance(value, list):
        items = {"anyOf": [p["items"] for p in parts if "items" in p]}
        return [coerce_types(v, items) for v in value]
    return value


def validate_config(config: Mapping[str, Any], source: str = "config") -> None:
    """Raise ConfigError listing every problem, each naming its key."""
    root = schema()
    errors = sorted(VALIDATOR(root).iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
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
        if not Path(path).is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            overlay = yaml.safe_load(Path(path).read_bytes()) or {}  # PyYAML decodes UTF-8 (BOM or not) and UTF-16 itself
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            raise ConfigError(f"{path}:{mark.line + 1 if mark else '?'}: invalid YAML: {getattr(err, 'problem', err)}") from None
        if not isinstance(overlay, Mapping):
            raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
        config = merge(config, overlay)
    config = coerce_types(config)
    validate_config(config, " + ".join(map(str, paths)))
    return config


def stage2_variants(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """The Stage 2 models to train, by folder name under results/models: rv2 with train.stage2.losses, and
    rv2-<label> for each other loss subset of evaluation.loss_ablation (paper Table 7)."""
    main = list(config["train"]["stage2"]["losses"])
    variants = {MAIN_STAGE2: main}
    for terms in config["evaluation"]["loss_ablation"]:
        if set(terms) != set(main):
            variants[f"{MAIN_STAGE2}-{loss_label(terms)}"] = list(terms)
    return variants


def stage1_settings(config: Mapping[str, Any]) -> Stage1Settings:
    """The Stage 1 job's settings: train.stage1 and the train.* keys both stages share."""
    return Stage1Settings.from_config(config["train"])


def stage2_settings(config: Mapping[str, Any], terms: Sequence[str]) -> Stage2Settings:
    """A Stage 2 job's settings: train.stage2 with the loss settings of its terms only, and the shared keys."""
    return Stage2Settings.from_config(config["train"], terms)


def stage2_reranker(config: Mapping[str, Any]) -> str | None:
    """The configured reranker that scores the main Stage 2 model (RV-2 in config.yaml)."""
    return next((n for n, r in config["rerankers"].items() if r["model"] == f"{MODELS_DIR}/{MAIN_STAGE2}"), None)


def ablation_rerankers(config: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """A reranker <RV-2>-<label> per ablation variant, scored in the paper format that Stage 2 trains."""
    return {f"{stage2_reranker(config)}-{loss_label(terms)}": {"model": f"{MODELS_DIR}/{name}", "prompt_format": "paper"}
            for name, terms in stage2_variants(config).items() if name != MAIN_STAGE2}


def loss_ablation_rows(config: Mapping[str, Any]) -> dict[str, str]:
    """Paper Table 7's rows in config order: each loss subset's label and the reranker trained with it."""
    main, name = set(config["train"]["stage2"]["losses"]), stage2_reranker(config)
    return {loss_label(t): name if set(t) == main else f"{name}-{loss_label(t)}" for t in config["evaluation"]["loss_ablation"]}
