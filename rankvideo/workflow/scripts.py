"""Glue between Snakemake and the package: per-rule logs and code fingerprints.

Snakemake's code trigger sees only a script's own mtime, not the library it imports; each rule
passes `code_version(<its script>)` as a param: a hash of every `rankvideo` module the script
reaches through its imports, so a library change reruns exactly the rules whose code it touches.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import logging
import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from rankvideo.cli import EXIT_INPUT_ERROR, INPUT_ERRORS

PACKAGE_DIR = Path(__file__).resolve().parent.parent
SCRIPTS_DIR = PACKAGE_DIR.parent / "workflow_scripts"


@cache
def _imported_names(path: Path, in_functions: bool = True) -> frozenset[str]:
    """Absolute module names a source file imports; with in_functions=False, only those run on import.
    Cached: every rule's fingerprint walks the shared modules again at each DAG parse."""
    names: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"), str(path))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif in_functions or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def _package_file(name: str) -> Path | None:
    """The source file of a `rankvideo` module or package; None for names that are not modules."""
    relative = Path(*name.split(".")[1:])
    for candidate in (PACKAGE_DIR / relative.with_suffix(".py"), PACKAGE_DIR / relative / "__init__.py"):
        if relative.parts and candidate.is_file():
            return candidate
    return PACKAGE_DIR / "__init__.py" if not relative.parts else None


@cache
def script_closure(script: str, lazy: bool = True) -> tuple[frozenset[Path], frozenset[str]]:
    """The files a workflow script reaches through `rankvideo` imports, and the third-party top-level
    modules those files import anywhere. lazy=True also follows imports inside package functions (a safe
    superset for code fingerprints); lazy=False follows those the script's own code and module imports run
    (what the rule's environment must provide)."""
    script_path = SCRIPTS_DIR / f"{script}.py"
    if not script_path.is_file():
        raise FileNotFoundError(f"code_version: no workflow script {script_path}")
    files: set[Path] = set()
    external: set[str] = set()
    todo = [script_path]
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        for name in _imported_names(path):
            top = name.split(".")[0]
            if top not in ("rankvideo", "__future__") and top not in sys.stdlib_module_names:
                external.add(top)
        for name in _imported_names(path, in_functions=lazy or path == script_path):
            if name.split(".")[0] == "rankvideo" and (found := _package_file(name)) is not None:
                todo.append(found)
    return frozenset(files), frozenset(external)


def code_version(script: str) -> str:
    """Short hash of a workflow script (name without .py) and every package module it reaches."""
    files, _ = script_closure(script)
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(PACKAGE_DIR.parent).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def run_script(main: Callable[[Any], None], snakemake: Any) -> None:
    """Run a workflow script with stderr and logging sent to the rule's log file; a bad input ends it with one line
    `error: <file>:<line>: <reason>` and exit status 2, any other failure with its traceback in the log."""
    log_path = Path(str(snakemake.log[0]))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stderr(log):
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.getLogger("rankvideo").info("rule %s, HF_HUB_OFFLINE=%s", snakemake.rule, os.environ.get("HF_HUB_OFFLINE", "unset"))
        try:
            main(snakemake)
        except INPUT_ERRORS as err:  # a bad input: one line in the log and on the terminal, no traceback
            logging.getLogger("rankvideo").error("rule %s: %s", snakemake.rule, err)
            print(f"error: {err}", file=sys.__stderr__)
            raise SystemExit(EXIT_INPUT_ERROR) from None
        except Exception:
            logging.getLogger("rankvideo").exception("rule %s failed", snakemake.rule)
            raise
        finally:
            root.removeHandler(handler)
            sys.stderr.flush()
