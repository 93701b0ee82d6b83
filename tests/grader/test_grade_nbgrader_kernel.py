"""The nbgrader route's sandboxed kernel, without running nbgrader (fast): what
``export-nbgrader --sandbox`` writes and how Jupyter reads it, what the kernel's stage holds,
and the refusals. The round trip with real nbgrader and a hostile submission is in
test_grade_nbgrader.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from d2l_tconv_grader import nbgrader_export, nbgrader_kernel
from d2l_tconv_grader.boundary import STUDENT_MODULES
from d2l_tconv_grader.sandbox import find_sandbox


def _load_config(folder: Path):
    return PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()


def test_sandboxed_config_selects_the_kernel_and_jupyter_finds_it(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.delenv("JUPYTER_PATH", raising=False)  # restored after the test
    nbgrader_export.write_config(tmp_path, sandboxed=True)
    config = _load_config(tmp_path)
    assert config.Execute.kernel_name == nbgrader_kernel.KERNEL_NAME
    assert config.KernelManager.transport == "ipc"
    assert Path(config.KernelManager.ip).is_absolute()  # the launcher needs the real paths
    spec = KernelSpecManager().get_kernel_spec(nbgrader_kernel.KERNEL_NAME)
    assert Path(spec.resource_dir) == tmp_path / "jupyter" / "kernels" / "d2l-tconv-sandbox"
    assert spec.interrupt_mode == "message"
    assert spec.argv[1:3] == ["-m", "d2l_tconv_grader.nbgrader_kernel"]
    course = spec.argv[spec.argv.index("--course") + 1]
    assert (Path(course.replace("{resource_dir}", spec.resource_dir)).resolve()
            == tmp_path.resolve())
    assert spec.argv[-1] == "{connection_file}"


def test_plain_config_keeps_the_python3_kernel(tmp_path):
    nbgrader_export.write_config(tmp_path, sandboxed=False)
    config = _load_config(tmp_path)
    assert "kernel_name" not in config.Execute and "KernelManager" not in config
    assert not (tmp_path / "jupyter").exists()
    assert config.ExecutePreprocessor.timeout == nbgrader_export.CELL_TIMEOUT


def test_sandbox_choice_says_what_it_chose(monkeypatch):
    assert nbgrader_export.sandbox_choice("none")[0] is False
    monkeypatch.setenv("D2L_TCONV_BWRAP", "/nonexistent/bwrap")
    with pytest.raises(ValueError, match="--sandbox bwrap: bubblewrap"):
        nbgrader_export.sandbox_choice("bwrap")
    sandboxed, note = nbgrader_export.sandbox_choice("auto")
    assert not sandboxed and note.startswith("WARNING: no bubblewrap") and "unconfined" in note
    monkeypatch.delenv("D2L_TCONV_BWRAP")
    if find_sandbox().kind == "bubblewrap":
        assert nbgrader_export.sandbox_choice("auto")[0] is True


def test_stage_holds_only_what_the_test_cells_import(tmp_path):
    modules = nbgrader_kernel.grader_modules()
    assert {"nbgrader_tests", "hidden", "data", "_harness", "texts"} <= set(modules)
    # the grader's own pipeline, the scan, the sandbox and the reports stay out
    assert {"grader", "scan", "sandbox", "cli", "report", "instructor",
            "nbgrader_kernel"}.isdisjoint(modules)
    connection = {"transport": "ipc", "ip": "/host/runtime/kernel-ipc", "shell_port": 1}
    stage = nbgrader_kernel.make_stage(tmp_path / "stage", connection)
    assert sorted(p.name for p in (stage / "pkg" / "d2l_tconv").iterdir()) == sorted(
        ["__init__.py", *(f"{m}.py" for m in STUDENT_MODULES)])  # no reference solution
    assert sorted(p.stem for p in (stage / "pkg" / "d2l_tconv_grader").iterdir()) == sorted(
        ["__init__", *modules])
    staged = json.loads((stage / nbgrader_kernel.CONNECTION).read_text())
    assert staged == {**connection, "ip": nbgrader_kernel.SOCKETS}


def test_kernel_refuses_a_tcp_connection(tmp_path, capsys):
    connection_file = tmp_path / "kernel.json"
    connection_file.write_text(json.dumps({"transport": "tcp", "ip": "127.0.0.1"}))
    assert nbgrader_kernel.main(["--course", str(tmp_path), str(connection_file)]) == 2
    assert 'c.KernelManager.transport = "ipc"' in capsys.readouterr().err


def test_other_homes_the_exchange_and_named_folders_are_hidden(monkeypatch, tmp_path):
    monkeypatch.setenv("D2L_TCONV_HIDE", f"{tmp_path / 'exchange'}:{tmp_path / 'data'}")
    assert nbgrader_kernel.also_hidden() == [Path("/home"), Path("/srv"),
                                             tmp_path / "exchange", tmp_path / "data"]
    monkeypatch.delenv("D2L_TCONV_HIDE")
    assert nbgrader_kernel.also_hidden() == [Path("/home"), Path("/srv")]


def test_the_client_reaches_the_pinned_socket_not_a_link(tmp_path):
    """The launcher links the client's path to an open O_PATH descriptor of the kernel's
    socket; a symbolic link where the socket should be (a student's swap) is refused."""
    import socket
    import subprocess

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "ipc-1"))
    server.listen()
    alive = subprocess.Popen(["sleep", "30"])
    try:
        fd = nbgrader_kernel._pin(str(tmp_path / "ipc-1"), alive)
        client = socket.socket(socket.AF_UNIX)
        client.connect(f"/proc/self/fd/{fd}")
        server.accept()[0].close()
        client.close()
        os.close(fd)
        (tmp_path / "swapped").symlink_to(tmp_path / "ipc-1")
        with pytest.raises(RuntimeError, match="not a socket"):
            nbgrader_kernel._pin(str(tmp_path / "swapped"), alive)
        (tmp_path / "file").write_text("")
        with pytest.raises(RuntimeError, match="not a socket"):
            nbgrader_kernel._pin(str(tmp_path / "file"), alive)
    finally:
        alive.kill()
        alive.wait()
        server.close()
    with pytest.raises(RuntimeError, match="did not bind"):  # the kernel has exited
        nbgrader_kernel._pin(str(tmp_path / "never"), alive)
