"""The fixture submissions the grader's tests grade (``tests/fixtures/submissions``).

Generated from the exercise source, so that they follow it: ``correct_en`` is the English
student notebook filled in with the solutions, and most other fixtures change it in one
place. The cheat fixtures are small notebooks built around one trick each.

They are stored as ``<name>.fixture`` (notebook JSON, or deliberately broken text), not as
``.ipynb``: they are data for the grader's tests, and neither nbval nor ruff should run them.
The test copies each to ``<name>.ipynb``. Fixtures named ``*.template`` contain
``{{REPO}}``, ``{{SUBMISSIONS}}`` and ``{{OUT}}``, which the test replaces with the real
paths before grading.

    python tools/exercise_fixtures.py    # or: python tools/build_exercises.py
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

import exercise_source  # noqa: E402

from d2l_tconv.project import colab_setup_source  # noqa: E402

FIXTURES_DIR = exercise_source.ROOT / "tests" / "fixtures" / "submissions"


def _completed(lang: str = "en") -> nbformat.NotebookNode:
    return exercise_source.render(exercise_source.load(), "student", lang, filled=True)


def _stub(lang: str = "en") -> nbformat.NotebookNode:
    return exercise_source.render(exercise_source.load(), "student", lang)


def _find(nb: nbformat.NotebookNode, needle: str) -> int:
    hits = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and needle in c.source]
    if len(hits) != 1:
        raise ValueError(f"{needle!r} is in {len(hits)} code cells, expected 1")
    return hits[0]


def _replace(nb: nbformat.NotebookNode, old: str, new: str) -> nbformat.NotebookNode:
    cell = nb.cells[_find(nb, old)]
    cell.source = cell.source.replace(old, new)
    return nb


def _insert_after(nb: nbformat.NotebookNode, needle: str, *sources: str
                  ) -> nbformat.NotebookNode:
    index = _find(nb, needle)
    for offset, source in enumerate(sources, start=1):
        nb.cells.insert(index + offset, nbformat.v4.new_code_cell(source))
    return nb


def _small(*sources: str) -> nbformat.NotebookNode:
    """A short notebook: the setup cell, then ``sources``; answers 1c and 2b correct."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Exercises"),
                nbformat.v4.new_code_cell(colab_setup_source("en")),
                *(nbformat.v4.new_code_cell(s) for s in sources),
                nbformat.v4.new_code_cell("rank_WtW, WtW_is_identity = 4, False\n"
                                          "bytes_dense_224 = 222 * 222 * 224 * 224 * 4\n"
                                          "bytes_kernel_224 = 9 * 4")]
    return nb


def correct_en():
    return _completed("en")


def untouched_ja():
    return _stub("ja")


def partly_wrong_ja():
    nb = _completed("ja")
    _replace(nb, "Z = trans_conv(Y, K)", "Z = X.clone()  # まちがい")
    _replace(nb, "WtW_is_identity = bool(torch.allclose(WtW, torch.eye(9)))",
             "WtW_is_identity = True")
    _replace(nb, "oh, ow = h - kh + 1, w - kw + 1\n    W = torch.zeros",
             "oh, ow = h - kh, w - kw + 1\n    W = torch.zeros")
    _replace(nb, "    (h, w), (kh, kw) = input_shape, kernel_shape\n",
             "    raise NotImplementedError()\n    (h, w), (kh, kw) = input_shape, kernel_shape\n")
    _replace(nb, "bytes_dense_224 = count_W((224, 224), (3, 3))[0] * float32_bytes",
             "bytes_dense_224 = 9.9e9")
    _replace(nb, "dense_bytes.append(W_n.element_size() * W_n.nelement())",
             "dense_bytes.append(W_n.nelement())")
    return nb


def raises_top_level():
    nb = _completed("en")
    _insert_after(nb, "set_language(", "undefined_helper()")
    _replace(nb, "WtW = W.T @ W", 'raise ValueError("not sure yet")\nWtW = W.T @ W')
    return nb


def syntax_error():
    return _replace(_completed("en"), "def conv_by_matmul(X, K):", "def conv_by_matmul(X, K)")


def invalid_json():
    return '{"cells": [{"cell_type": "code", "source": "Z = 1"'


def not_a_notebook():
    return '{"name": "alice", "answers": {"Z": [[27, 91, 74]]}}\n'


def empty():
    return nbformat.v4.new_notebook()


