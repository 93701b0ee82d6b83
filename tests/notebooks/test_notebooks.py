"""The section notebooks (notebooks/{ja,en}/transposed_conv.ipynb) and their sources (.md).

nbval re-executes them and compares every stored output; these tests check what nbval
cannot: that both languages hold the same code (comments aside) and outputs, that the
stored notebooks are what the build makes of the MyST sources, that the seed's cells and
outputs are all there, that the book's hand-written functions agree with PyTorch and with
their package twins, and that the markdown has no leftovers of the book's build roles and
no dangling links.
"""

from __future__ import annotations

import ast
import functools
import os
import re
from pathlib import Path

import build_notebooks
import nbformat
import pytest
import torch
import torch.nn.functional as F
from notebook_exec import KERNELSPEC

import d2l_tconv
from d2l_tconv.project import COLAB_BADGE_IMAGE, colab_badge, colab_setup_source, colab_url

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("ja", "en")
REL_PATH = "notebooks/{lang}/transposed_conv.ipynb"
SEED_NAME = "transposed-conv.ja.txt"
FIGURE_CELLS = {"fig-trans-conv": 1, "fig-trans-conv-stride2": 2}  # id -> stride
ANCHORS = {
    "sec-transposed-conv",
    "fig-trans-conv",
    "fig-trans-conv-stride2",
    "subsec-connection-to-mat-transposition",
    "references",
}
JA_CHAR = "[\u3040-\u30ff\u3400-\u9fff]"  # hiragana, katakana, kanji (not punctuation)


@functools.cache
def load(lang: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / REL_PATH.format(lang=lang), as_version=4)


def cells(lang: str, kind: str) -> list[nbformat.NotebookNode]:
    return [c for c in load(lang).cells if c.cell_type == kind]


def cell(lang: str, cell_id: str) -> nbformat.NotebookNode:
    (found,) = [c for c in load(lang).cells if c.id == cell_id]
    return found


def markdown(lang: str) -> str:
    return "\n\n".join(c.source for c in cells(lang, "markdown"))


def output_texts(code_cell) -> list[tuple[str, str]]:
    """What nbval compares: the text of each output (images are left out)."""
    texts = []
    for out in code_cell.outputs:
        if out.output_type == "stream":
            texts.append((out.name, out.text))
        elif out.output_type in ("execute_result", "display_data"):
            texts.append((out.output_type, out.data.get("text/plain", "")))
        else:
            texts.append((out.output_type, repr(out)))
    return texts


