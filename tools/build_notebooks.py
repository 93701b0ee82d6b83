#!/usr/bin/env python
"""Build the section notebooks from one source and store what executing them prints.

    .venv/bin/python tools/build_notebooks.py            # build + execute both notebooks
    .venv/bin/python tools/build_notebooks.py --lang ja  # only the Japanese one
    .venv/bin/python tools/build_notebooks.py --check    # are the stored sources current?

The cells come from ``tools/notebook_content.py`` (shared code cells, per-language
markdown). Each notebook is executed with nbclient in a kernel of *this* interpreter
(``python3`` kernelspec name, as in Colab), with the notebook's folder as working
directory, so the stored outputs are exactly what execution printed; nbval re-executes
the notebooks in CI and compares.

The output is deterministic, so rebuilding does not churn the diff: cell ids are the
stable names given in the content module, execution timing metadata is not recorded,
``language_info`` keeps no interpreter version, and the build fails if an output holds an
absolute local path, a stderr stream (warnings) or an error.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import nbformat

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

import notebook_content as content  # noqa: E402
from notebook_exec import run_notebook  # noqa: E402

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


def notebook_path(lang: str) -> Path:
    return ROOT / content.NOTEBOOK_PATH.format(lang=lang)


def build(lang: str) -> nbformat.NotebookNode:
    """The notebook of ``lang`` without outputs."""
    cells = []
    for cell_id, kind, source in content.CELLS:
        text = content.cell_source(source, lang, kind)
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)
        cell["id"] = cell_id
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": dict(LANGUAGE_INFO),
        "colab": {"provenance": [], "toc_visible": True},
    }
    nbformat.validate(nb)
    return nb


_FORBIDDEN_IN_OUTPUT = [
    str(ROOT),
    str(Path.home()),
    tempfile.gettempdir() + "/",
    "/site-packages/",
]


def _check_outputs(nb: nbformat.NotebookNode, lang: str) -> None:
    problems = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"{cell.id}: error {output.ename}: {output.evalue}")
            if output.output_type == "stream" and output.name == "stderr":
                problems.append(f"{cell.id}: stderr output: {output.text[:200]!r}")
            text = nbformat.writes(nbformat.from_dict({"o": output}))  # any field
            for needle in _FORBIDDEN_IN_OUTPUT:
                if needle in text:
                    problems.append(f"{cell.id}: output contains the local path {needle!r}")
            if re.search(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text):
                problems.append(f"{cell.id}: output contains a timestamp")
    if problems:
        raise SystemExit(f"{lang}: refusing to store these outputs:\n  " + "\n  ".join(problems))


def execute(nb: nbformat.NotebookNode, lang: str, timeout: int = 600) -> nbformat.NotebookNode:
    """Run ``nb`` top to bottom in a fresh kernel, in the notebook's folder."""
    run_notebook(nb, notebook_path(lang).parent, timeout)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    _check_outputs(nb, lang)
    return nb


def write(nb: nbformat.NotebookNode, lang: str) -> Path:
    path = notebook_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    text = nbformat.writes(nb, version=4)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


def stale(lang: str) -> list[str]:
    """Differences between the built cells and the stored notebook (sources, ids, kinds)."""
    path = notebook_path(lang)
    if not path.exists():
        return [f"{path.relative_to(ROOT)} does not exist"]
    stored = nbformat.read(path, as_version=4)
    fresh = build(lang)
    problems = []
    stored_cells = [(c.id, c.cell_type, c.source) for c in stored.cells]
    fresh_cells = [(c.id, c.cell_type, c.source) for c in fresh.cells]
    if stored_cells != fresh_cells:
        problems.append(f"{path.relative_to(ROOT)}: cells differ from tools/notebook_content.py")
    if stored.metadata.get("kernelspec") != KERNELSPEC:
        problems.append(f"{path.relative_to(ROOT)}: kernelspec is not {KERNELSPEC}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=content.LANGS, action="append")
    parser.add_argument("--check", action="store_true", help="only compare sources, run nothing")
    args = parser.parse_args(argv)
    langs = args.lang or list(content.LANGS)
    if args.check:
        problems = [p for lang in langs for p in stale(lang)]
        print("\n".join(problems) or "notebooks are up to date")
        return 1 if problems else 0
    for lang in langs:
        nb = execute(build(lang), lang)
        print(f"wrote {write(nb, lang).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