def infinite_loop():
    return _insert_after(_completed("en"), 'check("1c"', "while True:\n    pass")


def unstoppable_loop():
    return _insert_after(_completed("en"), 'check("1e"',
                         "while True:  # catches the time-limit interruption\n"
                         "    try:\n        time.sleep(0.2)\n    except BaseException:\n"
                         "        pass")


def memory_hog():
    return _insert_after(_completed("en"), 'check("2a"', "hog = torch.empty(10**11)",
                         "hog = [bytes(10**8) for _ in range(10**4)]  # 1 TB, asked 100 MB at a time")


def fake_pass():
    return _small('print("All tests passed!")', 'print("✓ 1a: Z passes the public check.")')


def redefines_check():
    return _small("from d2l_tconv.exercise_checks import check\n",
                  "def check(*answers, **kwargs):\n    print('fine')")


def monkeypatch_torch():
    return _small("import torch\n"
                  "torch.allclose = lambda *args, **kwargs: True\n"
                  "torch.equal = lambda *args, **kwargs: True",
                  "Z = torch.zeros(3, 3)")


def monkeypatch_transformer():
    return _small("get_ipython().input_transformers_cleanup.append(\n"
                  "    lambda lines: [line.replace('assert ', 'assert True or ') for line in lines])")


def monkeypatch_otter():
    return _small("import otter\n"
                  "otter.test_files.ok_test.run_doctest = lambda *args, **kwargs: (True, '')")


def monkeypatch_grader():
    return _small("import d2l_tconv_grader.hidden as hidden\n"
                  "hidden.score_values = lambda *args, **kwargs: None")


def always_equal():
    return _small("class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n\n"
                  "    def __ne__(self, other):\n        return False\n\n\n"
                  "Z = WtW = AlwaysEqual()\n\n\n"
                  "def my_kernel2matrix(K, input_shape):\n    return AlwaysEqual()")


def reads_solutions_template():
    return _small("print(open('{{REPO}}/exercises/solutions/solutions_en.ipynb').read()[:100])",
                  "print(open('{{REPO}}/d2l_tconv_grader/hidden.py').read()[:100])",
                  "import d2l_tconv_grader")


def imports_reference():
    nb = _completed("en")
    _insert_after(nb, "set_language(", "from d2l_tconv import kernel2matrix")
    cell = nb.cells[_find(nb, "def my_kernel2matrix(K, input_shape):")]
    cell.source = ("def my_kernel2matrix(K, input_shape):\n"
                   "    return kernel2matrix(K, input_shape)")
    return nb


def escapes_template():
    return _small("open('{{OUT}}/gradebook.csv', 'w').write('alice,1a,100,1,ok\\n')",
                  "open('{{SUBMISSIONS}}/correct_en.ipynb', 'a').write(' ')",
                  "open('{{REPO}}/pyproject.toml', 'a').write(' ')",
                  "open('/etc/d2l-tconv-escape', 'w').write('x')",
                  "import os\nos.fork()")


def network():
    return _small("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)",
                  "import urllib.request\nurllib.request.urlopen('https://pypi.org', timeout=3)")



# --- attacks on the grader itself (issue 8): each must gain nothing and stop nothing ---------
# The test grades them beside correct_en and untouched_ja; some are copied under hostile file
# names there (tests/grader/test_grade_fixtures.py, ATTACK_FILE_NAMES).

def _set_cell(nb: nbformat.NotebookNode, needle: str, source: str) -> nbformat.NotebookNode:
    nb.cells[_find(nb, needle)].source = source
    return nb


_ONE_HOT = ("    (h, w), (kh, kw) = input_shape, K.shape\n"
            "    basis = torch.eye(h * w, dtype=K.dtype).reshape(h * w, 1, h, w)\n")


def attack_deep_json():
    return "[" * 100_000 + "]" * 100_000


def attack_huge_int():
    text = nbformat.writes(_completed("en"))
    return text.replace("{", '{\n "x_extra": ' + "7" * 5000 + ",", 1) + "\n"


def attack_chained_plus():
    return _insert_after(_completed("en"), 'check("1a"', "chain = 1" + " + 1" * 600)


def attack_regex_bomb():
    # 1a is missing, so the grader searches this 90 KB syntax-error cell for "Z = ..."
    return _insert_after(_stub("en"), 'check("1a"', "Z," * 45_000)


def attack_huge_cell():
    return _insert_after(_completed("en"), 'check("1a"', "Z," * 300_000)


