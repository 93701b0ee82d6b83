"""Fair grading: the public check(...) and the grader accept and refuse the same answers;
answers are what the student checked; shell lines do not break a notebook; free text is found
wherever the student wrote it; feedback speaks the notebook's language.

The grader side goes through the same path as in a real run: the harness's ``encode`` (in the
student's process), JSON, ``data.decode_answer`` and the hidden tests (in the grader's).
"""

from __future__ import annotations

import json
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from d2l_tconv import kernel2matrix
from d2l_tconv.exercise_checks import PARTS, SIZES_2D, part, passes
from d2l_tconv_grader import _harness, data, hidden
from d2l_tconv_grader.cells import cell_label, check_cells, skip_shell_lines
from d2l_tconv_grader.free_text import free_text_answers

SEED = 11
X = torch.arange(9.0).reshape(3, 3)
K = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
Pair = namedtuple("Pair", "entries non_zeros")
DENSE_MS, CONV_MS = [0.01, 0.1, 1.0, 10.0], [0.005, 0.01, 0.02, 0.05]  # plausible timings
Shape = namedtuple("Shape", "h w")


def _wire(value):
    """``value`` as the grader receives it from the sandbox (as the harness records it)."""
    try:
        return json.loads(json.dumps(_harness.encode(value)))
    except _harness.Unencodable as error:
        return {"__invalid__": str(error)}


def _grader_points(part_id: str, answers: tuple) -> float:
    spec = part(part_id)
    if spec.kind == "value":
        raw = {name: _wire(value) for name, value in zip(spec.names, answers, strict=True)}
        return hidden.score_values(part_id, raw, SEED).points
    function = answers[0]
    cases = hidden.hidden_inputs(SEED)[part_id]
    calls = []
    for args in cases:
        arguments = [_harness.decode(json.loads(json.dumps(data.encode_input(a)))) for a in args]
        try:
            calls.append({"value": _wire(function(*arguments))})
        except Exception as error:  # noqa: BLE001 - as the harness records it
            calls.append({"error": f"{type(error).__name__}: {error}"})
    return hidden.score_calls(part_id, {"calls": calls}, cases).points


def _Z():
    return F.conv_transpose2d(F.conv2d(X[None, None], K[None, None]), K[None, None])[0, 0]


def _WtW():
    W = kernel2matrix(K, (3, 3))
    return W.T @ W


def _delta():
    delta = torch.zeros(2, 2)
    delta[1, 1] = 1.0
    return delta


def _counts(s, k):
    outputs = (s[0] - k[0] + 1) * (s[1] - k[1] + 1)
    return outputs * s[0] * s[1], outputs * k[0] * k[1]


def _dense():
    return [kernel2matrix(torch.ones(3, 3), (n, n), max_bytes=None).numel() * 4
            for n in SIZES_2D]


