"""An nbgrader course tree generated from the exercise masters.

    python -m d2l_tconv_grader export-nbgrader DIR [--lang ja|en|both] [--seed S]
                                               [--sandbox auto|bwrap|none]

writes ``DIR/nbgrader_config.py`` and ``DIR/source/<assignment>_<lang>/exercises_<lang>.ipynb``
from ``exercises/source/<lang>/exercises.md`` (run it from a checkout: the masters and
``tools/exercise_source.py`` are read there). In each notebook:

* cells with a ``### BEGIN SOLUTION`` region are solution cells (``grade_id`` ``answer_N``);
  the student's stub (the cell's ``stub``, else the master's ``code_stub``) is written next to
  the region, so that nbgrader's ``generate_assignment`` leaves exactly the student notebook's
  stub (the configured stubs are empty);
* after each part's check cell, an autograder test cell (``grade_id`` ``test_<part>``, the
  part's points) whose ``### BEGIN HIDDEN TESTS`` region calls
  :func:`d2l_tconv_grader.nbgrader_tests.score`: the sandboxed grader's scoring code, the
  same hidden inputs (from ``--seed``) and the same partial credit;
* the free-text answers are manually graded markdown cells (``free_text_<question>``, the
  rubric's points), the model answer in the solution region;
* every other cell (instructions, set-up, check cells) is locked (read-only).

Cells only for the worked solutions are left out.

``--sandbox bwrap`` (``auto``, the default, picks it where bubblewrap works here) also writes
the kernelspec of :mod:`.nbgrader_kernel` into ``DIR/jupyter/kernels/`` and selects it in
``nbgrader_config.py``: nbgrader then runs every notebook it executes inside bubblewrap, away
from the gradebook, the other submissions, the host and the network. ``none`` (or ``auto``
without bwrap, which says so) keeps nbgrader's plain ``python3`` kernel. Either way the
student's code and the tests share one kernel, so the score itself can be forged: see
exercises/README, which recommends the sandboxed grader for graded work.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import secrets
import sys
from pathlib import Path

import nbformat

from d2l_tconv.exercise_checks import FREE_TEXT, PARTS
from d2l_tconv.project import colab_setup_source

from . import nbgrader_kernel
from .rubric import max_points
from .sandbox import find_sandbox, interpreter

REPO = Path(__file__).resolve().parents[1]  # the checkout the grader runs from
SCHEMA_VERSION = 3
CELL_TIMEOUT = 30  # seconds per cell, as the sandboxed grader

CONFIG = '''# nbgrader configuration of the d2l-tconv exercises (written by
# python -m d2l_tconv_grader export-nbgrader). Run nbgrader from this folder.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "d2l-tconv"
# The student stubs are written in the source notebooks beside each solution region.
c.ClearSolutions.code_stub = {"python": ""}
c.ClearSolutions.text_stub = ""
c.ExecutePreprocessor.timeout = %d  # seconds per cell
'''

SANDBOX_CONFIG = '''
# Every notebook nbgrader executes (autograde, validate) runs in the kernel "{name}":
# ipykernel inside bubblewrap (d2l_tconv_grader/nbgrader_kernel.py), with this course tree,
# the home directory and the network out of its reach. Its kernelspec lies in ./{kernels}/.
# The sandbox has no network, so ZeroMQ talks over Unix sockets ("ipc"), whose paths the
# client finds in a private folder of this nbgrader process (removed when it exits).
# The tests still share that kernel with the student's code: see exercises/README.
import atexit
import os
import shutil
import tempfile

os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "{kernels}"),
    os.environ.get("JUPYTER_PATH")]))
_sockets = tempfile.mkdtemp(prefix="d2l-tconv-nbgrader-")
atexit.register(shutil.rmtree, _sockets, True)
c.Execute.kernel_name = "{name}"
c.KernelManager.transport = "ipc"
c.KernelManager.ip = os.path.join(_sockets, "kernel")
'''

_TEST = {
    "en": "# Autograder test of part {part} ({points} point(s)). The hidden tests run when "
          "your instructor grades;\n# check your answer with the check(...) cell above.",
    "ja": "# 小問 {part} の自動採点テスト（{points} 点）。非公開のテストは教員の採点時に"
          "実行されます。\n# 答えは上の check(...) のセルで確かめてください。",
}


def _exercise_source():
    path = REPO / "tools" / "exercise_source.py"
    if not path.is_file():
        raise FileNotFoundError(f"export-nbgrader reads the exercise masters from a checkout: "
                                f"{path} not found")
    if str(path.parent) not in sys.path:  # the builders import each other (notebook_exec)
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("_d2l_tconv_exercise_source", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _with_stub(text: str, stub: str, before: bool) -> str:
    """``text`` with ``stub`` written just before (or after) its solution region, indented
    like the region's markers."""
    lines = text.split("\n")
    begin = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION")
    end = next(i for i, line in enumerate(lines) if line.strip() == "### END SOLUTION")
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    stub_lines = [indent + line if line else line for line in stub.split("\n")]
    at = begin if before else end + 1
    return "\n".join(lines[:at] + stub_lines + lines[at:])


