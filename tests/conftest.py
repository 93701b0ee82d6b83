"""Shared fixtures: the devices every device-aware test runs on, and strict mode; the order in
which the files' tests are handed to the workers."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess

import pytest

# Under `pytest -n 2` each worker would start one intra-op thread per core, and the two
# workers would fight over the 2 cores: one thread per worker is faster overall. (torch is
# imported here only in the workers: xdist's controller, which runs no test, starts them
# sooner without it.)
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)

# CI sets D2L_TCONV_STRICT=1: a test that would be skipped for a missing tool
# (bubblewrap, node) fails instead, so a green CI always means it really ran.
STRICT = os.environ.get("D2L_TCONV_STRICT") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip locally when a tool is missing; fail in CI (D2L_TCONV_STRICT=1)."""
    if STRICT:
        pytest.fail(f"{reason} (D2L_TCONV_STRICT=1: tools must be present)")
    pytest.skip(reason)


def bubblewrap_sandbox(stage):
    """The grader's bubblewrap sandbox, checked to work with the staging folder ``stage``;
    skips (locally) or fails (CI) where bwrap is missing or does not work."""
    from d2l_tconv_grader.sandbox import find_sandbox, verify_sandbox

    sandbox = verify_sandbox(find_sandbox(), stage, [])
    if sandbox.kind != "bubblewrap":
        skip_or_fail(f"bubblewrap (bwrap) not installed or not working: {sandbox.problem}")
    return sandbox


@pytest.fixture(scope="session")
def grader_stage(tmp_path_factory):
    """The grader's staging folder (harness, student-safe package, matplotlib's font cache),
    made once per worker for the tests that run the harness themselves: ``make_stage`` builds
    the font cache in a fresh interpreter, about 0.4 s of CPU each time. The runs only read
    it (bubblewrap mounts it read-only; unconfined runs work in their own folders)."""
    from d2l_tconv_grader.sandbox import make_stage

    return make_stage(tmp_path_factory.mktemp("grader") / "stage")


@pytest.hookimpl(tryfirst=True)  # before the parametrize marks: ids stay "cpu-..."
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test that takes ``device`` runs on the CPU, and on CUDA where available."""
    if "device" in metafunc.fixturenames:
        import torch

        names = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        metafunc.parametrize("device", [torch.device(name) for name in names], ids=names)


def grader_main(*args: str) -> subprocess.CompletedProcess:
    """The grader command's ``main`` in this process (no fresh interpreter, which costs a second
    or two of imports): its exit status and printed text, as ``subprocess.run`` gives them."""
    from d2l_tconv_grader.cli import main

    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = main(list(args))
    return subprocess.CompletedProcess(args, code, printed.getvalue(), errors.getvalue())


def stop_process_group(proc: subprocess.Popen, timeout: float) -> None:
    """Stop a server started with ``start_new_session=True``, and everything it started."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


#: Files without a ``slow`` test that still take several seconds of CPU (figures drawn,
#: fresh interpreters, hypothesis, harness runs), from ``--durations``: a hint for the order
#: below only.
LONG_FILES = ("tests/ops/test_explorer.py", "tests/ops/test_animation.py",
              "tests/ops/test_figures.py", "tests/grader/test_grade_one_mistake.py",
              "tests/grader/test_grade_fuzz.py", "tests/ops/test_lazy_imports.py",
              "tests/exercises/test_exercise_checks.py")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest work first, so that under ``pytest -n 2 --dist loadfile`` (with
    ``--no-loadscope-reorder``, pyproject.toml) neither worker ends alone with a long file:
    files with a ``slow`` test (servers, sandboxes, browsers), then the notebooks nbval runs
    in a kernel and the :data:`LONG_FILES`, then the other files, those with more tests
    first. Within a file, the order stays."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def weight(path: str) -> tuple[int, int]:
        tests = files[path]
        if any(item.get_closest_marker("slow") for item in tests):
            return (0, 0)
        if path.endswith(".ipynb") or path in LONG_FILES:
            return (1, 0)
        return (2, -len(tests))

    items[:] = [item for path in sorted(files, key=weight) for item in files[path]]
