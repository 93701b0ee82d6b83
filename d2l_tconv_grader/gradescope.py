"""A Gradescope autograder bundle for the exercises, and the program it runs per submission.

    python -m d2l_tconv_grader export-gradescope autograder.zip [--seed S]

The zip holds, at its root (Gradescope's autograder specification):

* ``setup.sh``: run once, as root, on Gradescope's Ubuntu base image when the image is built:
  installs Python 3.11, a CPU build of torch, NumPy and matplotlib into /opt/d2l-tconv-venv,
  and bubblewrap (used where the container allows user namespaces);
* ``run_autograder``: run for every submission (working directory ``/autograder``): grades
  ``/autograder/submission/*.ipynb`` with this grader and writes
  ``/autograder/results/results.json``;
* ``d2l-tconv/``: the two packages, ``d2l_tconv`` and this grader with its hidden tests, on
  ``PYTHONPATH`` by ``run_autograder`` (readable by root only while a submission runs), and ``seed``: the seed of the hidden inputs (the same for the whole
  class, so that every route gives the same points; root only).

Outside Gradescope, ``AUTOGRADER_ROOT`` replaces ``/autograder`` and ``AUTOGRADER_PYTHON``
names the interpreter (the tests set both); ``AUTOGRADER_BWRAP`` names the bwrap to use (a
missing path tests the fallback below).

Isolation: bubblewrap where it works; otherwise (Gradescope's containers allow no user
namespaces) each submission's kernel runs as a fresh unprivileged user id
(:mod:`.isolation`), with the grader's source, the seed and the results folder root-only.
``output`` says which was used. The points are the ones ``python -m d2l_tconv_grader`` gives
the same notebook with the same seed: the same code grades it, and the tests compare both.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import d2l_tconv
from d2l_tconv.exercise_checks import FREE_TEXT, PARTS

from .report import feedback_markdown, load, needs_review, points, relabel
from .rubric import max_points

#: The two packages the bundle carries, as they sit in the checkout (``d2l-tconv/<name>/``).
PACKAGE_DIRS = (Path(d2l_tconv.__file__).resolve().parent, Path(__file__).resolve().parent)
REPO = Path(__file__).resolve().parents[1]
REPO_FILES = ("pyproject.toml", "constraints.txt", "README.md", "LICENSE")
FALLBACK_UID = 61000  # fresh user ids for the students' kernels, where bwrap cannot run
#: Torch for setup.sh: a CPU build (the project's constraints pin the CUDA one for CI).
TORCH = "torch==2.13.0"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu base).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends software-properties-common bubblewrap
if ! command -v python3.11 >/dev/null; then
  add-apt-repository -y ppa:deadsnakes/ppa && apt-get update
fi
apt-get install -y --no-install-recommends python3.11 python3.11-venv
python3.11 -m venv /opt/d2l-tconv-venv
/opt/d2l-tconv-venv/bin/pip install --no-cache-dir {torch} \\
  --index-url https://download.pytorch.org/whl/cpu
/opt/d2l-tconv-venv/bin/pip install --no-cache-dir numpy matplotlib matplotlib-fontja ipython
# d2l_tconv itself is NOT installed into the venv (student code could read it there): the
# grader runs from /autograder/source/d2l-tconv, which is root-only while a submission runs.
chmod -R go-rwx /autograder/source
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in /autograder.
# Outside Gradescope: AUTOGRADER_ROOT replaces /autograder, AUTOGRADER_PYTHON the interpreter.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${AUTOGRADER_PYTHON:-/opt/d2l-tconv-venv/bin/python}"
export PYTHONPATH="$ROOT/source/d2l-tconv${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
cd "$ROOT"
exec "$PY" -m d2l_tconv_grader.gradescope run "$ROOT"
"""


# --- building the bundle ------------------------------------------------------------------

