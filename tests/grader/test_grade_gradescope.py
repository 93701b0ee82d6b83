"""The Gradescope autograder bundle (issue 9): build the zip, lay it out in a temporary root as
Gradescope does (/autograder/source, run_autograder, submission/, results/), run it for a
correct, a blank and a cheating submission, validate results.json against the JSON Schema of
Gradescope's format (tests/gradescope_results.schema.json), and check the scores equal the
local grader's gradebook for the same notebooks and seed. Both isolations are run: bubblewrap,
and (as root, with bwrap made unavailable) a fresh unprivileged user id per submission.

Slow (sandboxes): about 30-50 s here.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
import torch
from conftest import bubblewrap_sandbox

from d2l_tconv_grader.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "submissions"
SCHEMA = json.loads((Path(__file__).with_name("gradescope_results.schema.json")).read_text())
SEED = "11"
pytestmark = pytest.mark.slow


def _cheat(correct: dict, root: Path, leak: Path) -> dict:
    """The correct notebook plus a cell that tries to forge results.json, read the seed and
    the hidden tests, and leave what it read where the test can see it."""
    source = (
        "import json, pathlib\n"
        f"root = pathlib.Path({str(root)!r})\n"
        "got = []\n"
        "for path in [root / 'source' / 'seed', root / 'source' / 'd2l-tconv'\n"
        "             / 'd2l_tconv_grader' / 'hidden.py']:\n"
        "    try:\n"
        "        got.append(path.read_text()[:200])\n"
        "    except Exception as error:\n"
        "        got.append(type(error).__name__)\n"
        "try:\n"
        "    (root / 'results' / 'results.json').write_text(json.dumps({'score': 999}))\n"
        "    got.append('forged')\n"
        "except Exception as error:\n"
        "    got.append(type(error).__name__)\n"
        "try:\n"
        f"    pathlib.Path({str(leak)!r}).write_text(repr(got))\n"
        "except Exception:\n"
        "    pass\n")
    cell = {"cell_type": "code", "execution_count": None, "id": "cheat", "metadata": {},
            "outputs": [], "source": source}
    notebook = json.loads(json.dumps(correct))
    notebook["cells"].insert(len(notebook["cells"]) // 2, cell)
    return notebook


@pytest.fixture(scope="module")
def bundle(grader_stage, tmp_path_factory):
    root = tmp_path_factory.mktemp("gradescope")
    bubblewrap_sandbox(grader_stage)
    zip_path = root / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "d2l_tconv_grader", "export-gradescope",
                           str(zip_path), "--seed", SEED], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    return zip_path


def _layout(zip_path: Path, root: Path, notebook: dict | None) -> Path:
    """``root`` laid out as Gradescope's /autograder for one submission."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():  # zipfile drops the modes: restore them
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    if notebook is not None:
        (root / "submission" / "exercises.ipynb").write_text(json.dumps(notebook),
                                                            encoding="utf-8")
    return root


