"""The students' public checks: right answers pass, wrong ones fail with a clear message, in
both languages, always saying that hidden tests decide the grade; and the module works with
nothing of the package but itself (as in the grader's sandbox)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import d2l_tconv.exercise_checks as checks
from d2l_tconv import kernel2matrix
from d2l_tconv.exercise_checks import PARTS, SIZES_2D, check, part, passes, set_language

X = torch.arange(9.0).reshape(3, 3)
K = torch.tensor([[1.0, 2.0], [3.0, 4.0]])


def _good() -> dict[str, tuple]:
    """Right answers, computed here with PyTorch and the package (not typed in)."""
    Y = F.conv2d(X[None, None], K[None, None])
    Z = F.conv_transpose2d(Y, K[None, None])[0, 0]
    W = kernel2matrix(K, (3, 3))
    WtW = W.T @ W
    delta = torch.zeros(2, 2)
    delta[1, 1] = 1.0

    def count(s, k):
        W = kernel2matrix(torch.ones(k), s, sparse=True)
        return W.shape[0] * W.shape[1], int(torch.count_nonzero(W.values()))

    dense = [kernel2matrix(torch.ones(3, 3), (n, n), max_bytes=None).numel() * 4
             for n in SIZES_2D]
    return {
        "1a": (Z,),
        "1b": (WtW,),
        "1c": (int(torch.linalg.matrix_rank(WtW.double())), False),
        "1d": (lambda K, s: kernel2matrix(K, s),),
        "1e": (delta, 1, 1, (4, 5)),
        "2a": (count,),
        "2b": (count((224, 224), (3, 3))[0] * 4, 9 * 4),
        "2c": (lambda X, K: F.conv2d(X, K),),
        "2d": (dense, [0.01, 0.1, 1.0, 10.0], [0.01, 0.02, 0.03, 0.05]),
    }


def _wrong() -> dict[str, tuple]:
    good = _good()

    def not_implemented(*args):
        raise NotImplementedError()

    return {
        "1a": (X,),
        "1b": (torch.eye(9),),
        "1c": (4, True),
        "1d": (lambda K, s: kernel2matrix(K, s).T,),
        "1e": (torch.full((2, 2), 0.5), 2, 0, (4, 4)),
        "2a": (not_implemented,),
        "2b": (36, 9_891_495_936),
        "2c": (lambda X, K: F.conv2d(X, K) * 2,),
        "2d": (good["2d"][0][::-1], good["2d"][1], good["2d"][2]),
    }


@pytest.mark.parametrize("part_id", [p.id for p in PARTS])
def test_right_answers_pass_and_wrong_ones_fail(part_id):
    assert passes(part_id, *_good()[part_id])
    assert not passes(part_id, *_wrong()[part_id])
    assert not passes(part_id, *([None] * len(part(part_id).names)))


@pytest.mark.parametrize("lang, ok, hidden", [
    ("en", "passes the public check", "hidden tests decide your grade"),
    ("ja", "公開チェックに合格しました", "成績は非公開テストで決まります"),
])
def test_messages_in_both_languages_always_mention_hidden_tests(capsys, lang, ok, hidden):
    set_language(lang)
    try:
        check("1a", _good()["1a"][0])
        check("1a", None)
        check("1d", _wrong()["2a"][0])
    finally:
        set_language("en")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("✓ 1a") and ok in lines[0]
    assert lines[1].startswith("✗ 1a") and "None" in lines[1]
    assert lines[2].startswith("✗ 1d") and "NotImplementedError" in lines[2]
    assert all(hidden in line for line in lines)


def test_student_code_that_raises_does_not_crash_the_check(capsys):
    check("2c", lambda X, K: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="part_id"):
        check("3z", 1)
    with pytest.raises(TypeError, match="answers"):
        check("1c", 4)
    with pytest.raises(ValueError, match="lang"):
        set_language("fr")
    with pytest.raises(ValueError, match="lang"):
        check("1a", X, lang="de")


def test_parts_are_well_formed():
    assert [p.id for p in PARTS] == sorted(p.id for p in PARTS)
    for p in PARTS:
        assert p.kind in ("value", "function")
        assert p.kind == "value" or len(p.names) == 1
        assert set(p.title) == {"en", "ja"} and p.points > 0


def test_module_imports_nothing_of_the_reference_implementation():
    tree = ast.parse(Path(checks.__file__).read_text(encoding="utf-8"))
    imported = {n.module if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    assert imported <= {"__future__", "math", "sys", "dataclasses", "torch",
                        "torch.nn.functional"}


def test_works_with_only_the_student_safe_package(grader_stage, tmp_path):
    stage = grader_stage
    code = ("import d2l_tconv, torch\n"
            "from d2l_tconv.exercise_checks import check\n"
            "assert 'matrix' not in dir(d2l_tconv)\n"
            "check('1c', 4, False)\n"
            "check('1a', torch.zeros(3, 3))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(stage / "pkg"), "PATH": "/usr/bin"},
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("✓ 1c")
    assert done.stdout.splitlines()[1].startswith("✗ 1a")