def attack_forged_channel():
    forged = [
        '{"event": "part", "id": "1b", "stage": "x", "values": {"WtW": ' + "9" * 5000 + "}}",
        '{"event": "part", "id": "1a", "stage": "x", "values": {"Z": {"__tensor__": '
        '{"dtype": "float32", "shape": [1], "data": [' + "9" * 400 + "]}}}}",
        '{"event": "stopped", "reason": "x\\n\\n## Flagged submissions\\n\\nNone.\\n\\n'
        '## Failures\\n\\nNone.\\n\\n<!--"}',
    ]
    return _insert_after(
        _completed("en"), 'check("2d"',
        "lines = " + repr(forged) + "\n"
        "for n in range(3, 64):  # the results channel is one of the open descriptors\n"
        "    try:\n"
        "        with open('/proc/self/fd/' + str(n), 'a') as channel:\n"
        "            channel.write('\\n'.join(lines) + '\\n')\n"
        "    except OSError:\n"
        "        pass")


def attack_conv3d():
    nb = _completed("en")
    _set_cell(nb, "def my_kernel2matrix(K, input_shape):",
              "def my_kernel2matrix(K, input_shape):\n" + _ONE_HOT +
              "    Y = F.conv3d(basis[:, :, None], K[None, None, None])\n"
              "    return Y.reshape(h * w, -1).T")
    return _set_cell(nb, "def conv_by_matmul(X, K):",
                     "def conv_by_matmul(X, K):\n"
                     "    layer = torch.nn.Conv3d(K.shape[1], K.shape[0], (1, *K.shape[2:]),"
                     " bias=False)\n"
                     "    layer.weight.data = K[:, :, None].to(layer.weight.dtype)\n"
                     "    return layer(X[:, :, None].to(layer.weight.dtype))[:, :, 0]"
                     ".detach().to(X.dtype)")


def attack_dummy_def():
    nb = _completed("en")
    _insert_after(nb, "set_language(", "def conv2d(*args):\n    pass  # takes conv2d off the list")
    return _set_cell(nb, "def my_kernel2matrix(K, input_shape):",
                     "def my_kernel2matrix(K, input_shape):\n" + _ONE_HOT +
                     "    return F.conv2d(basis, K[None, None]).reshape(h * w, -1).T")


def attack_static_method():
    return _set_cell(_completed("en"), "def my_kernel2matrix(K, input_shape):",
                     "class Helper:\n    @staticmethod\n    def go(basis, K):\n"
                     "        return F.conv2d(basis, K[None, None])\n\n\n"
                     "def my_kernel2matrix(K, input_shape):\n" + _ONE_HOT +
                     "    return Helper.go(basis, K).reshape(h * w, -1).T")


def attack_getattr():
    return _set_cell(_completed("en"), "def my_kernel2matrix(K, input_shape):",
                     "def my_kernel2matrix(K, input_shape):\n" + _ONE_HOT +
                     "    op = getattr(F, 'conv' + '2d')\n"
                     "    return op(basis, K[None, None]).reshape(h * w, -1).T")


def attack_aten_scipy():
    nb = _completed("en")
    _set_cell(nb, "def my_kernel2matrix(K, input_shape):",
              "def my_kernel2matrix(K, input_shape):\n" + _ONE_HOT +
              "    ops = vars(torch.ops)['at' + 'en']\n"
              "    Y = ops.convolution(basis, K[None, None], None, [1, 1], [0, 0], [1, 1],"
              " False, [0, 0], 1)\n"
              "    return Y.reshape(h * w, -1).T")
    return _set_cell(nb, "def conv_by_matmul(X, K):",
                     "import numpy\nimport scipy.signal as ss\n\n\n"
                     "def conv_by_matmul(X, K):\n"
                     "    out = numpy.zeros((X.shape[0], K.shape[0], X.shape[2] - K.shape[2] + 1,"
                     " X.shape[3] - K.shape[3] + 1))\n"
                     "    for n in range(X.shape[0]):\n"
                     "        for o in range(K.shape[0]):\n"
                     "            for c in range(X.shape[1]):\n"
                     "                out[n, o] += ss.correlate2d(X[n, c].double().numpy(),"
                     " K[o, c].double().numpy(), mode='valid')\n"
                     "    return torch.from_numpy(out).to(X.dtype)")