def _package_files() -> list[tuple[str, Path]]:
    """``(name in the bundle, file)`` for every file of ``d2l_tconv`` and of the grader."""
    return sorted((f"{package.name}/{p.relative_to(package).as_posix()}", p)
                  for package in PACKAGE_DIRS for p in package.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def build(zip_path: Path, seed: int) -> Path:
    """Write the autograder zip to ``zip_path``."""
    repo = REPO
    zip_path.parent.mkdir(parents=True, exist_ok=True)

    def add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)

    with zipfile.ZipFile(zip_path, "w") as archive:
        add(archive, "setup.sh", SETUP_SH.format(torch=TORCH).encode(), 0o755)
        add(archive, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
        add(archive, "seed", f"{seed}\n".encode(), 0o600)
        for name in REPO_FILES:
            if (repo / name).is_file():
                add(archive, f"d2l-tconv/{name}", (repo / name).read_bytes(), 0o644)
        for rel, path in _package_files():
            add(archive, f"d2l-tconv/{rel}", path.read_bytes(), 0o644)
    return zip_path


# --- running in Gradescope's container ---------------------------------------------------

def results_json(rec: dict, sandbox: str, seconds: float, note: str = "") -> dict:
    """Gradescope's results.json for one graded submission (its record from details/)."""
    lang = rec["lang"]
    held = needs_review(rec)
    tests = []
    for entry in rec["parts"]:
        spec = next(p for p in PARTS if p.id == entry["part"])
        message = entry["message"][lang]
        if held and entry["flag_kind"] == "integrity":
            message = ("needs a review by your instructor (points held at 0 until then)"
                       if lang == "en" else "教員による確認が必要です（確認までは 0 点）")
        tests.append({
            "name": f"{entry['part']} {spec.title[lang]}", "number": entry["part"],
            "score": entry["points"], "max_score": entry["max_points"],
            "status": "passed" if entry["points"] >= entry["max_points"] else "failed",
            "output": relabel(f"{entry['status'][lang]}\n{message}", rec, lang).strip(),
            "visibility": "visible"})
    for question in FREE_TEXT:
        text = ("Graded by hand by your instructor (not part of this automatic score): "
                f"up to {max_points(question.id)} points." if lang == "en" else
                f"記述式: 教員が手で採点します（この自動採点の点には含まれません。最大 "
                f"{max_points(question.id)} 点）。")
        tests.append({"name": f"{question.id} {question.title[lang]}",
                      "number": f"free text {question.id}", "score": 0, "max_score": 0,
                      "status": "passed", "output": text, "visibility": "visible"})
    output = "\n".join(filter(None, [note, feedback_markdown(rec), f"Isolation: {sandbox}"]))
    return {"score": points(rec), "execution_time": max(1, round(seconds)),
            "output": output, "output_format": "md", "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def _failure(message: str, seconds: float) -> dict:
    return {"score": 0, "execution_time": max(1, round(seconds)), "output": message,
            "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [{"name": f"{p.id} {p.title['en']}", "number": p.id, "score": 0,
                       "max_score": p.points, "status": "failed", "output": message,
                       "visibility": "visible"} for p in PARTS]}


def run(root: Path) -> int:
    """Grade ``root/submission/*.ipynb`` and write ``root/results/results.json``."""
    from . import cli, isolation

    start = time.monotonic()
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    source = root / "source"
    seed = int((source / "seed").read_text(encoding="utf-8").strip())
    notebooks = sorted((root / "submission").glob("*.ipynb"))
    note = ""
    if not notebooks:
        data = _failure("No .ipynb file was submitted: upload your exercises notebook.", 0)
        (results / "results.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
        return 0
    if len(notebooks) > 1:
        note = (f"Several notebooks were submitted; graded {notebooks[0].name} (the first by "
                "name). Submit one notebook.")
    work = Path(tempfile.mkdtemp(prefix="d2l-tconv-gradescope-"))
    isolation.protect(source, results, work)  # root only while student code runs
    try:
        subs, out = work / "submission", work / "out"
        subs.mkdir()
        shutil.copyfile(notebooks[0], subs / notebooks[0].name)
        args = [str(subs), "--out", str(out), "--seed", str(seed), "--jobs", "1",
                "--hide", str(source), "--hide", str(results)]
        if os.environ.get("AUTOGRADER_BWRAP"):  # another bwrap, or a missing one (tests)
            args += ["--bwrap", os.environ["AUTOGRADER_BWRAP"]]
        if os.geteuid() == 0:
            args += ["--fallback-uid", str(FALLBACK_UID)]
        code = cli.main(args)
        if code == cli.EXIT_USAGE:
            data = _failure("The autograder could not start its sandbox; ask your "
                            "instructor (this is not your fault).", time.monotonic() - start)
        else:
            records, run_facts = load(out)
            data = results_json(records[0], run_facts["sandbox"], time.monotonic() - start,
                                note)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (results / "results.json").write_text(json.dumps(data, ensure_ascii=False, indent=1),
                                          encoding="utf-8")
    return 0


# --- command line -------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    """``export-gradescope ZIP [--seed S]`` (from the grader's CLI) or ``run ROOT``."""
    if argv[:1] == ["run"]:
        if len(argv) != 2:
            print("usage: python -m d2l_tconv_grader.gradescope run AUTOGRADER_ROOT",
                  file=sys.stderr)
            return 2
        return run(Path(argv[1]))
    p = argparse.ArgumentParser(
        prog="python -m d2l_tconv_grader export-gradescope",
        description="Build a Gradescope autograder zip (setup.sh, run_autograder, the grader).")
    p.add_argument("zip", type=Path, metavar="AUTOGRADER_ZIP")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the hidden inputs (default: a fresh secret one, stored in the "
                        "zip; use the seed of your other routes to get the same points)")
    args = p.parse_args(argv[1:] if argv[:1] == ["export-gradescope"] else argv)
    if args.zip.suffix != ".zip":
        print(f"AUTOGRADER_ZIP: expected a file name ending in .zip, got {args.zip}",
              file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else secrets.randbits(62)
    path = build(args.zip, seed)
    print(f"wrote {path}: upload it as the autograder of a Gradescope programming assignment "
          "(Ubuntu base image); it holds the hidden tests and the seed: keep it private")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
