"""Glue between Snakemake and the package: per-rule logs and code fingerprints.

Snakemake's code trigger sees only a script's own mtime, not the library it imports; each rule
passes `code_version(...)` of the modules it depends on as a param, so a library change reruns
exactly the rules that use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def code_version(*modules: str) -> str:
    """Short hash of package source files (paths relative to the package, e.g. 'evaluation.py')."""
    digest = hashlib.sha256()
    for module in sorted(modules):
        path = PACKAGE_DIR / module
        if not path.is_file():
            raise FileNotFoundError(f"code_version: no module {path}")
        digest.update(module.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def run_script(main: Callable[[Any], None], snakemake: Any) -> None:
    """Run a workflow script with stderr and logging sent to the rule's log file."""
    log_path = Path(str(snakemake.log[0]))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stderr(log):
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            main(snakemake)
        except Exception:
            logging.getLogger("rankvideo").exception("rule %s failed", snakemake.rule)
            raise
        finally:
            root.removeHandler(handler)
            sys.stderr.flush()
