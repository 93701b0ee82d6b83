#!/usr/bin/env python
"""Build the section notebooks from their MyST Markdown sources and store what executing them prints.

    .venv/bin/python tools/build_notebooks.py            # build + execute both notebooks
    .venv/bin/python tools/build_notebooks.py --lang ja  # only the Japanese one
    .venv/bin/python tools/build_notebooks.py --check    # stored notebooks current, code in step?

The source of ``notebooks/<lang>/transposed_conv.ipynb`` is ``notebooks/<lang>/transposed_conv.md``
(Jupytext's MyST format: ``+++ {"id": ...}`` starts a markdown cell, ```` ```{code-cell} ````
a code cell, ``:id:`` names it). Each notebook is executed with nbclient in a kernel of *this*
interpreter, with the notebook's folder as working directory, so the stored outputs are exactly
what execution printed; nbval re-executes the notebooks in CI and compares.

The output is deterministic, so rebuilding does not churn the diff: cell ids are the stable
names of the sources' ``id`` metadata (Jupytext keeps no nbformat ids), execution timing is
not recorded, and the build fails if an output holds an absolute local path, a stderr stream
(warnings) or an error.
"""

from __future__ import annotations

import argparse
import io
import re
import tempfile
import tokenize
from pathlib import Path

import jupytext
import nbformat
from notebook_exec import KERNELSPEC, kernel_metadata, run_notebook

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("ja", "en")
SOURCE = "notebooks/{lang}/transposed_conv.md"
COLAB_METADATA = {"provenance": [], "toc_visible": True}


def source_path(lang: str) -> Path:
    return ROOT / SOURCE.format(lang=lang)


def notebook_path(lang: str) -> Path:
    return source_path(lang).with_suffix(".ipynb")


def read_source(path: Path) -> nbformat.NotebookNode:
    """The cells of a MyST source, each with the id given in its metadata."""
    text = jupytext.read(path, fmt="md:myst")
    cells, seen = [], set()
    for position, parsed in enumerate(text.cells, 1):
        metadata = dict(parsed.metadata)
        cell_id = metadata.pop("id", None)
        if not cell_id or cell_id in seen:
            raise SystemExit(f"{path}: cell {position} needs a unique id, got {cell_id!r}")
        seen.add(cell_id)
        new = nbformat.v4.new_code_cell if parsed.cell_type == "code" else (
            nbformat.v4.new_markdown_cell)
        cell = new(parsed.source, metadata=metadata)
        cell["id"] = cell_id
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def build(lang: str) -> nbformat.NotebookNode:
    """The notebook of ``lang`` without outputs."""
    nb = read_source(source_path(lang))
    nb.metadata = {**kernel_metadata(), "colab": dict(COLAB_METADATA)}
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


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def keep_widget_fallbacks(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Store a widget's still image, not the widget: drop the widget views (their model ids
    are random, and without a kernel they need the widget library from a CDN) and the widget
    state; the ``image/png`` and ``text/plain`` beside each view stay. Run live, the cell
    shows the widget again."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                del out.data[WIDGET_VIEW]
    nb.metadata.pop("widgets", None)
    return nb


def execute(nb: nbformat.NotebookNode, lang: str, timeout: int = 600) -> nbformat.NotebookNode:
    """Run ``nb`` top to bottom in a fresh kernel, in the notebook's folder."""
    run_notebook(nb, notebook_path(lang).parent, timeout)
    keep_widget_fallbacks(nb)
    _check_outputs(nb, lang)
    return nb


def write(nb: nbformat.NotebookNode, lang: str) -> Path:
    path = notebook_path(lang)
    nbformat.validate(nb)
    text = nbformat.writes(nb, version=4)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


def stale(lang: str) -> list[str]:
    """Differences between the cells built from the source and the stored notebook."""
    path = notebook_path(lang)
    if not path.exists():
        return [f"{path.relative_to(ROOT)} does not exist"]
    stored = nbformat.read(path, as_version=4)
    fresh = build(lang)
    problems = []
    stored_cells = [(c.id, c.cell_type, c.source, c.metadata) for c in stored.cells]
    fresh_cells = [(c.id, c.cell_type, c.source, c.metadata) for c in fresh.cells]
    if stored_cells != fresh_cells:
        source = source_path(lang).relative_to(ROOT)
        problems.append(f"{path.relative_to(ROOT)}: cells differ from {source} (make notebooks)")
    if stored.metadata.get("kernelspec") != KERNELSPEC:
        problems.append(f"{path.relative_to(ROOT)}: kernelspec is not {KERNELSPEC}")
    return problems


def code_tokens(source: str, lang: str) -> list[tuple[int, str]]:
    """The tokens of a code cell without its comments, with ``lang="<lang>"`` made neutral.

    Comments follow the notebook's language and a ``lang=`` argument names it: everything
    else in the code must be the same in both languages.
    """
    tokens = [
        (tok.type, tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type not in (tokenize.COMMENT, tokenize.NL)
    ]
    for i in range(2, len(tokens)):
        if tokens[i - 2 : i] == [(tokenize.NAME, "lang"), (tokenize.OP, "=")] and tokens[i] == (
            tokenize.STRING,
            f'"{lang}"',
        ):
            tokens[i] = (tokenize.STRING, '"<lang>"')
    return tokens


def parity(a: nbformat.NotebookNode, b: nbformat.NotebookNode, langs=LANGS) -> list[str]:
    """Where two languages' notebooks differ in anything but prose, comments and ``lang=``.

    Both need the same cells (ids, kinds, order). The Colab set-up cell is left out: it is
    ``d2l_tconv.project.colab_setup_source(lang)``, checked by the tests.
    """
    shape_a = [(c.id, c.cell_type) for c in a.cells]
    shape_b = [(c.id, c.cell_type) for c in b.cells]
    if shape_a != shape_b:
        return [f"the cells differ in ids, kinds or order: {shape_a} != {shape_b}"]
    return [
        f"code cell {x.id} differs between {langs[0]} and {langs[1]} (comments aside)"
        for x, y in zip(a.cells, b.cells, strict=True)
        if x.cell_type == "code"
        and x.id != "setup"
        and code_tokens(x.source, langs[0]) != code_tokens(y.source, langs[1])
    ]


def check(langs: list[str]) -> list[str]:
    """Everything ``--check`` reports: stale notebooks and code that differs by language."""
    problems = [p for lang in langs for p in stale(lang)]
    sources = {lang: read_source(source_path(lang)) for lang in LANGS}
    return problems + parity(sources["ja"], sources["en"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=LANGS, action="append")
    parser.add_argument("--check", action="store_true", help="only compare sources, run nothing")
    args = parser.parse_args(argv)
    langs = args.lang or list(LANGS)
    if args.check:
        problems = check(langs)
        print("\n".join(problems) or "notebooks are up to date")
        return 1 if problems else 0
    for lang in langs:
        nb = execute(build(lang), lang)
        print(f"wrote {write(nb, lang).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