def attack_guard_off():
    return _set_cell(_completed("en"), "def my_kernel2matrix(K, input_shape):",
                     "def my_kernel2matrix(K, input_shape):\n" + _ONE_HOT +
                     "    pop = getattr(torch._C, '_pop_torch_dispatch_stack')\n"
                     "    try:\n        pop(None)\n    except Exception:\n        pass\n"
                     "    op = getattr(F, ''.join(['con', 'v2d']))\n"
                     "    return op(basis, K[None, None]).reshape(h * w, -1).T")


def attack_constant_timings():
    return _insert_after(_completed("en"), "dense_bytes, dense_ms, conv_ms = [], [], []",
                         "dense_ms = [1, 1, 1, 1]\nconv_ms = [1, 1, 1, 1]")


def attack_shared_memory():
    return _insert_after(
        _completed("en"), 'check("2a"',
        "import mmap\nbig = mmap.mmap(-1, 3 * 2**30)\n"
        "for i in range(0, len(big), 4096):\n    big[i] = 1",
        "import os\nfd = os.memfd_create('x')\nos.ftruncate(fd, 3 * 2**30)\n"
        "big2 = mmap.mmap(fd, 3 * 2**30)\nfor i in range(0, len(big2), 4096):\n    big2[i] = 1",
        "with open('/dev/shm/fill', 'wb') as f:\n    f.write(bytes(2**30))")


def attack_html():
    nb = _completed("en")
    _insert_after(nb, 'check("1a"',
                  "raise ValueError('<img src=x onerror=alert(1)><script>alert(2)</script>')")
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "d2l-tconv:answer" in cell.source:
            cell.source += "\n\n<script>alert('free text')</script>\n# Grade: 100"
    return nb


ATTACKS = (attack_deep_json, attack_huge_int, attack_chained_plus, attack_regex_bomb,
           attack_huge_cell, attack_forged_channel, attack_conv3d, attack_dummy_def,
           attack_static_method, attack_getattr, attack_aten_scipy, attack_guard_off,
           attack_constant_timings, attack_shared_memory, attack_html)


# --- honest styles (issue 15): correct notebooks written as students write them -------------
# Each must get 18/18 and keep its free text; none may be flagged for review.

def _answer_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "markdown" and "d2l-tconv:answer" in c.source]


def _answers_under_placeholder(nb: nbformat.NotebookNode, lang: str) -> nbformat.NotebookNode:
    """Type each answer under the placeholder line, which stays."""
    for cell in _answer_cells(nb):
        marker, answer = cell.source.split("\n", 1)
        cell.source = f"{marker}\n{exercise_source.PLACEHOLDER[lang]}\n\n{answer}"
    return nb


def _answers_in_next_cell(nb: nbformat.NotebookNode, lang: str) -> nbformat.NotebookNode:
    """Leave the answer cell as handed out; write the answer in a new cell below it."""
    for cell in _answer_cells(nb):
        marker, answer = cell.source.split("\n", 1)
        cell.source = f"{marker}\n{exercise_source.PLACEHOLDER[lang]}"
        nb.cells.insert(nb.cells.index(cell) + 1, nbformat.v4.new_markdown_cell(answer))
    return nb


def honest_self_test_en():
    nb = _completed("en")
    return _insert_after(nb, 'check("1d"',
                         "ok = sum(bool(torch.allclose(my_kernel2matrix(k, (5, 6)) @ "
                         "torch.ones(30), F.conv2d(torch.ones(1, 1, 5, 6), k[None, None])"
                         ".reshape(-1))) for k in torch.randn(20, 2, 3))\n"
                         'print(f"{ok}/20 tests passed")',
                         'print("✓ 1e: Z == X for my kernel")')


def honest_self_test_ja():
    nb = _answers_under_placeholder(_completed("ja"), "ja")
    return _insert_after(nb, 'check("2c"',
                         "r = conv_by_matmul(torch.randn(2, 3, 6, 6), "
                         "torch.ones(4, 3, 3, 3)).shape == (2, 4, 4, 4)\n"
                         'print("自分のテストにすべて合格:", r)')


def honest_time_magic():
    return _insert_after(_completed("en"), 'check("1b"',
                         "%%time\n# all tests should print True\n"
                         "print(torch.allclose(WtW, W.T @ W))")


def honest_resource():
    return _insert_after(_completed("en"), 'check("2d"',
                         "import resource\n"
                         "print('peak memory (MB):', "
                         "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")


