"""Every formula of the notebooks renders in KaTeX (Colab) and in MathJax 3 (JupyterLab 4).

The formulas are taken from the markdown cells (code spans and fenced code left out), their
``$``/``$$`` delimiters must pair up, and node renders each one with both engines through
``tools/mathcheck/check.js`` (installed by ``make env``: ``npm ci --prefix tools/mathcheck``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
MATHCHECK = ROOT / "tools" / "mathcheck"
NOTEBOOKS = [ROOT / "notebooks" / lang / "transposed_conv.ipynb" for lang in ("ja", "en")]

# The seed's paragraph whose formulas the machine translation cut in half.
SEED_BROKEN = (
    "その入力に重み行列を乗算し、ベクトル $\\mathbf{y を出力することで、畳み込みの順伝播関数を"
    "実装できます。 }=\\mathbf{W}\\mathbf{x}$。… 入力ベクトルに $\\mathbf{W}^\\top$ と "
    "$\\mathbf{W} を乗算します。 $、それぞれ。"
)


def strip_code(markdown: str) -> str:
    """Markdown without fenced code blocks and code spans (a ``$`` there is no formula)."""
    markdown = re.sub(r"^(```|~~~).*?^\1[ \t]*$", "", markdown, flags=re.S | re.M)
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown, flags=re.S)


def extract_math(markdown: str) -> tuple[list[tuple[str, bool]], list[str]]:
    """``([(tex, display), ...], problems)`` for one markdown text.

    ``$$...$$`` is display math, ``$...$`` inline math (not across a blank line); ``\\$``
    is a literal dollar. A delimiter left open, or an empty formula, is a problem.
    """
    text = strip_code(markdown).replace("\\$", "")
    formulas, problems = [], []
    i = 0
    while True:
        start = text.find("$", i)
        if start < 0:
            break
        display = text.startswith("$$", start)
        opener = "$$" if display else "$"
        end = text.find(opener, start + len(opener))
        inner = text[start + len(opener) : end] if end >= 0 else ""
        if end < 0 or (not display and "\n\n" in inner):
            problems.append(f"unclosed {opener} at: {text[start : start + 40]!r}")
            break
        if not inner.strip():
            problems.append(f"empty formula at: {text[start : start + 40]!r}")
        else:
            formulas.append((inner, display))
        i = end + len(opener)
    return formulas, problems


def notebook_formulas() -> list[dict]:
    items = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            formulas, problems = extract_math(cell.source)
            assert problems == [], f"{path.parent.name}/{cell.id}: {problems}"
            for n, (tex, display) in enumerate(formulas):
                items.append(
                    {"id": f"{path.parent.name}/{cell.id}#{n}", "tex": tex, "display": display}
                )
    return items


def render(items: list[dict]) -> tuple[int, dict]:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("node is not installed: cannot render the formulas")
    if (
        not (MATHCHECK / "node_modules" / "katex").is_dir()
        or not (MATHCHECK / "node_modules" / "mathjax-full").is_dir()
    ):
        skip_or_fail("tools/mathcheck/node_modules is missing: run `make env`")
    proc = subprocess.run(
        [node, str(MATHCHECK / "check.js")],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


# --- the extractor ----------------------------------------------------------------------------


def test_extractor_finds_inline_and_display_math_outside_code():
    md = "Cost `$HOME` and ```\n$x\n```\n a $k_h \\times k_w$ kernel and\n\n$$\\mathbf{y}=W x$$ end"
    formulas, problems = extract_math(md)
    assert problems == []
    assert formulas == [("k_h \\times k_w", False), ("\\mathbf{y}=W x", True)]


@pytest.mark.parametrize(
    "md", ["a $x + y b", "a $$x + y$ b", "para $x\n\nnext para$", "empty $$ here"]
)
def test_extractor_reports_unbalanced_or_empty_delimiters(md):
    _, problems = extract_math(md)
    assert problems


def test_every_markdown_cell_has_balanced_delimiters():
    assert len(notebook_formulas()) >= 40  # both notebooks; asserts no problems inside


# --- the renderers ----------------------------------------------------------------------------


def test_every_formula_renders_in_katex_and_mathjax():
    items = notebook_formulas()
    returncode, result = render(items)
    assert result["errors"] == []
    assert returncode == 0
    assert result["checked"] == len(items)
    assert result["katex"].startswith("0.16.") and result["mathjax"].startswith("3.2.")


def test_renderer_check_reports_broken_formulas():
    """The check can fail: a formula cut in half is reported by both engines."""
    items = [
        {"id": "ok", "tex": "\\mathbf{y}=\\mathbf{W}\\mathbf{x}", "display": False},
        {"id": "cut", "tex": "\\mathbf{y", "display": False},
        {"id": "unknown", "tex": "\\nablaa x", "display": True},
    ]
    formulas, _ = extract_math(SEED_BROKEN)
    items += [{"id": f"seed{n}", "tex": tex, "display": d} for n, (tex, d) in enumerate(formulas)]
    returncode, result = render(items)
    assert returncode == 1
    failed = {(e["id"], e["engine"]) for e in result["errors"]}
    for engine in ("katex", "mathjax"):
        assert ("cut", engine) in failed
        assert ("unknown", engine) in failed
        assert ("ok", engine) not in failed
    # the seed's cut formulas: "\mathbf{y を出力…。 }=\mathbf{W}\mathbf{x}" puts Japanese text
    # in math mode, "\mathbf{W} を乗算します。 " too; KaTeX (strict) rejects both
    assert ("seed0", "katex") in failed
    assert ("seed2", "katex") in failed
    assert ("seed1", "katex") not in failed  # \mathbf{W}^\top was intact