def run_cell(source: str, namespace: dict):
    """Execute a cell's source in ``namespace``; return the value of a final expression."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is not None:
        return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
    return None


# --- both languages -------------------------------------------------------------------------


def test_sources_have_the_same_code_in_both_languages():
    """The .md sources, not executed: same cells, same code apart from comments and lang=."""
    ja, en = (build_notebooks.read_source(build_notebooks.source_path(lang)) for lang in LANGS)
    assert build_notebooks.parity(ja, en) == []
    assert len([c for c in ja.cells if c.cell_type == "code"]) >= 14
    for cell_id in FIGURE_CELLS:  # the only lang= arguments: the figures' labels
        assert 'lang="ja"' in cell("ja", cell_id).source
        assert 'lang="en"' in cell("en", cell_id).source


def test_parity_sees_a_changed_line_but_not_a_translated_comment():
    def nb(*sources):
        cells = [nbformat.v4.new_code_cell(src) for src in sources]
        for i, c in enumerate(cells):
            c["id"] = f"c{i}"
        return nbformat.v4.new_notebook(cells=cells)

    ja = nb("x = 1  # 一\n# 二\ny = f(x, lang=\"ja\")")
    assert build_notebooks.parity(ja, nb("x = 1  # one\ny = f(x, lang=\"en\")")) == []
    assert build_notebooks.parity(ja, nb("x = 2\ny = f(x, lang=\"en\")")) != []
    assert build_notebooks.parity(ja, nb("x = 1\ny = f(x, lang=\"ja\")")) != []
    assert build_notebooks.parity(ja, nb("x = 1", "y")) != []


def test_both_notebooks_have_the_same_outputs():
    ja, en = cells("ja", "code"), cells("en", "code")
    assert [c.id for c in ja] == [c.id for c in en]
    for a, b in zip(ja, en, strict=True):
        if "NBVAL_IGNORE_OUTPUT" not in a.source:
            assert output_texts(a) == output_texts(b), a.id


@pytest.mark.parametrize("lang", LANGS)
def test_opening_badge_title_setup_and_environment(lang):
    nb = load(lang)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith(colab_badge(REL_PATH.format(lang=lang)))
    title = {"ja": "# 転置畳み込み", "en": "# Transposed Convolution"}[lang]
    assert title in first.source.splitlines()
    code = cells(lang, "code")
    assert code[0].id == "setup" and code[0].source == colab_setup_source(lang)
    assert "!pip" not in "".join(c.source for c in code)
    assert code[1].id == "in01-imports" and "device = d2l.try_gpu()" in code[1].source
    env = code[2]
    assert env.source.startswith("# NBVAL_IGNORE_OUTPUT")
    assert "d2l_tconv.show_environment(device" in env.source
    printed = "".join(o.get("text", "") for o in env.outputs)
    assert "torch" in printed and "device" in printed
    if lang == "ja":
        assert "CUDA GPU が" in printed


def makefile_kernelspec() -> dict[str, str]:
    """The kernel that ``make env`` installs, read from the Makefile's install line."""
    makefile = (ROOT / "Makefile").read_text()
    m = re.search(r'ipykernel install --sys-prefix --name (\S+) --display-name "([^"]+)"', makefile)
    assert m, "the Makefile no longer installs a named kernel"
    return {"name": m.group(1), "display_name": m.group(2), "language": "python"}


@pytest.mark.parametrize("lang", LANGS)
def test_metadata_is_what_jupyterlab_writes_on_open(lang):
    """JupyterLab copies the kernel's spec and language_info into an open notebook and marks
    it modified if they differ, so the stored ones must be what `make` installs."""
    from ipykernel.ipkernel import IPythonKernel  # what the kernel reports on start

    assert KERNELSPEC == makefile_kernelspec()
    metadata = load(lang).metadata
    assert metadata.kernelspec == KERNELSPEC
    stored, reported = dict(metadata.language_info), dict(IPythonKernel.language_info)
    # The build's interpreter wrote its full version; another machine may differ in the
    # patch level only (make and CI use Python 3.11).
    stored_version, version = stored.pop("version"), reported.pop("version")
    assert stored == reported
    source_header = build_notebooks.jupytext.read(build_notebooks.source_path(lang)).metadata
    assert source_header["kernelspec"] == KERNELSPEC  # opening the .md as a notebook agrees
    if stored_version.split(".")[:2] != version.split(".")[:2]:
        # e.g. `make test` on a machine whose python3 is 3.12 (Colab): the stored notebooks
        # cannot match every Python; the check of the version belongs to the build's Python.
        pytest.skip(f"notebooks built with Python {stored_version}; this kernel is {version}")


@pytest.mark.parametrize("lang", LANGS)
def test_stored_outputs_are_clean_and_in_order(lang):
    """Executed top to bottom once; no errors, warnings, local paths or timing metadata."""
    code = cells(lang, "code")
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    for c in code:
        assert "execution" not in c.metadata, c.id
        for out in c.outputs:
            assert out.output_type != "error", c.id
            assert not (out.output_type == "stream" and out.name == "stderr"), c.id
    text = (ROOT / REL_PATH.format(lang=lang)).read_text(encoding="utf-8")
    for local in {str(ROOT), str(Path.home()), "/tmp/", "site-packages"}:
        assert local not in text
    for cell_id in FIGURE_CELLS:
        (out,) = cell(lang, cell_id).outputs
        assert set(out.data) == {"image/png", "text/plain"}
        assert re.fullmatch(r"<Figure size [\d.]+x[\d.]+ with \d+ Axes>", out.data["text/plain"])


