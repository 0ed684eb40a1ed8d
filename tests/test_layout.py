"""The house rules: one subpackage per rule file, imports only run down the floors, demo code stays in demo,
and every key of the configs is read by some code."""

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "rankvideo"
# Floors from the bottom: the files every step reads and writes, command-line plumbing, the shared models, then the
# paper's steps in lineage order, the workflow glue, and the demo on top. An import may only reach its own floor or below.
FLOORS = ("files", "cli", "models", "corpus", "extract", "synthesize", "retrieve", "judge", "train", "rerank", "evaluate",
          "analysis", "workflow", "demo")


def floor_of(module: str) -> str:
    """The floor of a dotted rankvideo module name (rankvideo.judge.partition -> judge)."""
    return module.split(".")[1]


def imports(path: Path) -> set[str]:
    """The rankvideo modules a source file imports anywhere in it (inside functions too: a lazy import is an arrow)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rankvideo."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rankvideo.")}
    return found


def package_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py"]  # the root re-exports VLMReranker lazily


def module_floor(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def test_every_module_lies_on_a_known_floor():
    assert sorted({module_floor(p) for p in package_modules()}) == sorted(FLOORS)


def test_imports_only_run_down_the_floors():
    upward = sorted(f"{p.relative_to(REPO)} imports {m}" for p in package_modules() for m in imports(p)
                    if FLOORS.index(floor_of(m)) > FLOORS.index(module_floor(p)))
    assert upward == []


def test_nothing_outside_demo_imports_demo():
    offenders = sorted(str(p.relative_to(REPO)) for p in package_modules() if module_floor(p) != "demo"
                       and any(floor_of(m) == "demo" for m in imports(p)))
    assert offenders == []


def test_every_rule_file_has_its_subpackage():
    """rules/common.smk holds helpers and no rule (Snakemake's lint asks rules and functions apart); rules/workflow.smk
    holds the workflow's own rule, and rankvideo/workflow both."""
    rule_files = sorted(p.stem for p in (REPO / "rules").glob("*.smk") if re.search(r"^(rule|checkpoint) ", p.read_text(), re.MULTILINE))
    missing = [name for name in rule_files if not (PACKAGE / name / "__init__.py").is_file()]
    assert rule_files and missing == []


def leaf_keys(node: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a config mapping; the names under the free-form maps (rerankers, other_first_stages) are
    user-chosen, and those under the per-job maps (inference.max_model_len, inference.gpus) are rule names the code looks
    up by the job (the schema requires each), so their entries' keys are walked under `*`."""
    if not isinstance(node, dict):
        return [path]
    keys = [path] if path else []
    for key, value in node.items():
        name = "*" if path and path[-1] in ("rerankers", "other_first_stages", "max_model_len", "gpus") else str(key)
        keys += leaf_keys(value, (*path, name))
    return keys


def code_text() -> str:
    sources = [*PACKAGE.rglob("*.py"), *(REPO / "rules").glob("*.smk"), *(REPO / "workflow_scripts").glob("*.py"), REPO / "Snakefile"]
    return "\n".join(p.read_text(encoding="utf-8") for p in sources)


def unread_keys(config: dict, text: str) -> list[str]:
    """Key paths of `config` whose key no code reads: subscripted (`["key"]`, `.get("key"`) or read as a settings
    field (`.key`). A name-level check: it cannot tell which block a read belongs to, only that the name is read."""
    return sorted(".".join(path) for path in leaf_keys(config) if path[-1] != "*"
                  and not re.search(rf"""\[\s*["']{path[-1]}["']\s*\]|\.get\(\s*["']{path[-1]}["']|\.{path[-1]}\b""", text))


@pytest.mark.parametrize("config", ["config.yaml", "config/demo.yaml"])
def test_every_config_key_is_read_by_some_code(config):
    """A key nothing reads is a setting a user changes for nothing: drop it or read it."""
    assert unread_keys(yaml.safe_load((REPO / config).read_text()), code_text()) == []


def test_a_key_nothing_reads_is_reported():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["train"]["stage2"]["warmup_steps_nobody_reads"] = 10
    config["rerankers"]["RV-2"]["temperature_nobody_reads"] = 0.5
    assert unread_keys(config, code_text()) == ["rerankers.*.temperature_nobody_reads", "train.stage2.warmup_steps_nobody_reads"]
