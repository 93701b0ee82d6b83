"""Fuzzing the grader's own process (issue 8): malformed notebooks and malformed sandbox output.

Hypothesis writes random submissions (random JSON shapes, deep nesting, huge numbers, odd cell
types, sources as strings, lists or neither, missing keys, huge outputs, random bytes, control
characters and formulas in file names) and, for those that get as far as running, random event
lines in place of the sandbox's output (valid events with hostile values, forged events, plain
junk). Each example goes through the real pipeline, reading, scanning, decoding, scoring and
writing every output file, with only the sandbox replaced, and must never raise, must give
every submission one gradebook row per part, and must stay within the per-example deadline.

Bounded for CI: a fixed number of derandomized examples, 5 s per example at most; the whole
module takes well under 60 s on two cores.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from d2l_tconv.exercise_checks import PARTS
from d2l_tconv_grader import grader
from d2l_tconv_grader.escape import safe_name
from d2l_tconv_grader.report import write_all
from d2l_tconv_grader.sandbox import Limits, RunResult, Sandbox

IDS = [p.id for p in PARTS]
NAMES = sorted({name for p in PARTS for name in p.names})

scalars = (st.none() | st.booleans() | st.integers(-10**60, 10**60)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["__tensor__", "__float__", "__missing__", "__invalid__", "dtype",
                         "shape", "data", "x"]), inner, max_size=4),
    max_leaves=25)
tensors = st.fixed_dictionaries({"__tensor__": st.fixed_dictionaries({
    "dtype": st.sampled_from(["float32", "int64", "bool", "complex64", "float16"]),
    "shape": st.lists(st.integers(-2, 5), max_size=3),
    "data": st.lists(st.integers(-10**30, 10**30) | st.floats() | st.booleans(), max_size=12),
})})
answers = json_values | tensors

CODE = [
    "Z = 1", "x = 1" + " + 1" * 700, "f" + "()" * 500, "Z," * 5000, "%%time\nZ = 2",
    "!pip install d2l", "def my_kernel2matrix(K, s):\n    return F.conv3d(K, K)",
    "import torch\ntorch.allclose = max", "print('All tests passed')", "getattr(F, 'c' + 'v')",
    "class A:\n    def __eq__(self, o):\n        return True", "import resource",
    "x = (" * 90 + ")" * 90, "", "\x00\x1b[31m", "def f(:\n",
]
sources = st.sampled_from(CODE) | st.text(max_size=200) | st.lists(
    st.sampled_from(CODE) | st.text(max_size=40), max_size=4)
cells = st.fixed_dictionaries(
    {}, optional={
        "cell_type": st.sampled_from(["code", "markdown", "raw", "heading"]) | scalars,
        "source": sources | scalars,
        "outputs": st.lists(json_values, max_size=3) | st.just([{"text": "y" * 200_000}]),
        "metadata": json_values,
    })
notebooks = st.fixed_dictionaries(
    {}, optional={
        "cells": st.lists(cells, max_size=8) | scalars,
        "nbformat": st.sampled_from([4, 3, "4", -1, 10**40]),
        "metadata": st.fixed_dictionaries({}, optional={
            "d2l_tconv": st.fixed_dictionaries({}, optional={"lang": scalars})}),
        "x_extra": json_values,
    })
plausible_cells = st.builds(
    lambda source, kind, outputs: {"cell_type": kind, "source": source, "metadata": {},
                                   "outputs": outputs},
    sources, st.sampled_from(["code", "code", "markdown"]),
    st.just([]) | st.lists(json_values, max_size=2))
plausible_notebooks = st.fixed_dictionaries(
    {"cells": st.lists(plausible_cells | cells, min_size=1, max_size=8),
     "nbformat": st.just(4), "metadata": st.just({})},
    optional={"x_extra": json_values})
documents = (
    plausible_notebooks.map(lambda nb: json.dumps(nb).encode())
    | plausible_notebooks.map(lambda nb: json.dumps(nb).encode())
    | notebooks.map(lambda nb: json.dumps(nb).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.integers(1, 50_000).map(lambda n: ("[" * n + "]" * n).encode())
    | st.integers(4400, 6000).map(lambda n: ('{"cells": [], "n": ' + "9" * n + "}").encode())
    | st.binary(max_size=300)
)
file_names = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    min_size=1, max_size=40).filter(lambda s: not s.startswith(".")) | st.sampled_from(
    ["=1+2", "@SUM(A1)", "+x", "-x", "a\nb| 18 |", "\t\r", "<script>x</script>"])

events = st.fixed_dictionaries({"event": st.sampled_from(["cell", "part", "done", "stopped"])},
                               optional={
    "index": st.integers(-5, 10**12) | scalars,
    "status": st.sampled_from(["ok", "error", "timeout", "memory", "weird"]),
    "error": st.text(max_size=50) | scalars,
    "id": st.sampled_from(IDS + ["9z"]),
    "stage": st.text(max_size=10),
    "values": st.dictionaries(st.sampled_from(NAMES), answers, max_size=4) | json_values,
    "calls": st.lists(st.dictionaries(st.sampled_from(
        ["value", "error", "timeout", "invalid", "skipped", "forbidden"]),
        answers, max_size=2), max_size=5),
    "guard": st.sampled_from(["ok", "lost", 1]),
    "reason": st.text(max_size=60) | scalars,
})
lines = st.lists(events.map(json.dumps) | st.text(max_size=80) | st.just(
    '{"event": "part", "id": "1a", "stage": "x", "values": {"Z": ' + "9" * 5000 + "}}"),
    max_size=12)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    return grader.Context(Sandbox("none", problem="fuzz: no sandbox run"), root, [],
                          Limits(), 7, root / "private")


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(max_examples=60, deadline=5000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(submissions=st.lists(st.tuples(file_names, documents), min_size=1, max_size=3,
                            unique_by=lambda t: t[0]),
       output=lines)
def test_malformed_submissions_never_crash_the_grader(context, monkeypatch, submissions,
                                                      output):
    monkeypatch.setattr(grader, "run_harness",
                        lambda *args: RunResult(list(output), 0, None, 0.0, "junk\n" * 3))
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        subs, out = folder / "subs", folder / "out"
        subs.mkdir()
        for name, content in submissions:
            try:
                (subs / f"{name}.ipynb").write_bytes(content)
            except OSError:  # a name this file system refuses (too long in bytes)
                pass
        paths = grader_paths(subs)
        results = [grader.grade_submission(path, context) for path in paths]
        for result in results:  # --hypothesis-show-statistics: how far examples got
            event("ran" if result.ended.startswith(("completed", "stopped"))
                  else result.ended.split("(")[0][:40])
        write_all(out, results, context.sandbox, context.limits, context.seed, 0.0)
        with open(out / "gradebook.csv", newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))[1:]
        assert len(rows) == len(IDS) * len(paths)
        for result in results:
            assert [p.part for p in result.parts] == IDS
            assert result.name == safe_name(result.submission.original_name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def grader_paths(folder: Path) -> list[Path]:
    from d2l_tconv_grader.notebook import find_submissions

    return find_submissions(folder)