def accepted() -> list[tuple[str, str, tuple]]:
    """(part, what, answers): right values in every reasonable form."""
    Z, WtW, delta, dense = _Z(), _WtW(), _delta(), _dense()
    times, conv = DENSE_MS, CONV_MS
    return [
        ("1a", "float32 tensor", (Z,)),
        ("1a", "float64 tensor", (Z.double(),)),
        ("1a", "tensor that requires grad", (Z.clone().requires_grad_(),)),
        ("1a", "NumPy array", (Z.numpy(),)),
        ("1a", "nested list", (Z.tolist(),)),
        ("1a", "tuple of tuples", (tuple(map(tuple, Z.tolist())),)),
        ("1a", "int64 tensor", (Z.long(),)),
        ("1b", "tensor", (WtW,)),
        ("1b", "NumPy float64 array", (WtW.double().numpy(),)),
        ("1b", "nested list", (WtW.tolist(),)),
        ("1c", "Python int and bool", (4, False)),
        ("1c", "NumPy int64 and bool_", (np.int64(4), np.bool_(False))),
        ("1c", "0-d tensors", (torch.tensor(4), torch.tensor(False))),
        ("1c", "0-d NumPy arrays", (np.array(4), np.array(False))),
        ("1c", "whole float rank", (4.0, False)),
        ("1d", "tensor", (lambda K, s: kernel2matrix(K, s),)),
        ("1d", "float64 tensor", (lambda K, s: kernel2matrix(K.double(), s),)),
        ("1d", "NumPy array", (lambda K, s: kernel2matrix(K, s).numpy(),)),
        ("1d", "nested list", (lambda K, s: kernel2matrix(K, s).tolist(),)),
        ("1e", "tensor, ints, tuple", (delta, 1, 1, (4, 5))),
        ("1e", "torch.Size", (delta, 1, 1, torch.Size([4, 5]))),
        ("1e", "namedtuple", (delta, 1, 1, Shape(4, 5))),
        ("1e", "list, NumPy ints", (delta.tolist(), np.int64(1), np.int32(1), [4, 5])),
        ("1e", "NumPy kernel and shape array", (delta.numpy(), 1, 1, np.array([4, 5]))),
        ("1e", "tensor shape", (delta, torch.tensor(1), 1, torch.tensor([4, 5]))),
        ("2a", "tuple", (_counts,)),
        ("2a", "list", (lambda s, k: list(_counts(s, k)),)),
        ("2a", "namedtuple", (lambda s, k: Pair(*_counts(s, k)),)),
        ("2a", "NumPy ints", (lambda s, k: tuple(np.int64(v) for v in _counts(s, k)),)),
        ("2a", "NumPy array", (lambda s, k: np.array(_counts(s, k)),)),
        ("2a", "tensor", (lambda s, k: torch.tensor(_counts(s, k)),)),
        ("2b", "ints", (222 * 222 * 224 * 224 * 4, 36)),
        ("2b", "NumPy ints", (np.int64(222 * 222 * 224 * 224 * 4), np.int64(36))),
        ("2b", "whole floats", (float(222 * 222 * 224 * 224 * 4), 36.0)),
        ("2b", "0-d tensors", (torch.tensor(222 * 222 * 224 * 224 * 4), torch.tensor(36))),
        ("2c", "tensor", (lambda X, K: F.conv2d(X, K),)),
        ("2c", "float64", (lambda X, K: F.conv2d(X.double(), K.double()),)),
        ("2c", "NumPy array", (lambda X, K: F.conv2d(X, K).numpy(),)),
        ("2d", "lists", (dense, times, conv)),
        ("2d", "tuples", (tuple(dense), tuple(times), tuple(conv))),
        ("2d", "NumPy arrays", (np.array(dense), np.array(times), np.array(conv))),
        ("2d", "tensors", (torch.tensor(dense), torch.tensor(times), torch.tensor(conv))),
        ("2d", "NumPy scalars in a list", ([np.int64(v) for v in dense],
                                           [np.float64(t) for t in times], conv)),
        ("2d", "int times", (dense, [1, 2, 30, 400], [1, 1, 1, 2])),
        ("2d", "bytes of a W with a wrong row count (1d's mistake is not charged again)",
         ([4 * (n - 1) ** 2 * n * n for n in SIZES_2D], times, conv)),
    ]


