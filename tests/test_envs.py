"""Every rule has a conda env, and that env provides what the rule's code imports and runs.

Conda cannot build envs on the CI machine, so this checks envs/ statically: the rule's workflow script
and the `rankvideo` modules it loads are parsed for third-party imports, each mapped to the
distribution that provides it; executables a module runs (its TOOLS) must be conda packages.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from rankvideo.workflow.scripts import PACKAGE_DIR, script_closure

ROOT = Path(__file__).resolve().parents[1]
RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", re.MULTILINE | re.DOTALL)
# Modules not installed in .venv (vLLM lives in its own venv here: docs/vllm.md), and executables that a package runs
# behind its API.
NOT_INSTALLED_HERE = {"vllm": "vllm"}
RUNS_EXECUTABLE = {"pytesseract": "tesseract", "whisper": "ffmpeg"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def rules() -> dict[str, dict[str, str]]:
    """rule name -> {'conda': env path, 'script': workflow script name}, read from rules/*.smk."""
    found = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            conda = re.search(r'conda:\n\s+"\.\./(envs/[\w.]+)"', body)
            script = re.search(r'script:\n\s+"\.\./workflow_scripts/(\w+)\.py"', body)
            found[name] = {"conda": conda and conda.group(1), "script": script and script.group(1)}
    return found


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement(spec: str) -> tuple[str, str | None]:
    name, _, version = spec.partition("==")
    return normalise(re.split(r"[<>=\[ ]", name)[0]), version or None


def env_packages(env: Path) -> tuple[dict[str, str | None], set[str]]:
    """(pip distributions with pins, including rankvideo's core through `-e ..`; conda package names)."""
    spec = yaml.safe_load(env.read_text())
    conda, pip = set(), {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if line.startswith("-e "):
                    assert line == "-e ..", f"{env}: install the package as '-e ..' (the repository root)"
                    pip.update(requirement(r) for r in pyproject()["project"]["dependencies"])
                    pip["rankvideo"] = None
                else:
                    pip.update([requirement(line)])
        else:
            conda.add(normalise(re.split(r"[=<> ]", dep)[0]))
    return pip, conda


def distributions_of(module: str) -> set[str]:
    installed = packages_distributions().get(module)
    if installed:
        return {normalise(d) for d in installed}
    if module in NOT_INSTALLED_HERE:
        return {NOT_INSTALLED_HERE[module]}
    raise AssertionError(f"module {module!r} is neither installed here nor in NOT_INSTALLED_HERE")


def tools_of(files) -> set[str]:
    """Executables declared by the reached modules' TOOLS tuples."""
    tools = set()
    for path in files:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "TOOLS" for t in node.targets):
                tools.update(ast.literal_eval(node.value))
    return tools


RULES = rules()


def test_every_rule_has_a_conda_env_a_script_and_a_log():
    assert len(RULES) >= 20
    missing = [name for name, r in RULES.items() if not r["conda"] or not r["script"]]
    assert not missing, f"rules without conda: or script: {missing}"
    for r in RULES.values():
        assert (ROOT / r["conda"]).is_file()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_env_provides_what_the_rule_imports(rule):
    env = ROOT / RULES[rule]["conda"]
    pip, conda = env_packages(env)
    files, modules = script_closure(RULES[rule]["script"], lazy=False)
    for module in sorted(modules):
        provided = distributions_of(module) & (set(pip) | conda)
        assert provided, f"rule {rule}: its code imports {module!r} ({distributions_of(module)}) but {env.name} lacks it"
    executables = tools_of(files) | {RUNS_EXECUTABLE[m] for m in modules if m in RUNS_EXECUTABLE}
    for tool in sorted(executables):
        assert tool in conda, f"rule {rule}: runs {tool!r} but {env.name} has no conda package {tool!r}"


def test_env_pins_agree_with_the_package():
    """A version pinned in an env is the one pyproject's `all` extra (what the demo and tests run) pins."""
    pinned = dict(requirement(r) for r in pyproject()["project"]["optional-dependencies"]["all"])
    for env in sorted((ROOT / "envs").glob("*.yaml")):
        pip, _ = env_packages(env)
        for name, version in pip.items():
            if version and pinned.get(name):
                assert version == pinned[name], f"{env.name}: {name}=={version} but pyproject pins {pinned[name]}"


def test_light_rules_do_not_load_torch():
    """Merges, filters and evaluation run on login nodes and in the small eval env: no torch there."""
    for rule in ("partition", "filter_queries", "training_sets", "merge_rerank", "evaluate", "funnel", "shard_sheet"):
        _, modules = script_closure(RULES[rule]["script"], lazy=False)
        assert "torch" not in modules, rule


def package_files(script: str) -> set[str]:
    files, _ = script_closure(script)
    return {p.relative_to(PACKAGE_DIR).as_posix() for p in files if p.is_relative_to(PACKAGE_DIR)}


def test_code_fingerprints_follow_the_package_imports():
    """Stage 2's fingerprint covers the loss module; Stage 1's does not, so a loss change leaves Stage 1 alone."""
    assert {"train/loop.py", "train/stage2.py", "train/losses.py", "models/prompts.py", "models/transformers_backend.py"} <= package_files("train_stage2")
    assert "train/loop.py" in package_files("train_stage1") and "train/losses.py" not in package_files("train_stage1")


def test_every_gpu_rule_has_its_slurm_settings_in_both_profiles():
    """A GPU rule needs the cluster's GPU partition, and the demo cluster's small memory (its node has 24 GB):
    a rule missing from either would wait in the queue forever."""
    gpu_rules = {name for smk in (ROOT / "rules").glob("*.smk") for name, body in RULE.findall(smk.read_text())
                 if re.search(r"^\s+gpu=", body, re.MULTILINE)}
    assert {"rerank_shard", "latency", "train_stage2"} <= gpu_rules
    for profile in ("slurm/config.yaml", "slurm/demo/config.yaml"):
        settings = yaml.safe_load((ROOT / profile).read_text())["set-resources"]
        assert gpu_rules <= set(settings), f"{profile}: no set-resources for {sorted(gpu_rules - set(settings))}"
    demo = yaml.safe_load((ROOT / "slurm/demo/config.yaml").read_text())["set-resources"]
    assert all(demo[rule].get("mem_mb", 0) <= 8000 for rule in gpu_rules), "a demo GPU job asks for more than the node has"