def _test_cell(part_id: str, lang: str, seed: int) -> nbformat.NotebookNode:
    spec = next(p for p in PARTS if p.id == part_id)
    source = "\n".join([
        _TEST[lang].format(part=part_id, points=spec.points),
        "### BEGIN HIDDEN TESTS",
        "from d2l_tconv_grader.nbgrader_tests import score as _d2l_tconv_score",
        f"_d2l_tconv_score({part_id!r}, globals(), seed={seed}, lang={lang!r})",
        "### END HIDDEN TESTS",
    ])
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata = _meta(f"test_{part_id}", grade=True, locked=True, points=spec.points)
    return cell


def notebook(master: nbformat.NotebookNode, lang: str, seed: int,
             source_module=None) -> nbformat.NotebookNode:
    """The nbgrader source notebook of one language's master."""
    es = source_module or _exercise_source()
    stubs = master.metadata["d2l_tconv"]
    substitutions = {**master.metadata.get("myst", {}).get("substitutions", {}), "badge": ""}
    markers = {q.marker: q for q in FREE_TEXT}
    nb = nbformat.v4.new_notebook()
    last_check: dict[str, int] = {}
    for cell in master.cells:
        tags = cell.metadata.get("tags", [])
        if "solution-only" in tags:
            continue
        index = len(nb.cells)
        has_region = es.BEGIN_SOLUTION in cell.source
        if "colab-setup" in tags:
            new = nbformat.v4.new_code_cell(colab_setup_source(lang))
            new.metadata = _meta(f"setup_{index}", locked=True)
        elif cell.cell_type == "markdown":
            text = es._substitute(cell.source, substitutions)
            question = next((q for marker, q in markers.items() if marker in text), None)
            new = nbformat.v4.new_markdown_cell(text)
            if question is not None and has_region:
                new.source = _with_stub(text, stubs["text_stub"], before=True)
                new.metadata = _meta(f"free_text_{question.id}", solution=True, grade=True,
                                     points=max_points(question.id))
            else:
                new.metadata = _meta(f"instructions_{index}", locked=True)
        else:
            text = cell.source.replace(f"{es.NBVAL_IGNORE}\n", "")
            new = nbformat.v4.new_code_cell(text)
            if has_region:
                stub = cell.metadata.get("stub")
                new.source = (_with_stub(text, stub, before=True) if stub is not None else
                              _with_stub(text, stubs["code_stub"], before=False))
                new.metadata = _meta(f"answer_{index}", solution=True)
            else:
                new.metadata = _meta(f"code_{index}", locked=True)
            for spec in PARTS:
                if f'check("{spec.id}"' in text:
                    last_check[spec.id] = index
        nb.cells.append(new)
    missing = [p.id for p in PARTS if p.id not in last_check]
    if missing:
        raise ValueError(f"the {lang} master has no check cell for part(s) {missing}")
    for part_id, index in sorted(last_check.items(), key=lambda item: -item[1]):
        nb.cells.insert(index + 1, _test_cell(part_id, lang, seed))
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "d2l_tconv": {"kind": "nbgrader-source", "lang": lang},
    }
    return nb