def refused() -> list[tuple[str, str, tuple]]:
    """(part, what, answers): forms that are not an answer, or values wrong in form."""
    Z, dense = _Z(), _dense()
    times, conv = DENSE_MS, CONV_MS
    return [
        ("1a", "string", (str(Z.tolist()),)),
        ("1a", "bool tensor", (Z > 0,)),
        ("1a", "complex tensor", (Z.to(torch.complex64),)),
        ("1a", "wrong shape", (Z.reshape(-1),)),
        ("1a", "ragged lists", ([[1.0, 2.0], [3.0]],)),
        ("1a", "None", (None,)),
        ("1c", "string rank", ("4", False)),
        ("1c", "bool rank", (True, False)),
        ("1c", "int for a bool", (4, 0)),
        ("1c", "fractional rank", (4.5, False)),
        ("1d", "float16 (too coarse for random kernels)",
         (lambda K, s: kernel2matrix(K, s).half(),)),
        ("1d", "transposed", (lambda K, s: kernel2matrix(K, s).T,)),
        ("1e", "an int for the shape", (_delta(), 1, 1, 4)),
        ("1e", "three numbers for the shape", (_delta(), 1, 1, (4, 5, 6))),
        ("2a", "three numbers", (lambda s, k: (*_counts(s, k), 0),)),
        ("2a", "a string", (lambda s, k: str(_counts(s, k)),)),
        ("2b", "strings", ("9891495936", "36")),
        ("2c", "float16", (lambda X, K: F.conv2d(X, K).half(),)),
        ("2c", "bfloat16", (lambda X, K: F.conv2d(X.bfloat16(), K.bfloat16()),)),
        ("2d", "float64 W's bytes", ([2 * b for b in dense], times, conv)),
        ("2d", "entries, not bytes", ([b // 4 for b in dense], times, conv)),
        ("2d", "bytes of two different kinds of W", (dense[:2] + [4 * n**4 for n in SIZES_2D[2:]],
                                                     times, conv)),
        ("2d", "a negative time", (dense, [0.01, -1.0, 1.0, 10.0], conv)),
        ("2d", "too few times", (dense, times[:3], conv)),
        ("2d", "one number for the times", (dense, 1.0, conv)),
        ("2d", "typed-in constant times", (dense, [1, 1, 1, 1], [1, 1, 1, 1])),
        ("2d", "dense faster than conv2d at the largest n", (dense, times, [t * 2 for t in times])),
    ]


@pytest.mark.parametrize("part_id, what, answers", accepted(),
                         ids=[f"{p}-{w}" for p, w, _ in accepted()])
def test_check_and_grader_accept_the_same_right_answers(part_id, what, answers):
    assert passes(part_id, *answers), f"check() refuses {what}"
    assert _grader_points(part_id, answers) == part(part_id).points, f"grader refuses {what}"


@pytest.mark.parametrize("part_id, what, answers", refused(),
                         ids=[f"{p}-{w}" for p, w, _ in refused()])
def test_check_and_grader_refuse_the_same_forms(part_id, what, answers):
    assert not passes(part_id, *answers), f"check() accepts {what}"
    assert _grader_points(part_id, answers) < part(part_id).points, f"grader accepts {what}"


# --- messages that say what to fix -----------------------------------------------------------

def test_byte_and_precision_messages(capsys):
    from d2l_tconv.exercise_checks import check

    check("2c", lambda X, K: F.conv2d(X, K).half())
    check("2d", [2 * b for b in _dense()], DENSE_MS, CONV_MS)
    out = capsys.readouterr().out.splitlines()
    assert "largest error" in out[0] and "float16, compute in float32" in out[0]
    assert "your W is float64, 2x the bytes of float32" in out[1]
    wrong = hidden.score_values("2b", {"bytes_dense_224": _wire(2 * 222**2 * 224**2 * 4),
                                       "bytes_kernel_224": _wire(9)}, 0)
    assert wrong.points == 0
    assert "float64, 2x the bytes" in wrong.message and "number of entries" in wrong.message
    assert "float64 なので float32 の 2 倍" in wrong.message.ja


def test_check_messages_wording(capsys):
    from d2l_tconv.exercise_checks import check

    check("1a", _Z(), lang="ja")
    check("1c", 4, False)
    check("1a", _Z())
    check("1d", lambda K, s: kernel2matrix(K, s) + 1, lang="ja")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✓ 1a: Z は公開チェックに合格しました。")
    assert out[1].startswith("✓ 1c: rank_WtW, WtW_is_identity pass the public check.")
    assert out[2].startswith("✓ 1a: Z passes the public check.")
    assert "が conv2d(x, K) と一致しません" not in out[3]  # the Japanese name comes first here
    assert "が (2, 2) のカーネルによる conv2d(x, K) と一致しません" in out[3]
    check("1b", torch.eye(9), lang="ja")
    check("1e", torch.full((2, 2), 0.5), 1, 0, (4, 4), lang="ja")
    out = capsys.readouterr().out.splitlines()
    assert "WtW @ X.reshape(-1) が Z（conv2d(X, K) の転置畳み込み）と一致しません" in out[0]
    assert "Z が X（X = arange(h * w).reshape(h, w) の場合）と一致しません" in out[1]


def test_function_parts_earn_credit_per_hidden_case_and_name_the_edge_cases():
    def no_batch(X, K):  # squeeze(): right unless a dimension is 1 (N, C_out or the output)
        return F.conv2d(X, K).squeeze()

    cases = hidden.hidden_inputs(SEED)["2c"]
    calls = [{"value": _wire(no_batch(*args))} for args in cases]
    outcome = hidden.score_calls("2c", {"calls": calls}, cases)
    assert outcome.points == 1 and outcome.status == "partial: 1 of 3 hidden inputs"
    assert "squeeze() would drop these" in outcome.message
    untouched = hidden.score_calls("2c", {"calls": [{"error": "NotImplementedError"}] * 3}, cases)
    assert (untouched.points, untouched.status) == (0, "not attempted")

    def counts_wrong_non_zeros(s, k):
        return _counts(s, k)[0], 0

    cases = hidden.hidden_inputs(SEED)["2a"]
    calls = [{"value": _wire(counts_wrong_non_zeros(*args))} for args in cases]
    half = hidden.score_calls("2a", {"calls": calls}, cases)
    assert half.points == 1 and half.status.startswith("partial")


# --- cells: shell lines, check cells, labels --------------------------------------------------

def test_shell_and_package_lines_are_skipped_and_the_rest_runs():
    source = "!pip install -q d2l==1.0.3\nimport torch\nfor i in range(2):\n    !echo $i\n" \
             "files = !ls\n%pip install x\n%conda install y\nZ = 1"
    code, skipped = skip_shell_lines(source)
    assert skipped == ["!pip install -q d2l==1.0.3", "!echo $i", "files = !ls",
                       "%pip install x", "%conda install y"]
    namespace: dict = {}
    exec(compile(code, "cell", "exec"), namespace)  # noqa: S102 - our own test source
    assert namespace["Z"] == 1
    assert skip_shell_lines("%%bash\necho hi\n") == ("", ["%%bash"])
    assert skip_shell_lines("%%time\nx = 1 != 2\n") == ("%%time\nx = 1 != 2\n", [])


def test_check_cells_and_labels():
    cells = [(2, "import torch"), (4, "Z = 1\ncheck('1a', Z)"), (5, "# check('1b', W)"),
             (7, 'check("2d", a, b, c)\ncheck("2d", a, b, c)')]
    assert check_cells(cells) == {"1a": [4], "2d": [7]}
    assert cell_label(cells, 4) == "code cell 2 (`Z = 1`)"
    assert cell_label(cells, 7, "ja") == "コードセル 4 (`check(\"2d\", a, b, c)`)"


# --- free text ------------------------------------------------------------------------------

M1, M2 = "<!-- d2l-tconv:answer 1 -->", "<!-- d2l-tconv:answer 2 -->"
PH = "_Write your answer here (keep the hidden first line of this cell)._"
PH_JA = "_ここに答えを書いてください（このセルの見えない 1 行目は消さないでください）。_"


@pytest.mark.parametrize("cells, want", [
    ([M1 + "\n" + PH, "## Exercise 2", M2 + "\n" + PH, "## Hand in"], {"1": "", "2": ""}),
    ([M1 + "\nNo: Z is W^T W X.", "## Exercise 2", M2 + "\nNot efficient."],
     {"1": "No: Z is W^T W X.", "2": "Not efficient."}),
    ([M1 + "\n" + PH + "\nUnder the placeholder.", "## Exercise 2"],
     {"1": "Under the placeholder.", "2": None}),
    ([M1 + "\n" + PH, "In the next cell.", "### My own heading\nand more", "## Exercise 2",
      "### Why? (exercise 2)\n\nIs it efficient?", M2 + "\n" + PH_JA, "いいえ。", "## Hand in"],
     {"1": "In the next cell.\n\n### My own heading\nand more", "2": "いいえ。"}),
    (["### Why? (exercise 1)\n\nAnswer in the next cell.", "Marker deleted, answer kept.",
      "## Exercise 2", "### なぜか（演習 2）\n\n答えてください。", "効率的ではない。", "## 提出"],
     {"1": "Marker deleted, answer kept.", "2": "効率的ではない。"}),
    (["### Your answer / あなたの答え\n" + M1 + "\n" + PH + "\nWith a heading above.",
      "## Exercise 2"], {"1": "With a heading above.", "2": None}),

    (["### Your answer / あなたの答え", M1 + "\n" + PH, "## Exercise 2",
      "**あなたの答え**\n" + M2 + '\n<div class="answer">\n\n' + PH_JA + "\n\n</div>",
      "## 提出"], {"1": "", "2": ""}),
    (["### Your answer", "Marker line deleted, heading kept.", "## Exercise 2"],
     {"1": None, "2": None}),
    (["### Why? (exercise 1)", "### ✏️ Your answer", "Marker line deleted, heading kept.",
      "## Exercise 2"], {"1": "Marker line deleted, heading kept.", "2": None}),
])
def test_free_text_found_wherever_written(cells, want):
    assert free_text_answers(["# Exercises", "## Exercise 1", *cells]) == want


def test_the_written_policy_is_the_one_the_code_applies():
    from d2l_tconv_grader.rubric import rubric_markdown

    rubric = rubric_markdown()
    for part_id, cases in hidden.CASES.items():
        assert len(hidden.hidden_inputs(SEED)[part_id]) == len(cases)
        for en, _ in cases:  # every hidden case is named in the policy
            assert en.split(" (")[0].removeprefix("a ") in rubric, (part_id, en)
    exact = hidden.dense_bytes((224, 224), (3, 3))
    assert f"{exact:,}" in rubric
    assert f"≈ {exact / 1e9:.1f} GB" in rubric and f"{exact / 2**30:.2f} GiB" in rubric


# --- the harness: answers at check time, shell lines skipped (without bubblewrap: fast) -------

def _run(stage, tmp_path, cells: list[str]) -> dict[str, dict]:
    """Run ``cells`` as a notebook's code cells through the grader's job and the harness,
    unconfined; the last event of each part, scored."""
    from pathlib import Path

    from d2l_tconv_grader.grader import Context, _job
    from d2l_tconv_grader.notebook import Submission
    from d2l_tconv_grader.sandbox import Limits, Sandbox, run_harness

    limits = Limits(timeout=60, cell_timeout=20, part_timeout=10)
    context = Context(Sandbox("none", problem="test"), stage, [], limits, SEED, tmp_path)
    submission = Submission("t", Path("t.ipynb"), code_cells=list(enumerate(cells, start=1)))
    run = run_harness(_job(submission, context), context.sandbox, stage, [], limits,
                      tmp_path / "private")
    events = [json.loads(line) for line in run.lines]
    cell_events = {e["index"]: e for e in events if e["event"] == "cell"}
    last = {e["id"]: e for e in events if e["event"] == "part"}
    scores = {}
    for part_id, event in last.items():
        if part(part_id).kind == "function":
            scores[part_id] = hidden.score_calls(part_id, event, context.inputs[part_id])
        else:
            scores[part_id] = hidden.score_values(part_id, event["values"], SEED)
    return {"cells": cell_events, "scores": scores, "events": events}


def test_an_answer_is_its_value_when_its_check_cell_ran(grader_stage, tmp_path):
    run = _run(grader_stage, tmp_path, [
        "!pip install -q d2l==1.0.3\nimport torch\nimport torch.nn.functional as F\n"
        "from d2l_tconv.exercise_checks import check",
        "X = torch.arange(9.0).reshape(3, 3)\nK = torch.tensor([[1.0, 2.0], [3.0, 4.0]])\n"
        "Z = F.conv_transpose2d(F.conv2d(X[None, None], K[None, None]), K[None, None])[0, 0]",
        "check('1a', Z)",
        "rank_WtW, WtW_is_identity = 4, False\ncheck('1c', rank_WtW, WtW_is_identity)",
        "def count_W(s, k):\n    o = (s[0] - k[0] + 1) * (s[1] - k[1] + 1)\n"
        "    return o * s[0] * s[1], o * k[0] * k[1]\ncheck('2a', count_W)",
        "# exploring later with the same names\nZ = torch.zeros(7)\nrank_WtW = 'four'\n"
        "def count_W(s, k):\n    return 0, 0",
        "%%bash\necho not run",
        "bytes_dense_224 = 9891495936\nbytes_kernel_224 = 36",  # no check cell: end value
    ])
    assert {i: c["status"] for i, c in run["cells"].items()} == dict.fromkeys(range(1, 9), "ok")
    scores = run["scores"]
    assert (scores["1a"].points, scores["1c"].points, scores["2a"].points) == (1, 2, 2)
    assert scores["2b"].points == 2


def test_a_check_cell_that_failed_does_not_fix_the_answer(grader_stage, tmp_path):
    run = _run(grader_stage, tmp_path, [
        "import torch\nfrom d2l_tconv.exercise_checks import check",
        "rank_WtW, WtW_is_identity = 3, False\ncheck('1c', rank_WtW, WtW_is_identity)\n1 / 0",
        "rank_WtW = 4",
    ])
    assert run["cells"][2]["status"] == "error"
    assert run["scores"]["1c"].points == 2  # the check cell failed: the value at the end


# --- feedback: root causes first, cells as Jupyter counts them --------------------------------

def _result(lang: str):
    from pathlib import Path

    from d2l_tconv_grader.grader import PartResult, SubmissionResult
    from d2l_tconv_grader.notebook import Submission

    cells = [(2, "import subprocess\nsubprocess.run(['pip', 'install', 'x'])"),
             (4, "while True:\n    pass"), (6, "Z = 1")]
    result = SubmissionResult(Submission("s", Path("s.ipynb"), code_cells=cells, lang=lang))
    result.cells = {2: {"status": "error", "error": "PermissionError: [Errno 1] Operation not "
                                                    "permitted"},
                    4: {"status": "timeout", "error": "CellTimeout: the cell ran longer than 30 s"},
                    6: {"status": "ok", "error": None}}
    result.ended = "completed"
    result.parts = [PartResult(p.id, 0, p.points, "missing: Z not defined (cell 6: NameError)",
                               "No answer: Z not defined.") for p in PARTS]
    return result


@pytest.mark.parametrize("lang, refused, timeout, label", [
    ("en", "The sandbox refused to start a process in code cell 1",
     "code cell 2 (`while True:`) took longer than 30 s, the time limit per cell",
     "(code cell 3 (`Z = 1`): NameError)"),
    ("ja", "コードセル 1 (`import subprocess`) で、サンドボックスがプロセスの起動を拒否しました",
     "コードセル 2 (`while True:`) の実行が、セルごとの制限時間 30 秒を超えた",
     "（コードセル 3 (`Z = 1`): NameError）"),
])
def test_feedback_gives_root_causes_first_and_names_code_cells(lang, refused, timeout, label):
    from d2l_tconv_grader.report import feedback_markdown, record
    from d2l_tconv_grader.sandbox import Limits

    text = feedback_markdown(record(_result(lang), Limits(cell_timeout=30)))
    first = text.index("## Fix these first" if lang == "en" else "## まず直すこと")
    assert first < text.index(refused) < text.index(timeout) < text.index("| 1a |")
    assert label in text