def _private_ancestor(path: Path) -> Path | None:
    """The first folder above ``path`` that other users cannot enter, if any."""
    for folder in [path, *path.parents]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def _run(root: Path, fallback: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    if fallback:
        # An interpreter and libraries a fresh user id can reach (not under /root here).
        python = shutil.which("python3.11", path="/usr/bin:/usr/local/bin")
        if python is None:
            pytest.skip("no system python3.11 for the fresh-user-id fallback")
        env.update(AUTOGRADER_PYTHON=python, AUTOGRADER_BWRAP="/nonexistent/bwrap",
                   PYTHONPATH=str(Path(torch.__file__).resolve().parents[1]))
    done = subprocess.run(["bash", str(root / "run_autograder")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def _gradebook(notebooks: dict[str, dict], tmp: Path) -> dict[str, float]:
    subs = tmp / "local"
    subs.mkdir()
    for name, notebook in notebooks.items():
        (subs / f"{name}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    # the command's main, in this process: the command itself runs in every run_autograder
    assert main([str(subs), "--out", str(tmp / "local-out"), "--seed", SEED, "--jobs", "2"]) == 0
    totals: dict[str, float] = {}
    with open(tmp / "local-out" / "gradebook.csv", newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            totals[row["submission"]] = totals.get(row["submission"], 0) + float(row["points"])
    return totals


def test_bundle_layout(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
        assert archive.read("seed").decode().strip() == SEED
    assert {"setup.sh", "run_autograder", "seed"} <= names
    assert "d2l-tconv/d2l_tconv_grader/hidden.py" in names
    assert not any("__pycache__" in n for n in names)
    assert modes["run_autograder"] == modes["setup.sh"] == 0o755 and modes["seed"] == 0o600
    assert "download.pytorch.org/whl/cpu" in setup and "python3.11" in setup
    assert "ipython" in setup  # the harness runs the cells in an IPython shell
    assert "AUTOGRADER_ROOT" in run and "AUTOGRADER_PYTHON" in run
    assert run.startswith("#!/usr/bin/env bash")


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback needs root (a fresh user id)")
def test_results_for_correct_blank_and_cheating(bundle, tmp_path):
    correct = json.loads((FIXTURES / "correct_en.fixture").read_text(encoding="utf-8"))
    blank = json.loads((FIXTURES / "untouched_ja.fixture").read_text(encoding="utf-8"))
    cases = []
    # The cheating notebook is the correct one plus its cell: under the fallback it must
    # still score what the local grader gives it.
    # The fresh user id must be able to read torch: not so when this checkout's environment
    # sits in a private folder (a `mktemp -d` clone is mode 0700).
    unreachable = _private_ancestor(Path(torch.__file__).resolve().parents[1])
    for name, fallback in (("correct", False), ("blank", False), ("cheat", False),
                           *([] if unreachable else [("cheat", True)])):
        root = tmp_path / f"{name}-{'uid' if fallback else 'bwrap'}"
        leak = Path("/tmp") / f"d2l-tconv-leak-{uuid.uuid4().hex}.txt"
        notebook = {"correct": correct, "blank": blank,
                    "cheat": _cheat(correct, root, leak)}[name]
        cases.append((name, fallback, _layout(bundle, root, notebook), leak, notebook))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: _run(c[2], c[1]), cases))
    local = _gradebook({"correct": correct, "blank": blank,
                        "cheat": cases[2][4]}, tmp_path)
    for (name, fallback, root, leak, _), data in zip(cases, results, strict=True):
        jsonschema.validate(data, SCHEMA)
        assert data["score"] == local[name] == sum(t["score"] for t in data["tests"])
        for test in data["tests"]:
            assert 0 <= test["score"] <= test["max_score"]
            assert test["status"] == ("passed" if test["score"] == test["max_score"]
                                      else "failed")
        free = [t for t in data["tests"] if t["number"].startswith("free text")]
        assert len(free) == 2 and all("by hand" in t["output"] or "手で" in t["output"]
                                      for t in free)
        isolation = "fresh unprivileged user id" if fallback else "bubblewrap"
        assert isolation in data["output"]
        assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
        if name == "cheat":
            # bubblewrap: /tmp is private, nothing comes out; the fallback: /tmp is shared,
            # and the cell could neither read the seed or hidden.py nor forge results.json.
            got = ast.literal_eval(leak.read_text()) if leak.exists() else None
            leak.unlink(missing_ok=True)
            assert got is None if not fallback else got == ["PermissionError"] * 3, got
    if unreachable:
        pytest.skip("the bubblewrap cases passed; the fresh-user-id case did not run: an "
                    f"unprivileged user cannot enter {unreachable}, where torch is installed")
    assert local["correct"] == 18 and local["blank"] == 0


def test_no_submission_scores_zero(bundle, tmp_path):
    root = _layout(bundle, tmp_path / "none", None)
    data = _run(root, fallback=False)
    jsonschema.validate(data, SCHEMA)
    assert data["score"] == 0 and "No .ipynb" in data["output"]
