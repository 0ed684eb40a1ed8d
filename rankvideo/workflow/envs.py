"""`python -m rankvideo.workflow.envs`: does every rule's conda env install? Resolves each env's pip section together
with the project, against PyPI alone, and names the conflict of an env that does not.

Conda cannot build the envs on a CI machine, and a pin that cannot resolve (vllm beside a transformers it excludes)
otherwise first fails on the cluster, when Snakemake creates the env. The pip section is where those conflicts live, and
conda installs it as one `pip install -r`, so that is what is resolved here (`pip install --dry-run --report`). The
conda packages (python, ffmpeg, tesseract, espeak-ng) are listed, not solved. pip resolves for the interpreter it runs
on, which should be the envs' target: CPython 3.11 on Linux x86_64.

The resolving pip is RESOLVER_PIP, fetched as a wheel and run from it, whatever pip this interpreter has: pip 25.3 and
later read only the metadata in a dry run (PEP 658 files, or ranged reads of the wheel where an index lacks them), where
older pips download every wheel, 4 GB for each vLLM env (the nine envs took 7.4 min with pip 23.2, 3 at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rankvideo.cli import UsageError, run_cli
from rankvideo.files.errors import FormatError, read_text

RESOLVER_PIP = "26.3"
TARGET = ((3, 11), "Linux", "x86_64")  # the envs' python=3.11, on the cluster's nodes
KEY_PACKAGES = ("torch", "transformers", "vllm")
JOBS = 3  # pip runs at once: each spends most of its time waiting on its requests
PIP_TIMEOUT_S = 600
CONFLICT_HEADER = "The conflict is caused by:"


@dataclass(frozen=True)
class EnvSpec:
    """One conda env file: its conda packages (solved by conda alone) and its pip section, as written."""

    path: Path
    conda: list[str]
    pip: list[str]


@dataclass(frozen=True)
class Resolution:
    """What pip made of one env: the versions it would install, or why it could not."""

    env: Path
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def read_env(path: Path) -> EnvSpec:
    """Split a conda env file into its conda packages and its pip section."""
    try:
        spec = yaml.safe_load(read_text(path))
    except yaml.YAMLError as err:
        raise FormatError(path, None, f"not valid YAML ({err})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("dependencies"), list):
        raise FormatError(path, None, "no `dependencies:` list (a conda env file has one)")
    conda = [str(dep) for dep in spec["dependencies"] if not isinstance(dep, dict)]
    pip = [str(line) for dep in spec["dependencies"] if isinstance(dep, dict) for line in dep.get("pip", [])]
    return EnvSpec(path, conda, pip)


def requirements(env: EnvSpec) -> list[str]:
    """The pip section as conda hands it to pip: an editable path is relative to the env file's folder (`-e ..` in
    envs/ is the repository root), so it is made absolute for a requirements file written elsewhere."""
    return [f"-e {(env.path.parent / line[3:].strip()).resolve()}" if line.startswith("-e ") else line for line in env.pip]


def pip_environment() -> dict[str, str]:
    """This process's environment, with every pip config file skipped (os.devnull), so PyPI alone decides: a machine's
    global config may add local wheels or cap versions, which --isolated alone would still apply."""
    return {**os.environ, "PIP_CONFIG_FILE": os.devnull}


def fetch_pip(folder: Path) -> Path:
    """RESOLVER_PIP's wheel, downloaded into `folder` by this interpreter's pip; `python <wheel>/pip` runs it."""
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--isolated", "--disable-pip-version-check", "--no-deps",
                           "--only-binary=:all:", "--quiet", "--dest", str(folder), f"pip=={RESOLVER_PIP}"],
                          env=pip_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wheels = sorted(folder.glob(f"pip-{RESOLVER_PIP}-*.whl"))
    if done.returncode != 0 or not wheels:
        raise UsageError(f"cannot fetch pip {RESOLVER_PIP} from PyPI to resolve with: {pip_reason(done.stdout)}")
    return wheels[0]


def pip_command(pip_wheel: Path, requirements_file: Path, report: Path) -> list[str]:
    """A dry run that resolves but installs nothing. --isolated drops pip's environment variables and user config;
    fast-deps reads metadata by ranged requests where the index serves none; no --quiet, since pip writes a conflict's
    causes at info level."""
    return [sys.executable, str(pip_wheel / "pip"), "install", "--isolated", "--disable-pip-version-check", "--use-feature=fast-deps",
            "--dry-run", "--ignore-installed", "--progress-bar", "off", "--report", str(report), "-r", str(requirements_file)]


def pip_reason(output: str) -> str:
    """pip's reason for failing, in one line: the causes it lists under 'The conflict is caused by:', else its ERROR
    lines (without their long '(from versions: ...)' lists), else its last line."""
    lines = output.splitlines()
    if CONFLICT_HEADER in lines:
        causes = []
        for line in lines[lines.index(CONFLICT_HEADER) + 1:]:
            if not line.strip():
                break
            causes.append(line.strip())
        return "conflict: " + "; ".join(causes)
    errors = [re.sub(r"\s*\(from versions:[^)]*\)", "", line.removeprefix("ERROR: ")) for line in lines
              if line.startswith("ERROR: ") and "ResolutionImpossible" not in line]
    if errors:
        return "; ".join(errors)
    last = [line.strip() for line in lines if line.strip()]
    return last[-1] if last else "pip failed without a message"


def installed_versions(report: dict) -> dict[str, str]:
    """Normalised name -> version of everything a `pip install --report` would install."""
    return {re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"] for item in report["install"]}


def resolve(env: EnvSpec, pip_wheel: Path) -> Resolution:
    """Resolve one env's pip section on this interpreter."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rankvideo-envs-") as tmp:
        requirements_file, report = Path(tmp) / "requirements.txt", Path(tmp) / "report.json"
        requirements_file.write_text("\n".join(requirements(env)) + "\n")
        try:
            done = subprocess.run(pip_command(pip_wheel, requirements_file, report), env=pip_environment(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return Resolution(env.path, time.monotonic() - start, error=f"pip did not finish within {PIP_TIMEOUT_S} s")
        seconds = time.monotonic() - start
        if done.returncode != 0:
            return Resolution(env.path, seconds, error=pip_reason(done.stdout))
        return Resolution(env.path, seconds, versions=installed_versions(json.loads(report.read_text())))


def resolve_all(envs: Sequence[EnvSpec], jobs: int = JOBS) -> Iterator[Resolution]:
    """Resolve envs `jobs` at a time, each yielded as soon as it is done."""
    with tempfile.TemporaryDirectory(prefix="rankvideo-pip-") as tmp, ThreadPoolExecutor(max_workers=jobs) as pool:
        pip_wheel = fetch_pip(Path(tmp))
        for future in as_completed([pool.submit(resolve, env, pip_wheel) for env in envs]):
            yield future.result()


def describe(result: Resolution) -> str:
    """One line per env: what resolved, with the versions that matter most, or pip's reason."""
    if result.error:
        return f"{result.env}: does not resolve ({result.seconds:.0f} s): {result.error}"
    key = ", ".join(f"{name} {result.versions[name]}" for name in KEY_PACKAGES if name in result.versions)
    return f"{result.env}: resolves, {len(result.versions)} packages{f' ({key})' if key else ''}, in {result.seconds:.0f} s"


def target_mismatch() -> str | None:
    """Why this interpreter does not resolve as the cluster's envs would, or None when it is their target."""
    here = (sys.version_info[:2], platform.system(), platform.machine())
    if here == TARGET:
        return None
    (major, minor), system, machine = TARGET
    return (f"note: pip resolves for this interpreter, CPython {platform.python_version()} on {here[1]} {here[2]}, not for the "
            f"envs' CPython {major}.{minor} on {system} {machine}: markers and wheels may resolve differently there")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rankvideo.workflow.envs", description=__doc__.splitlines()[0])
    p.add_argument("envs", nargs="*", type=Path, help="conda env files (default: envs/*.yaml under the current folder)")
    p.add_argument("--jobs", type=int, default=JOBS, help=f"envs resolved at once (default {JOBS})")
    return p


def check(args: argparse.Namespace) -> int:
    paths = args.envs or sorted(Path("envs").glob("*.yaml"))
    if not paths:
        raise UsageError("no envs/*.yaml here: run from the repository root, or name the env files")
    envs = [read_env(path) for path in paths]  # a malformed file stops here, before any pip run
    print(target_mismatch() or f"pip on CPython {platform.python_version()} {platform.system()} {platform.machine()}, the envs' target")
    for env in envs:
        print(f"{env.path}: conda packages, not solved here: {', '.join(env.conda) or 'none'}")
    print(f"resolving the pip sections with pip {RESOLVER_PIP} against PyPI, {args.jobs} at a time:", flush=True)
    failed = 0
    for result in resolve_all(envs, args.jobs):
        print(describe(result), flush=True)
        failed += result.error is not None
    print(f"{len(envs) - failed} of {len(envs)} envs resolve")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(check, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
