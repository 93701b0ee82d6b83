"""Build the exercise notebooks, the instructor's rubric and the grader's test fixtures.

    python tools/build_exercises.py            # write everything; execute the solutions
    python tools/build_exercises.py --check    # exit 1 if a written file is out of date

From the masters ``exercises/source/{en,ja}/exercises.md`` (MyST Markdown, one per language;
see ``tools/exercise_source.py``):

* ``exercises/student/exercises_{en,ja}.ipynb``: stubs and answer placeholders, no outputs;
* ``exercises/solutions/solutions_{en,ja}.ipynb``: executed with nbclient, so every stored
  output is what the code printed (CI re-runs them with nbval);
* ``exercises/instructor/rubric.md``: the rubric of the free-text answers
  (from ``d2l_tconv_grader/rubric.py``);
* ``tests/fixtures/submissions/``: the submissions the grader's tests grade
  (see ``tools/exercise_fixtures.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

import exercise_fixtures  # noqa: E402
import exercise_source  # noqa: E402
from notebook_exec import run_notebook  # noqa: E402

from d2l_tconv_grader.rubric import rubric_markdown  # noqa: E402

ROOT = exercise_source.ROOT
RUBRIC = ROOT / "exercises" / "instructor" / "rubric.md"


def notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every rendered notebook (without outputs), by repository path."""
    masters = exercise_source.load()
    return {
        exercise_source.notebook_path(kind, lang): exercise_source.render(masters, kind, lang)
        for kind in exercise_source.KINDS
        for lang in exercise_source.LANGS
    }


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def _sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def check() -> list[str]:
    """Paths whose content is not what the source gives (outputs of solutions not compared)."""
    stale = []
    for path, nb in notebooks().items():
        target = ROOT / path
        if not target.exists():
            stale.append(path)
            continue
        stored = nbformat.read(target, as_version=4)
        if _sources(stored) != _sources(nb) or stored.metadata.get("d2l_tconv") != nb.metadata[
                "d2l_tconv"]:
            stale.append(path)
        elif "student" in path and any(c.get("outputs") for c in stored.cells):
            stale.append(path)
    if not RUBRIC.exists() or RUBRIC.read_text(encoding="utf-8") != rubric_markdown():
        stale.append(str(RUBRIC.relative_to(ROOT)))
    stale.extend(exercise_fixtures.stale())
    return stale


def build(run: bool = True) -> None:
    for path, nb in notebooks().items():
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if run and "solutions" in path:
            print(f"executing {path} ...", flush=True)
            nb = run_notebook(nb, target.parent, timeout=300)
        target.write_text(dumps(nb), encoding="utf-8")
        print(f"wrote {path}")
    RUBRIC.parent.mkdir(parents=True, exist_ok=True)
    RUBRIC.write_text(rubric_markdown(), encoding="utf-8")
    print(f"wrote {RUBRIC.relative_to(ROOT)}")
    for path in exercise_fixtures.write():
        print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--no-execute", action="store_true",
                        help="write the solutions without running them (no outputs)")
    args = parser.parse_args(argv)
    if args.check:
        stale = check()
        for path in stale:
            print(f"out of date: {path} (run: python tools/build_exercises.py)")
        return 1 if stale else 0
    build(run=not args.no_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