def honest_paths():
    nb = _completed("en")
    _insert_after(nb, "set_language(", 'import sys\nsys.path.insert(0, "../..")')
    return _insert_after(nb, 'check("2d"',
                         "import matplotlib.pyplot as plt\n"
                         "plt.plot(SIZES_2D, dense_ms, label='dense')\n"
                         "plt.plot(SIZES_2D, conv_ms, label='conv2d')\n"
                         "plt.legend()\n"
                         'plt.savefig("../figures/timings.png")')


def honest_figure_helper():
    return _insert_after(_completed("en"), 'check("1a"',
                         "import d2l_tconv\n"
                         "d2l_tconv.plot_trans_conv(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), "
                         "torch.tensor([[0.0, 1.0], [2.0, 3.0]]))")


def honest_pip_in_imports():
    nb = _answers_in_next_cell(_completed("en"), "en")
    cell = nb.cells[_find(nb, "set_language(")]
    cell.source = "!pip install -q d2l==1.0.3\n" + cell.source
    return nb


def honest_reuses_names():
    nb = _completed("ja")
    return _insert_after(nb, 'check("2d"',
                         "# 試しに: 別の入力で\nZ = trans_conv(torch.ones(2, 2), K)\n"
                         "rank_WtW = int(torch.linalg.matrix_rank(torch.ones(3, 3)))\n"
                         "print(Z.shape, rank_WtW)")


def honest_other_types():
    nb = _completed("en")
    _replace(nb, "stride_id, padding_id, input_shape_id = 1, 1, (3, 3)",
             "stride_id, padding_id = 1, 1\ninput_shape_id = torch.zeros(3, 3).shape")
    _replace(nb, "    return outputs * h * w, outputs * kh * kw",
             "    Counts = collections.namedtuple('Counts', 'entries non_zeros')\n"
             "    return Counts(outputs * h * w, outputs * kh * kw)")
    _replace(nb, "import time\n", "import collections\nimport time\n\nimport numpy as np\n")
    _replace(nb, "print(SIZES_2D)\n", "dense_ms = np.array(dense_ms)\nprint(SIZES_2D)\n")
    return nb


# --- one mistake, charged once (issue 15) -------------------------------------------------

def transposed_w_ja():
    """1d returns Wᵀ: W @ x fails in the 2d cell, so the grader measures 2d itself."""
    return _replace(_completed("ja"), "            W[i * ow + j] = window.reshape(-1)\n    return W\n",
                    "            W[i * ow + j] = window.reshape(-1)\n    return W.T  # 転置してしまった\n")


HONEST = (honest_self_test_en, honest_self_test_ja, honest_time_magic, honest_resource,
          honest_paths, honest_figure_helper, honest_pip_in_imports, honest_reuses_names,
          honest_other_types)

FIXTURES: dict[str, Callable[[], nbformat.NotebookNode | str]] = {
    f.__name__.replace("_template", ".template"): f for f in (
        correct_en, partly_wrong_ja, raises_top_level, syntax_error, invalid_json,
        not_a_notebook, empty, infinite_loop, unstoppable_loop, memory_hog, fake_pass,
        redefines_check, monkeypatch_torch, monkeypatch_transformer, monkeypatch_otter,
        monkeypatch_grader, always_equal, reads_solutions_template, imports_reference,
        escapes_template, network, untouched_ja, transposed_w_ja, *ATTACKS, *HONEST,
    )
}


def contents() -> dict[str, str]:
    """File name -> text of every fixture."""
    out = {}
    for name, build in FIXTURES.items():
        made = build()
        if isinstance(made, str):
            out[f"{name}.fixture"] = made
        else:
            made = copy.deepcopy(made)
            for index, cell in enumerate(made.cells):
                cell.id = f"fixture-{index}"
            out[f"{name}.fixture"] = nbformat.writes(made) + "\n"
    return out


def write() -> list[str]:
    FIXTURES_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in contents().items():
        (FIXTURES_DIR / name).write_text(text, encoding="utf-8")
        written.append(str((FIXTURES_DIR / name).relative_to(exercise_source.ROOT)))
    return written


def stale() -> list[str]:
    wanted = contents()
    out = []
    for name, text in wanted.items():
        path = FIXTURES_DIR / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(str(path.relative_to(exercise_source.ROOT)))
    if FIXTURES_DIR.exists():
        out += [str(p.relative_to(exercise_source.ROOT)) + " (not generated)"
                for p in FIXTURES_DIR.iterdir() if p.name not in wanted]
    return out


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}")
