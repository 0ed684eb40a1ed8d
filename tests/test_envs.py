"""Every rule has a conda env, that env provides what the rule's code imports and runs, and its pip section resolves.

Conda cannot build envs on the CI machine, so this checks envs/ statically: the rule's workflow script
and the `rankvideo` modules it loads are parsed for third-party imports, each mapped to the
distribution that provides it; executables a module runs (its TOOLS) must be conda packages. The pip
sections are resolved against PyPI by rankvideo.workflow.envs (`make envs-check`), and the vLLM envs
pin envs/vllm-stack.txt's versions.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from rankvideo.workflow import envs as envs_check
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
    spec = envs_check.read_env(env)
    pip = {}
    for line in spec.pip:
        if line.startswith("-e "):
            assert line == "-e ..", f"{env}: install the package as '-e ..' (the repository root)"
            pip.update(requirement(r) for r in pyproject()["project"]["dependencies"])
            pip["rankvideo"] = None
        else:
            pip.update([requirement(line)])
    return pip, {normalise(re.split(r"[=<> ]", dep)[0]) for dep in spec.conda}


def pins(path: Path) -> dict[str, str]:
    """name -> version of a requirements list's `name==version` lines."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    return dict(requirement(line) for line in lines if line and not line.startswith("#"))


VLLM_STACK = pins(ROOT / "envs" / "vllm-stack.txt")
VLLM_ENVS = ("vlm.yaml", "textllm.yaml")


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
    """A version pinned in an env is the one pyproject's `all` extra (what the demo and tests run) pins, except the
    vLLM stack in an env with vLLM: vLLM fixes those, and envs/vllm-stack.txt holds them."""
    pinned = dict(requirement(r) for r in pyproject()["project"]["optional-dependencies"]["all"])
    for env in sorted((ROOT / "envs").glob("*.yaml")):
        pip, _ = env_packages(env)
        for name, version in pip.items():
            if version and pinned.get(name) and not ("vllm" in pip and name in VLLM_STACK):
                assert version == pinned[name], f"{env.name}: {name}=={version} but pyproject pins {pinned[name]}"


def test_vllm_envs_pin_the_vllm_stack():
    """The cluster's vLLM envs and the CPU stand-in the tests run (scripts/setup_vllm.sh) take vllm, torch, torchvision
    and transformers from envs/vllm-stack.txt alone."""
    assert set(VLLM_STACK) == {"vllm", "torch", "torchvision", "transformers"}
    for name in VLLM_ENVS:
        pip, _ = env_packages(ROOT / "envs" / name)
        assert {p: pip.get(p) for p in VLLM_STACK} == VLLM_STACK, f"{name} does not pin envs/vllm-stack.txt's versions"
    assert not set(pins(ROOT / "envs" / "vllm-cpu.txt")) & set(VLLM_STACK), "envs/vllm-cpu.txt repeats a vllm-stack pin"
    assert not re.search(r"==\d", (ROOT / "scripts" / "setup_vllm.sh").read_text()), "setup_vllm.sh pins a version itself"


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


# pip 26.3's output on `vllm==0.33.0` beside `transformers==5.23.0` (stdout and stderr together, as the checker reads it).
PIP_CONFLICT = """\
Collecting py-cpuinfo (from vllm==0.33.0)
  Obtaining dependency information from py-cpuinfo 9.0.0
ERROR: Cannot install transformers==5.23.0 and vllm==0.33.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested transformers==5.23.0
    vllm 0.33.0 depends on transformers<5.21.0 and >=5.16.1

Additionally, some packages in these conflicts have no matching distributions available for your environment:
    transformers

To fix this you could try to:
1. loosen the range of package versions you've specified
2. remove package versions to allow pip to attempt to solve the dependency conflict

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts
"""
# pip 26.3's output on `torch==2.99.0` (its list of versions cut short here).
PIP_MISSING = """\
ERROR: Could not find a version that satisfies the requirement torch==2.99.0 (from versions: 1.13.0, 1.13.1, 2.14.1, 2.15.0)
ERROR: No matching distribution found for torch==2.99.0
"""


def write_env(folder: Path, pip: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    env = folder / "bad.yaml"
    env.write_text(yaml.safe_dump({"channels": ["conda-forge"], "dependencies": ["python=3.11", "ffmpeg=6.1", {"pip": pip}]}))
    return env


def test_an_env_splits_into_conda_packages_and_pip_lines_with_the_editable_path_made_absolute(tmp_path):
    env = envs_check.read_env(write_env(tmp_path / "envs", ["av==18.1.0", "-e .."]))
    assert env.conda == ["python=3.11", "ffmpeg=6.1"]
    assert envs_check.requirements(env) == ["av==18.1.0", f"-e {tmp_path.resolve()}"]


def test_pips_reason_becomes_one_line():
    assert envs_check.pip_reason(PIP_CONFLICT) == (
        "conflict: The user requested transformers==5.23.0; vllm 0.33.0 depends on transformers<5.21.0 and >=5.16.1")
    assert envs_check.pip_reason(PIP_MISSING) == (
        "Could not find a version that satisfies the requirement torch==2.99.0; No matching distribution found for torch==2.99.0")
    assert envs_check.pip_reason("Collecting x\n  error: build failed\n") == "error: build failed"


def test_an_env_that_cannot_resolve_fails_naming_the_env_and_the_conflict(tmp_path, capsys):
    env = write_env(tmp_path, ["vllm==0.33.0", "transformers==5.23.0"])
    assert envs_check.main([str(env)]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith(f"{env}: does not resolve"))
    assert "transformers==5.23.0" in line and "transformers<5.21.0 and >=5.16.1" in line, out
    assert f"{env}: conda packages, not solved here: python=3.11, ffmpeg=6.1" in out