@pytest.mark.parametrize("lang", LANGS)
def test_widgets_are_stored_as_their_still_image(lang):
    """No widget view or widget state is stored (random model ids, a CDN without a kernel):
    the explorer's cell keeps the still image that every viewer shows."""
    nb = load(lang)
    assert "widgets" not in nb.metadata
    views = [c.id for c in cells(lang, "code") for out in c.outputs
             if build_notebooks.WIDGET_VIEW in out.get("data", {})]
    assert views == []
    explorer = [c for c in cells(lang, "code") if "d2l_tconv.explore(" in c.source]
    assert explorer and all(
        any("image/png" in out.get("data", {}) for out in c.outputs) for c in explorer)


@pytest.mark.parametrize("lang", LANGS)
def test_notebook_sources_are_what_the_build_makes(lang):
    """Nobody edited a notebook by hand: its cells are those of notebooks/<lang>/*.md."""
    assert build_notebooks.stale(lang) == []


# --- the seed's cells -------------------------------------------------------------------------


def seed_path() -> Path | None:
    candidates = [
        os.environ.get("D2L_TCONV_SEED"),
        ROOT / "tests" / "data" / SEED_NAME,  # a copy of ../shared/seed, kept in the repo
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def seed_cells(text: str) -> dict[int, tuple[str, str | None]]:
    """``{n: (code, output)}`` for the seed's ``In [n]:`` cells (its Colab text export)."""
    found = {}
    for m in re.finditer(r"^In \[(\d+)\]:\n(.*?)(?=\n\n\n|\Z)", text, flags=re.S | re.M):
        chunks = m.group(2).rstrip("\n").split("\n\n")
        output = None
        if len(chunks) > 1 and chunks[-1].startswith(("tensor(", "True", "False")):
            output = chunks.pop()
        found[int(m.group(1))] = ("\n\n".join(chunks), output)
    return found


# The edits the notebooks make to the seed's code: compute on `device`, seed the random cell.
_DEVICE_EDITS = [
    (re.compile(r"\s*#.*$", re.M), ""),
    (re.compile(r", device=(?:device|X\.device|K\.device)"), ""),
    (re.compile(r"\.to\(device\)"), ""),
]
_ADDED_LINES = {"import d2l_tconv", "device = d2l.try_gpu()", "_ = torch.manual_seed(0)"}


def normalize(code: str) -> list[str]:
    for pattern, repl in _DEVICE_EDITS:
        code = pattern.sub(repl, code)
    return [line.rstrip() for line in code.splitlines() if line.strip()]


def test_seed_parser_finds_eleven_cells():
    text = "In [1]:\nimport torch\n\n\nText\n\nIn [2]:\nx = 1\n\nx\n\ntensor([1.])\n\n\nMore"
    assert seed_cells(text) == {1: ("import torch", None), 2: ("x = 1\n\nx", "tensor([1.])")}


@pytest.mark.parametrize("lang", LANGS)
def test_every_seed_cell_with_its_output(lang):
    path = seed_path()
    if path is None:
        pytest.fail(f"seed {SEED_NAME} not found in tests/data (or D2L_TCONV_SEED)")
    seed = seed_cells(path.read_text(encoding="utf-8"))
    assert sorted(seed) == list(range(1, 12))
    by_number = {int(c.id[2:4]): c for c in cells(lang, "code") if re.match(r"in\d\d-", c.id)}
    assert sorted(by_number) == list(range(1, 12))
    for n, (seed_code, seed_output) in seed.items():
        nb_cell = by_number[n]
        lines = [line for line in normalize(nb_cell.source) if line not in _ADDED_LINES]
        assert lines == normalize(seed_code), f"In [{n}]"
        texts = [text for kind, text in output_texts(nb_cell) if kind == "execute_result"]
        assert texts == ([seed_output] if seed_output is not None else []), f"In [{n}]"
    assert "torch.manual_seed(0)" in by_number[7].source  # the random cell is seeded


# --- the book's functions, as the notebook defines them -----------------------------------


def book_function(cell_id: str, name: str, **namespace):
    ns = {"torch": torch, **namespace}
    run_cell(cell("en", cell_id).source, ns)
    return ns[name]


def test_book_cells_are_the_same_in_both_languages():
    for cell_id in ("in02-trans-conv", "in09-kernel2matrix"):
        assert cell("ja", cell_id).source == cell("en", cell_id).source


def test_book_trans_conv_matches_pytorch_and_the_package(device):
    trans_conv = book_function("in02-trans-conv", "trans_conv")
    gen = torch.Generator().manual_seed(0)
    for (n_h, n_w), (k_h, k_w) in [((2, 2), (2, 2)), ((3, 4), (2, 3)), ((1, 5), (3, 1))]:
        X = torch.randn(n_h, n_w, generator=gen).to(device)
        K = torch.randn(k_h, k_w, generator=gen).to(device)
        Y = trans_conv(X, K)
        assert Y.device == X.device
        expected = F.conv_transpose2d(X[None, None], K[None, None])[0, 0]
        torch.testing.assert_close(Y, expected)
        torch.testing.assert_close(d2l_tconv.trans_conv(X, K), Y)


def test_book_kernel2matrix_matches_pytorch_and_the_package(device):
    gen = torch.Generator().manual_seed(1)
    K = torch.randn(2, 2, generator=gen).to(device)
    kernel2matrix = book_function("in09-kernel2matrix", "kernel2matrix", K=K)
    W = kernel2matrix(K)
    assert W.shape == (4, 9) and W.device == K.device
    torch.testing.assert_close(W, d2l_tconv.kernel2matrix(K, (3, 3)))
    X = torch.randn(3, 3, generator=gen).to(device)
    conv = F.conv2d(X[None, None], K[None, None])[0, 0]
    torch.testing.assert_close((W @ X.reshape(-1)).reshape(2, 2), conv)
    Y = torch.randn(2, 2, generator=gen).to(device)
    tconv = F.conv_transpose2d(Y[None, None], K[None, None])[0, 0]
    torch.testing.assert_close((W.T @ Y.reshape(-1)).reshape(3, 3), tconv)


# --- markdown: roles, links, attribution ------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("lang", LANGS)
def test_no_book_build_leftovers(lang):
    text = markdown(lang)
    for leftover in (":numref:", ":label:", ":cite:", "[**", "**]", "【", "】", "d2l==1.0.0"):
        assert leftover not in text, leftover
    # remote images do not show offline: the only one allowed is the "Open in Colab" badge
    remote = re.findall(r"!\[[^\]]*\]\((https?://[^)\s]+)\)", text)
    assert remote == [COLAB_BADGE_IMAGE]


@pytest.mark.parametrize("lang", LANGS)
def test_internal_anchors_resolve(lang):
    text = markdown(lang)
    defined = re.findall(r'<a id="([^"]+)"></a>', text)
    assert len(defined) == len(set(defined))
    assert set(defined) == ANCHORS
    targets = {t[1:] for t in LINK.findall(text) if t.startswith("#")}
    assert targets <= set(defined)
    assert {"fig-trans-conv", "fig-trans-conv-stride2", "references"} <= targets
    assert "subsec-connection-to-mat-transposition" in targets
    # each figure anchor sits right before the cell that draws that figure
    ids = [c.id for c in load(lang).cells]
    for fig in FIGURE_CELLS:
        caption = load(lang).cells[ids.index(fig) - 1]
        assert f'<a id="{fig}"></a>' in caption.source


@pytest.mark.parametrize("lang", LANGS)
def test_relative_links_resolve(lang):
    folder = (ROOT / REL_PATH.format(lang=lang)).parent
    relative = [t for t in LINK.findall(markdown(lang)) if not t.startswith(("#", "http"))]
    assert "../../exercises/README.md" in relative
    for target in relative:
        assert (folder / target.split("#")[0]).resolve().exists(), target


@pytest.mark.parametrize("lang", LANGS)
def test_cross_references_attribution_and_exercises(lang):
    text = markdown(lang)
    targets = set(LINK.findall(text))
    assert "https://d2l.ai/chapter_convolutional-neural-networks/conv-layer.html" in targets
    assert "https://d2l.ai/chapter_convolutional-neural-networks/pooling.html" in targets
    assert "https://discuss.d2l.ai/t/1450" in targets
    assert "CC BY-SA 4.0" in text
    citation = (
        "Dumoulin, V., & Visin, F. (2016). A guide to convolution arithmetic for deep learning. "
        "arXiv:1603.07285."
    )
    assert citation in " ".join(text.split())
    for student in ("exercises_en.ipynb", "exercises_ja.ipynb"):
        assert colab_url(f"exercises/student/{student}") in targets


def _inline_spans(text: str) -> list[str]:
    """Code spans and inline formulas, with a character of context on each side."""
    return re.findall(r".?`[^`\n]+`.?", text) + re.findall(r".?(?<!\$)\$[^$\n]+\$(?!\$).?", text)


# Phrases of the seed's machine translation that must not come back (each was an error).
SEED_ERRORS = [
    "高さと重み",
    "価値を持って",
    "パディング番号",
    "カーネル ウィンドウ",
    "カーネル テンソル",
    "コード スニペット",
    "コンボリューション",
    "マトリックス",
    "トランスポーズ",
    "高レベル API",
    "チャンネル",
    "連鎖則",
    "。 。",
    "置き換えます",
    "置換された",
    "実験的なもの",
    "Github の問題",
    "転置された畳み込み出力",
    "行列の乗算を使用して畳み込みを実装しただけ",
    "$、それぞれ",
    "$\\mathbf{y を",
]


def test_japanese_text_has_none_of_the_seed_errors():
    text = markdown("ja")
    for phrase in SEED_ERRORS:
        assert phrase not in text, phrase
    assert "?" not in re.sub(r"\]\([^)]*\)", "]()", text)  # 全角「？」 or none, not "?"
    for term in (
        "転置畳み込み",
        "ストライド",
        "パディング",
        "チャネル",
        "カーネル",
        "中間テンソル",
    ):
        assert term in text, term
    for term in ("順伝播", "逆伝播", "連鎖律"):
        assert term in text, term


def test_japanese_keeps_code_and_formulas_apart_from_words():
    """`K`両方 / $x$の: a code span or formula glued to kana or kanji (the seed's slips)."""
    for span in _inline_spans(markdown("ja")):
        assert not re.match(JA_CHAR, span[0]) and not re.match(JA_CHAR, span[-1]), span


def test_japanese_paragraphs_have_no_line_breaks_between_characters():
    """A line break inside a paragraph renders as a space: 「カーネル ウィンドウ」."""
    text = markdown("ja")
    assert not re.search(f"{JA_CHAR}\n{JA_CHAR}", text)
    assert not re.search(f"{JA_CHAR} {JA_CHAR}", text)


def test_english_notebook_is_in_english():
    text = markdown("en").replace("[日本語]", "[]")
    assert not re.search(JA_CHAR, text)


# --- wording: one term for one thing, in each language ---------------------------------------

NBSP = "\u00a0"


def test_japanese_uses_one_term_for_each_thing():
    """足し込む (not 書き込む), 行列積 (not 行列の乗算), ピクセル (not 画素): the terms the
    exercises use too."""
    text = markdown("ja")
    for chosen, avoided in (("足し込", "書き込"), ("行列積", "行列の乗算"), ("ピクセル", "画素")):
        assert chosen in text, chosen
        assert avoided not in text, avoided


def test_japanese_marks_links_to_english_pages():
    text = markdown("ja")
    english = [m for m in re.finditer(r"\[([^\]]*)\]\((https?://[^)\s]+)\)(.{0,5})", text, re.S)
               if re.match(r"https?://(discuss\.)?d2l\.ai/", m.group(2))]
    assert len(english) >= 5
    for m in english:
        label, after = m.group(1), m.group(3)
        assert "（英語）" in label or re.match("」?(（英語）|、英語）)", after), m.group(0)


def test_japanese_punctuation_next_to_japanese_words():
    """「開く：[日本語](…)・[English](…)」, not 「開く: … ・ …」."""
    text = markdown("ja")
    assert not re.search(f"{JA_CHAR}[:;,?!] ", text)
    assert " ・ " not in text
    assert "Colab で演習ノートブックを開く：[日本語](" in text


def test_japanese_rewritten_sentences():
    text = markdown("ja")
    # the calque of the channel rule (cell "channels-text" and the summary), rewritten
    assert "を出力し、出力チャネル数が" not in text
    rule = "畳み込み層 $f$ に $\\mathsf{X}$ を入力したときの出力を $\\mathsf{Y}=f(\\mathsf{X})$ とします。"
    assert rule in cell("ja", "channels-text").source and rule in cell("ja", "summary").source
    # one parenthetical aside per sentence where two in a row were hard to parse
    for sentence in cell("ja", "verify-text").source.split("。"):
        assert sentence.count("（") <= 1, sentence


@pytest.mark.parametrize("lang", LANGS)
def test_package_note_follows_the_cell_it_is_about(lang):
    """"The high-level API gives the same result", then that cell, then the note on
    d2l_tconv.trans_conv (not between the sentence and the cell)."""
    ids = [c.id for c in load(lang).cells]
    i = ids.index("in04-high-level-api")
    assert ids[i - 1] == "high-level-text" and ids[i + 1] == "trans-conv-package-text"
    assert "d2l_tconv" not in cell(lang, "high-level-text").source
    assert "`d2l_tconv.trans_conv`" in cell(lang, "trans-conv-package-text").source


BRITISH = (  # British spellings that d2l (US English) writes otherwise
    r"\b(colour\w*|licence\w*|behaviour\w*|centre\w*|\w+isations?|grey|analys(e|ed|ing)"
    r"|(initiali|normali|visuali|organi|summari|generali|recogni)s(e|ed|es|ing)"
    r"|labell(ed|ing)|modell(ed|ing))\b"
)


def test_english_is_us_english_and_adapted():
    text = markdown("en")
    code_comments = "\n".join(line for c in cells("en", "code") for line in c.source.splitlines()
                              if line.lstrip().startswith("#"))
    for where in (text, code_comments):
        assert not re.findall(BRITISH, where, flags=re.I)
        assert not re.search(r"\bnon[- ]zero", where, flags=re.I)  # "nonzero", one word
    assert "nonzero" in text
    assert "adapted from section 14.10" in text and "translated" not in text


def test_british_spelling_check_catches_them():
    for word in ("colour", "licence", "initialised", "normalise", "labelled", "centre"):
        assert re.search(BRITISH, f"a {word} here", flags=re.I), word
    for word in ("color", "license", "initialized", "generalized", "raise", "otherwise"):
        assert not re.search(BRITISH, f"a {word} here", flags=re.I), word


@pytest.mark.parametrize(("lang", "word"), [("en", "Figure"), ("ja", "図")])
def test_figure_numbers_stay_with_their_word(lang, word):
    """A non-breaking space in "Figure 1": a line break never separates the word and number."""
    text = markdown(lang)
    assert not re.search(f"{word}[ \n]\\d", text)
    for n in (1, 2):
        assert f"[{word}{NBSP}{n}](#" in text and f"**{word}{NBSP}{n}:**" in text


# --- the same stored outputs on a CUDA GPU ----------------------------------------------------

def _sanitized(text: str) -> str:
    """``text`` after tests/nbval_sanitize.cfg's rules, applied in order as nbval applies them."""
    import configparser

    rules = configparser.ConfigParser()
    rules.read(ROOT / "tests" / "nbval_sanitize.cfg", encoding="utf-8")
    for section in rules.sections():
        text = re.sub(rules[section]["regex"], rules[section]["replace"], text)
    return text


def test_sanitizing_makes_a_cuda_tensor_print_as_the_stored_cpu_one():
    """What PyTorch printed on an H200 for the notebooks' last padding check (the device added,
    so grad_fn moves to a new line) sanitizes to what it prints on the CPU (one line)."""
    tconv = torch.nn.ConvTranspose2d(1, 1, kernel_size=3, stride=2, padding=1, output_padding=1,
                                     bias=False)
    tconv.weight.data = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 1.0], [2.0, 0.0, 1.0]])[None, None]
    cpu = repr(tconv(torch.tensor([[0.0, 1.0], [2.0, 3.0]])[None, None]))
    values, end = cpu.split(", grad_fn=")
    cuda = f"{values}, device='cuda:0',\n       grad_fn={end}"  # as printed there
    assert _sanitized(cuda) == _sanitized(cpu)
