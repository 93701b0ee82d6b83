"""Units of the grader: the static scan, the data wall, the hidden tests' references, the
sandbox's limits, and the refusal to grade without a sandbox."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from conftest import bubblewrap_sandbox

import d2l_tconv
from d2l_tconv import kernel2matrix
from d2l_tconv.exercise_checks import SIZES_2D
from d2l_tconv.project import colab_setup_source
from d2l_tconv_grader import _harness, data, hidden, main, sandbox
from d2l_tconv_grader.cli import parser
from d2l_tconv_grader.grader import binding_cells
from d2l_tconv_grader.notebook import read_submission
from d2l_tconv_grader.sandbox import (
    Limits,
    Sandbox,
    find_sandbox,
    hidden_paths,
    python_paths,
    run_harness,
    seccomp_filter,
)
from d2l_tconv_grader.scan import flag_codes, scan

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "submissions"


def codes(*sources: str) -> list[str]:
    return flag_codes(scan(list(enumerate(sources))))


# --- static scan ----------------------------------------------------------------------------

@pytest.mark.parametrize("source, code, kind", [
    ('print("All tests passed!")', "fake-pass-message", "heuristic"),
    ("!echo all tests passed", "fake-pass-message", "heuristic"),
    ('print("✓ 1a: fine")', "fake-pass-message", "heuristic"),
    ('print("✔2c passes")', "fake-pass-message", "heuristic"),
    ("print('すべてのテストに合格')", "fake-pass-message", "heuristic"),
    ("def check(*a):\n    pass", "redefines-check", "integrity"),
    ("check = print", "redefines-check", "integrity"),
    ("from somewhere import check", "redefines-check", "integrity"),
    ("torch.allclose = lambda *a, **k: True", "monkeypatch", "integrity"),
    ("import torch as t\nt.Tensor.__eq__ = lambda *a: True", "monkeypatch", "integrity"),
    ("m = torch\nm.equal = None", "monkeypatch", "integrity"),
    ("setattr(torch, 'allclose', None)", "monkeypatch", "integrity"),
    ("import sys\nsys.modules['torch'] = None", "monkeypatch", "integrity"),
    ("import builtins\nbuiltins.print = None", "monkeypatch", "integrity"),
    ("get_ipython().input_transformers_cleanup.append(f)", "monkeypatch", "integrity"),
    ("get_ipython().events.register('post_run_cell', f)", "monkeypatch", "integrity"),
    ("import otter\notter.test_files.ok_test.run_doctest = f", "monkeypatch", "integrity"),
    ("import signal\nsignal.alarm(0)", "tampering", "integrity"),
    ("import sys\nf = sys._getframe(1)", "tampering", "integrity"),
    ("import gc\ngc.get_objects()", "tampering", "integrity"),
    ("import os\nos.close(3)", "tampering", "integrity"),
    ("exec(code)", "tampering", "integrity"),
    ("class A:\n    def __eq__(self, other):\n        return True", "eq-override", "integrity"),
    ("A = type('A', (), {'__eq__': lambda s, o: True})", "eq-override", "integrity"),
    ("class T(torch.Tensor):\n    pass", "eq-override", "integrity"),
    ("z = Fake()\nz.__class__ = torch.Tensor", "eq-override", "integrity"),
    ("open('../../exercises/solutions/solutions_en.ipynb')", "reads-course-files", "integrity"),
    ("open('/somewhere/d2l_tconv_grader/hidden.py')", "reads-course-files", "integrity"),
    ("import glob\nglob.glob('*')", "outside-path", "heuristic"),
    ("from d2l_tconv import kernel2matrix", "imports-reference", "heuristic"),
    ("from d2l_tconv.matrix import kernel2matrix", "imports-reference", "heuristic"),
    ("import d2l_tconv\nd2l_tconv.trans_conv(Y, K)", "imports-reference", "heuristic"),
    ("import d2l_tconv_grader.hidden", "imports-reference", "integrity"),
    ("__import__('d2l_tconv')", "imports-reference", "heuristic"),
    ("import importlib\nimportlib.import_module('d2l_tconv.matrix')", "imports-reference", "heuristic"),
    ("def conv_by_matmul(X, K):\n    return F.conv2d(X, K)", "forbidden-op", "rule"),
    ("c = F.conv2d\ndef conv_by_matmul(X, K):\n    return c(X, K)", "forbidden-op", "rule"),
    ("from torch.nn.functional import conv2d as c\ndef conv_by_matmul(X, K):\n    return c(X, K)",
     "forbidden-op", "rule"),
    ("def helper(K, s):\n    return F.conv_transpose2d(K, s)\n"
     "def my_kernel2matrix(K, s):\n    return helper(K, s)", "forbidden-op", "rule"),
    ("import socket", "network", "heuristic"),
    ("import requests", "network", "heuristic"),
])
def test_scan_flags_each_trick(source, code, kind):
    """Each trick gets its code, and the kind that decides what it costs (issue 15)."""
    found = {flag.kind for flag in scan([(0, source)]) if flag.code == code}
    assert found == {kind}, found


@pytest.mark.parametrize("source", [
    "import d2l_tconv_grader",
    "import d2l_tconv_grader.hidden as h",
    "from d2l_tconv_grader import hidden",
    "from d2l_tconv_grader.hidden import score_values",
    "import importlib\nimportlib.import_module('d2l_tconv_grader.hidden')",
    "__import__('d2l_tconv_grader')",
    "m = 'd2l_tconv_grader'",
])
def test_every_form_of_importing_the_grader_is_an_integrity_finding(source):
    """The grader is its own package: any way of naming it is refused like an attack."""
    kinds = {flag.kind for flag in scan([(0, source)]) if flag.code == "imports-reference"}
    assert "integrity" in kinds, kinds


@pytest.mark.parametrize("source", [
    colab_setup_source("en"),
    colab_setup_source("ja"),
    "from d2l_tconv.exercise_checks import SIZES_2D, check, set_language\nset_language('ja')",
    "tconv.weight.data = K\nW[0, :5], W[1, 1:6] = k, k\nx = torch.stack([a, b])",
    "import matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 100",
    "f = open('notes.txt', 'w')\nf.close()",
    "W = kernel2matrix(K)\ndef my_kernel2matrix(K, shape):\n    return W",  # section's own
    "def conv_by_matmul(X, K):\n    return K.reshape(2, -1) @ F.unfold(X, 2)\n"
    "y = F.conv2d(X, K)",
    "from d2l_tconv import show_environment\nshow_environment()",
    "print('the check passes for me?')",
    "print('✓ shapes match')",
    "import torch.backends.cudnn as cudnn\ncudnn.benchmark = True\n"
    "torch.backends.cudnn.deterministic = True",
    "%matplotlib inline\n%timeit W @ x",
    "class Data:\n    def __len__(self):\n        return 3\n\n    def __iter__(self):\n"
    "        return iter([1, 2, 3])",
])
def test_scan_leaves_honest_code_alone(source):
    assert codes(source) == []


def test_scan_of_the_filled_student_notebooks_is_clean():
    import exercise_source

    for lang in ("en", "ja"):
        nb = exercise_source.render(exercise_source.load(), "student", lang, filled=True)
        cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        assert scan(cells) == [], lang


def test_binding_cells_finds_definitions_even_in_broken_cells():
    cells = [(0, "Z = 1"), (2, "def f(:\n  pass"), (3, "def f(x):\n    return x"),
             (4, "a, WtW = 1, 2"), (5, "Z == 3")]
    assert binding_cells(cells, "Z") == [0]
    assert binding_cells(cells, "WtW") == [4]
    assert binding_cells(cells, "f") == [2, 3]


# --- reading notebooks ----------------------------------------------------------------------

def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_submission_problems(tmp_path):
    assert read_submission(_write(tmp_path, "a.ipynb", "{")).problem.startswith("invalid JSON")
    assert read_submission(_write(tmp_path, "b.ipynb", "[1, 2]")).problem == \
        "not a Jupyter notebook"
    bad_cell = json.dumps({"cells": [{"cell_type": "code", "source": 3}], "nbformat": 4})
    assert read_submission(_write(tmp_path, "c.ipynb", bad_cell)).problem.startswith(
        "not a Jupyter notebook")
    only_md = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi")])
    assert read_submission(_write(tmp_path, "d.ipynb", nbformat.writes(only_md))).problem == \
        "empty notebook (no code)"


def test_read_submission_tolerates_colab_notebooks(tmp_path):
    # Colab drops cell metadata and may store sources as lists of lines.
    nb = {"nbformat": 4, "nbformat_minor": 0, "metadata": {"colab": {}},
          "cells": [{"cell_type": "code", "source": ["Z = 1\n", "W = 2"], "outputs": []},
                    {"cell_type": "markdown",
                     "source": ["<!-- d2l-tconv:answer 1 -->\n", "いいえ。値は違います。"]}]}
    submission = read_submission(_write(tmp_path, "colab.ipynb", json.dumps(nb)))
    assert submission.problem is None
    assert submission.code_cells == [(1, "Z = 1\nW = 2")]
    assert submission.answers == {"1": "いいえ。値は違います。", "2": None}


# --- the data wall --------------------------------------------------------------------------

def test_harness_encodes_only_plain_data():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class Sneaky(int):
        def __eq__(self, other):
            return True

    class TensorLike(torch.Tensor):
        pass

    for value in (AlwaysEqual(), Sneaky(3), torch.zeros(2).as_subclass(TensorLike), {"a": 1},
                  print, torch.zeros(2, dtype=torch.complex64), [[[[[1]]]]],
                  "x" * 20_000, torch.zeros(2_000_000)):
        with pytest.raises(_harness.Unencodable):
            _harness.encode(value)
    encoded = _harness.encode([1, 2.5, True, None, "s", (3,), torch.tensor([[1.0, float("nan")]])])
    assert json.loads(json.dumps(encoded))[:5] == [1, 2.5, True, None, "s"]


def test_decode_answer_is_strict():
    good = _harness.encode(torch.arange(6.0).reshape(2, 3))
    tensor = data.decode_answer(json.loads(json.dumps(good)))
    assert torch.equal(tensor, torch.arange(6.0).reshape(2, 3))
    assert data.decode_answer({"__missing__": True}) is data.MISSING
    bad = [
        {"__tensor__": {"dtype": "float32", "shape": [2, 2], "data": [1.0]}},
        {"__tensor__": {"dtype": "object", "shape": [1], "data": [1]}},
        {"__tensor__": {"dtype": "float32", "shape": [1], "data": ["1"]}},
        {"__tensor__": {"dtype": "float32", "shape": [-1], "data": []}},
        {"__tensor__": {"dtype": "int64", "shape": [1], "data": [1.5]}},
        {"__tensor__": {"dtype": "float32", "shape": [1], "data": [1], "extra": 1}},
        {"__invalid__": "unsupported type __main__.AlwaysEqual"},
        {"__eq__": True},
        {"__float__": "1e400"},
    ]
    for value in bad:
        with pytest.raises(data.InvalidAnswer):
            data.decode_answer(value)
    nested = [1]
    for _ in range(10):
        nested = [nested]
    with pytest.raises(data.InvalidAnswer):
        data.decode_answer(nested)


# --- the hidden tests' references, checked against PyTorch and the package -------------------

def test_conv_matrix_is_the_convolution():
    generator = torch.Generator().manual_seed(1)
    for kernel_shape, shape in [((2, 2), (3, 3)), ((3, 1), (5, 4)), ((1, 4), (2, 6))]:
        K = torch.randn(kernel_shape, generator=generator, dtype=torch.float64)
        W = hidden.conv_matrix(K, shape)
        x = torch.randn(shape, generator=generator, dtype=torch.float64)
        assert torch.allclose(W @ x.reshape(-1), F.conv2d(x[None, None], K[None, None]).reshape(-1))
        assert torch.allclose(W, kernel2matrix(K, shape))


def test_dense_bytes_matches_a_real_matrix():
    for n in SIZES_2D[:3]:
        W = hidden.conv_matrix(torch.ones(3, 3), (n, n))
        assert hidden.dense_bytes((n, n), (3, 3)) == W.numel() * 4
    assert hidden.dense_bytes((224, 224), (3, 3)) == 222**2 * 224**2 * 4


def test_hidden_inputs_depend_on_the_seed_only():
    a, b, c = hidden.hidden_inputs(1), hidden.hidden_inputs(1), hidden.hidden_inputs(2)
    assert [s for _, s in a["1d"]] == [s for _, s in b["1d"]]
    assert all(torch.equal(x, y) for (x, _), (y, _) in zip(a["1d"], b["1d"], strict=True))
    assert any(not torch.equal(x, y) or s != t
               for (x, s), (y, t) in zip(a["1d"], c["1d"], strict=True))
    assert any(k.shape[0] != k.shape[1] and s[0] != s[1] for k, s in a["1d"])


def _calls(part_id, function, seed=3):
    cases = hidden.hidden_inputs(seed)[part_id]
    calls = [{"value": json.loads(json.dumps(_harness.encode(function(*args))))}
             for args in cases]
    return hidden.score_calls(part_id, {"calls": calls}, cases)


def test_function_parts_scored_against_pytorch():
    good = _calls("2c", lambda X, K: F.conv2d(X, K))
    assert (good.points, good.status) == (3, "ok")
    bad = _calls("2c", lambda X, K: F.conv2d(X, K) + 1e-2)
    assert (bad.points, bad.status) == (0, "wrong: 3 of 3 hidden inputs")
    counts = _calls("2a", lambda s, k: [(s[0] - k[0] + 1) * (s[1] - k[1] + 1) * s[0] * s[1],
                                        (s[0] - k[0] + 1) * (s[1] - k[1] + 1) * k[0] * k[1]])
    assert counts.status == "ok"
    matrix = _calls("1d", lambda K, s: kernel2matrix(K, s))
    assert matrix.status == "ok"
    transposed = _calls("1d", lambda K, s: kernel2matrix(K, s).T)  # right only for 1 x 1 kernels
    assert (transposed.points, transposed.status) == (0.75, "partial: 1 of 4 hidden inputs")


def test_value_parts_scored():
    enc = _harness.encode
    ok = hidden.score_values("1c", {"rank_WtW": enc(4), "WtW_is_identity": enc(False)}, 0)
    assert (ok.points, ok.status) == (2, "ok")
    as_bool = hidden.score_values("1c", {"rank_WtW": enc(True), "WtW_is_identity": enc(False)}, 0)
    assert (as_bool.points, as_bool.status) == (1, "partial: rank_WtW")
    delta = torch.zeros(3, 3)
    delta[1, 1] = 1.0
    recover = {"K_id": enc(delta), "stride_id": enc(1), "padding_id": enc(1),
               "input_shape_id": enc((5, 4))}
    assert hidden.score_values("1e", recover, 7).status == "ok"
    blur = {**recover, "K_id": enc(torch.full((2, 2), 0.5))}
    assert hidden.score_values("1e", blur, 7).status.startswith("wrong: K_id")
    missing = hidden.score_values("1a", {"Z": {"__missing__": True}}, 0)
    assert missing.status == "missing: Z not defined"
    assert hidden.score_values("1a", {"Z": None}, 0).status == "not attempted"
    assert hidden.score_values("1a", {"Q": None}, 0).status == "invalid answer: malformed result"


# --- the sandbox ----------------------------------------------------------------------------

def test_seccomp_filter_shape():
    program = seccomp_filter("x86_64")
    assert program is not None and len(program) % 8 == 0
    assert seccomp_filter("sparc") is None


def test_hidden_paths_cover_repository_package_and_folders(tmp_path):
    submissions, out = tmp_path / "subs", tmp_path / "out"
    submissions.mkdir()
    out.mkdir()
    hidden_list = hidden_paths(submissions, out, tmp_path / "stage", [])
    package = Path(d2l_tconv.__file__).resolve().parent
    grader = Path(sandbox.__file__).resolve().parent  # d2l_tconv_grader, beside d2l_tconv
    for path in (package, grader, submissions.resolve(), out.resolve()):
        assert any(h == path or h in path.parents for h in hidden_list), path
    # the interpreter stays usable: what is hidden is mounted back read-only
    assert python_paths()


def _job(cells, parts=()):
    """A harness job. Limits (issue 13): cells and calls that must finish get 30 s, over 10
    times what they take under a two-core load (the slowest, ``%matplotlib inline`` with a
    plot, about 0.9 s with a cold font cache); a test that expects a time-out passes a small
    limit and work that never ends (``while True``)."""
    return {"cells": list(enumerate(cells)), "parts": list(parts), "cell_timeout": 30,
            "part_timeout": 30, "grace": 2}


@pytest.mark.slow
def test_wall_clock_limit_kills_a_run_that_blocks_the_alarm(grader_stage, tmp_path):
    stage = grader_stage
    sandbox = bubblewrap_sandbox(stage)
    job = _job(["rank_WtW = 4",
                "import signal, time\n"
                "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
                "while True:\n    time.sleep(0.1)"],
               [{"id": "1c", "kind": "value", "names": ["rank_WtW", "WtW_is_identity"]}])
    # 4 s: over 30 times the start of the sandbox and the first cell (no torch: 0.12 s with
    # the two cores loaded 3 deep); the second cell never ends, so only the wall-clock limit
    # can stop it, and the limit decides only when (the default, 120 s:
    # test_default_limits_are_the_documented_ones). It sleeps rather than spins: the same
    # stuck cell, without a core taken from the other tests (a spinning cell's alarm is
    # tested with the fixtures' infinite loops).
    run = run_harness(job, sandbox, stage, hidden_paths(tmp_path, tmp_path, tmp_path, []),
                      Limits(timeout=4), tmp_path / "private")
    assert run.killed == "timeout"
    events = [json.loads(line) for line in run.lines]
    part = [e for e in events if e["event"] == "part"]
    assert part and part[-1]["values"]["rank_WtW"] == 4  # recorded before the stuck cell


@pytest.mark.slow
def test_no_sandbox_refuses_unless_allowed(tmp_path, capsys):
    submissions, out = tmp_path / "subs", tmp_path / "out"
    submissions.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "rank_WtW, WtW_is_identity = 4, False\nimport os\nprint(os.getcwd())")])
    (submissions / "small.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    args = [str(submissions), "--out", str(out), "--bwrap", str(tmp_path / "no-such-bwrap"),
            "--seed", "1"]
    assert main(args) == 2
    assert "no sandbox" in capsys.readouterr().err
    assert not (out / "gradebook.csv").exists()
    assert main([*args, "--allow-unsandboxed"]) == 0
    assert "NO SANDBOX AVAILABLE" in capsys.readouterr().err
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "NO SANDBOX AVAILABLE: student code ran unconfined — scores not trustworthy" in report
    rows = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    assert "small,1c,2,2,ok" in rows


def test_default_limits_are_the_documented_ones():
    """Tests that need a time-out pass short limits; the defaults are checked here: 30 s per
    cell and 10 s per hidden call (what exercises/README and the student notebooks state),
    120 s per submission, 3072 MiB; the same from the command line and from ``Limits()``."""
    args = parser().parse_args(["subs", "--out", "out"])
    defaults = (args.timeout, args.cell_timeout, args.part_timeout, args.memory_mb)
    assert defaults == (120, 30, 10, 3072)
    assert dataclasses.astuple(Limits()) == defaults
    readme = (REPO / "exercises" / "README.md").read_text(encoding="utf-8")
    assert "time limit (30 s by default)" in readme and "制限時間（既定 30 秒）" in readme


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "SUBMISSIONS_DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), "--out", str(tmp_path / "o"), "--timeout", "-1"])
    assert exit_info.value.code == 2 and "--timeout" in capsys.readouterr().err
    assert main([str(tmp_path), "--out", str(tmp_path)]) == 2


def _run_unconfined(stage, tmp_path, cells, parts=(), **limits):
    """The harness without bubblewrap (fast, no bwrap needed), with the grader's staging
    folder ``stage``: its events, parsed."""
    job = {**_job(cells, parts), **limits}
    run = run_harness(job, Sandbox("none", problem="test"), stage, [],
                      Limits(timeout=30), tmp_path / "private")
    return [json.loads(line) for line in run.lines]


def test_harness_runs_magics_and_keeps_going_after_errors(grader_stage, tmp_path):
    events = _run_unconfined(grader_stage, tmp_path, [
        "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "plt.plot([1, 2])\nplt.show()\nrank_WtW = 4",
        "1 / 0", "WtW_is_identity = False", "print('x' * 10**7)"],
        [{"id": "1c", "kind": "value", "names": ["rank_WtW", "WtW_is_identity"]}])
    cells = {e["index"]: e for e in events if e["event"] == "cell"}
    assert [cells[i]["status"] for i in range(4)] == ["ok", "error", "ok", "ok"]
    assert cells[1]["error"] == "ZeroDivisionError: division by zero"
    final = [e for e in events if e["event"] == "part"][-1]
    assert final["stage"] == "final"
    assert hidden.score_values("1c", final["values"], 0).status == "ok"
    assert events[-1] == {"event": "done"}


def test_harness_times_out_student_functions_on_hidden_inputs(grader_stage, tmp_path):
    cases = hidden.hidden_inputs(5)["2a"]
    part = {"id": "2a", "kind": "function", "names": ["count_W"],
            "calls": [[data.encode_input(a) for a in args] for args in cases]}
    events = _run_unconfined(grader_stage, tmp_path, [
        "def count_W(s, k):\n    while True:\n        pass"], [part], part_timeout=0.3)
    final = [e for e in events if e["event"] == "part"][-1]
    assert final["calls"] == [{"timeout": True}] + [{"skipped": True}] * (len(cases) - 1)
    assert len([e for e in events if e["event"] == "part"]) == 1  # not timed out twice
    outcome = hidden.score_calls("2a", final, cases)
    assert (outcome.points, outcome.status) == (0, "timeout: hidden input 1")


def test_harness_stops_a_function_that_swallows_its_time_limit(grader_stage, tmp_path):
    cases = hidden.hidden_inputs(5)["2a"]
    part = {"id": "2a", "kind": "function", "names": ["count_W"],
            "calls": [[data.encode_input(a) for a in args] for args in cases]}
    events = _run_unconfined(grader_stage, tmp_path, [
        "import time\n"
        "def count_W(s, k):\n    while True:\n        try:\n"
        "            time.sleep(0.05)\n"
        "        except BaseException:\n            pass"],
        [part], part_timeout=0.3, grace=0.3)
    assert events[-1]["event"] == "stopped" and "2a" in events[-1]["reason"]


def test_a_bwrap_without_the_grader_options_is_no_sandbox(tmp_path, capsys):
    fake = tmp_path / "old-bwrap"
    fake.write_text("#!/bin/sh\nfor a; do if [ \"$a\" = --size ]; then\n"
                    "  echo 'bwrap: Unknown option --size' >&2; exit 1; fi; done\nexit 0\n")
    fake.chmod(0o755)
    assert find_sandbox(str(fake)).kind == "bubblewrap"  # the plain probe passes...
    (tmp_path / "subs").mkdir()
    assert main([str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--bwrap",
                 str(fake)]) == 2  # ...but the real options fail: refuse
    assert "Unknown option --size" in capsys.readouterr().err


def test_font_cache_is_ready_before_the_first_cell(grader_stage, tmp_path):
    # issue 13: built once by the grader, not inside the first plotting cell's time limit
    events = _run_unconfined(grader_stage, tmp_path, [
        "import os\nassert any(f.startswith('fontlist') for f in "
        "os.listdir(os.environ['MPLCONFIGDIR'])), 'no font cache'"])
    cells = [e for e in events if e["event"] == "cell"]
    assert [(c["status"], c["error"]) for c in cells] == [("ok", None)]