def write_config(folder: Path, sandboxed: bool) -> None:
    """``folder/nbgrader_config.py``; ``sandboxed``: with the kernelspec of
    :mod:`.nbgrader_kernel` in ``folder/jupyter/kernels/`` and selected for execution."""
    config = CONFIG % CELL_TIMEOUT
    if sandboxed:
        name, kernels = nbgrader_kernel.KERNEL_NAME, nbgrader_kernel.KERNELS
        spec = folder / kernels / "kernels" / name / "kernel.json"
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(json.dumps(nbgrader_kernel.kernelspec(interpreter(), REPO), indent=1)
                        + "\n", encoding="utf-8")
        config += SANDBOX_CONFIG.format(name=name, kernels=kernels)
    (folder / "nbgrader_config.py").write_text(config, encoding="utf-8")


def sandbox_choice(choice: str) -> tuple[bool, str]:
    """Whether to run nbgrader's kernel in bubblewrap for ``--sandbox choice``, and what to
    tell the instructor. ``bwrap`` where bubblewrap does not work here raises ValueError."""
    if choice == "none":
        return False, ("nbgrader's kernel: the plain python3 kernel, unconfined (--sandbox "
                       "none): student code can reach the gradebook, the other submissions "
                       "and the network")
    found = find_sandbox()
    if found.kind == "bubblewrap":
        return True, (f"nbgrader's kernel: {nbgrader_kernel.KERNEL_NAME} (bubblewrap); the "
                      "tests still share it with the student's code")
    if choice == "bwrap":
        raise ValueError(f"--sandbox bwrap: {found.problem}")
    return False, (f"WARNING: no bubblewrap ({found.problem}): nbgrader's kernel is the plain "
                   "python3 kernel, unconfined: student code can reach the gradebook, the "
                   "other submissions and the network")


def export(folder: Path, langs: list[str], seed: int, assignment: str = "tconv",
           sandboxed: bool = False) -> list[Path]:
    """Write the course tree into ``folder``; returns the notebooks written.
    ``sandboxed``: nbgrader runs the notebooks in :mod:`.nbgrader_kernel`'s kernel."""
    es = _exercise_source()
    masters = es.load()
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, sandboxed)
    written = []
    for lang in langs:
        path = folder / "source" / f"{assignment}_{lang}" / f"exercises_{lang}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook(masters[lang], lang, seed, es), path)
        written.append(path)
    (folder / "d2l_tconv_seed.json").write_text(json.dumps({"seed": seed}) + "\n",
                                                encoding="utf-8")
    return written


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m d2l_tconv_grader export-nbgrader",
        description="Write an nbgrader course tree (nbgrader_config.py, source/<assignment>_"
                    "<lang>/exercises_<lang>.ipynb) from the exercise masters.")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--lang", choices=("en", "ja", "both"), default="both")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the hidden inputs (default: a fresh secret one; it is written "
                        "into the hidden tests and DIR/d2l_tconv_seed.json)")
    p.add_argument("--assignment", default="tconv",
                   help="assignment name prefix (default 'tconv': tconv_en, tconv_ja)")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="the kernel nbgrader executes notebooks in: 'bwrap' ipykernel inside "
                        "bubblewrap, 'none' nbgrader's plain python3 kernel, 'auto' (default) "
                        "bwrap where it works here, else none with a warning")
    args = p.parse_args(argv)
    langs = ["en", "ja"] if args.lang == "both" else [args.lang]
    seed = args.seed if args.seed is not None else secrets.randbits(62)
    try:
        sandboxed, kernel_note = sandbox_choice(args.sandbox)
        written = export(args.dir, langs, seed, args.assignment, sandboxed)
    except (FileNotFoundError, ValueError) as error:
        print(f"export-nbgrader: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(kernel_note, file=sys.stderr if kernel_note.startswith("WARNING") else sys.stdout)
    print(f"then, in {args.dir}: nbgrader generate_assignment {args.assignment}_{langs[0]}")
    return 0
