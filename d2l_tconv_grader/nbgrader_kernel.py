"""The nbgrader route's autograder kernel, inside bubblewrap (issue 9).

``export-nbgrader --sandbox bwrap`` (the default where bwrap works) writes the kernelspec
``d2l-tconv-sandbox`` into the course tree (``jupyter/kernels/d2l-tconv-sandbox/kernel.json``)
and makes ``nbgrader_config.py`` select it for every notebook nbgrader executes (``autograde``,
``validate``). Its command is this module::

    python -m d2l_tconv_grader.nbgrader_kernel --course COURSE CONNECTION_FILE

which starts ``ipykernel`` in the sandbox of :mod:`.sandbox` (read-only file system, private
size-limited ``/tmp``, no network, an unprivileged user id, seccomp: no new processes, no
shared memory; the same ``RLIMIT_DATA``/``FSIZE``/``NOFILE``/``CORE`` limits). Hidden in there
(an empty folder mounted over them): the whole course tree (the gradebook database,
``source/``, ``release/``, every student's ``submitted/``, ``autograded/`` and ``feedback/``
folder, the seed file), the kernel's working folder, Jupyter's runtime folder (connection
files, server tokens), the home directory, the checkout and the installed ``d2l_tconv`` and
grader, and :data:`ALSO_HIDDEN`: every home folder and ``/srv`` (JupyterHub's usual place for
courses and nbgrader's exchange, which holds every student's submission), plus the folders
listed in ``$D2L_TCONV_HIDE`` (``os.pathsep``-separated: a non-default exchange, shared
data). The kernel imports only the student-safe ``d2l_tconv`` modules and the grader modules
the hidden test cells call (:func:`grader_modules`), copied into a private stage.

The sandbox has no network, so ZeroMQ cannot use TCP: the nbgrader side must use the ``ipc``
transport (``c.KernelManager.transport = "ipc"``, set by the generated configuration). The
kernel binds its Unix sockets inside the sandbox's own ``/tmp``, so nothing of the host is
writable from it. Before any student code can run (the client cannot reach the kernel yet),
this launcher opens each socket file through ``/proc/PID/root`` with ``O_PATH|O_NOFOLLOW``,
checks that it is a socket, and links the path the client expects to that open descriptor
(``/proc/LAUNCHER/fd/N``): the client connects to exactly those sockets, even if the
student's code later puts a symbolic link of its own in their place.

What this does NOT change: the hidden test cells still run in the same kernel, after the
student's cells, so a student's code can still tamper with them and forge its score. The
sandbox protects the machine, the gradebook and the other students' work, not the points.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_core.paths import jupyter_runtime_dir

from . import sandbox as sb
from .boundary import GRADER_PACKAGE, STUDENT_MODULES, staged_init

KERNEL_NAME = "d2l-tconv-sandbox"
KERNELS = "jupyter"  # DIR/jupyter/kernels/<name>/kernel.json: on JUPYTER_PATH via the config
SOCKETS = "/tmp/kernel/ipc"  # the kernel's ZeroMQ sockets inside the sandbox: SOCKETS-<port>
CONNECTION = "connection.json"  # in the stage, read-only at /tmp/grader in the sandbox
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
TESTS_MODULE = "nbgrader_tests"  # what the hidden test cells import
STARTUP_TIMEOUT = 60.0  # seconds for the kernel to bind its sockets (nbclient waits as long)
#: Hidden too, where they exist: other users' homes; JupyterHub courses and nbgrader's exchange.
ALSO_HIDDEN = ("/home", "/srv")


def kernelspec(python: str, repo: Path) -> dict:
    """The ``kernel.json`` of :data:`KERNEL_NAME`: this module on ``python``, with ``repo``
    (the checkout holding ``d2l_tconv_grader``) on its ``PYTHONPATH``. The kernel folder lies
    at ``COURSE/jupyter/kernels/<name>``, so ``{resource_dir}/../../..`` is the course."""
    return {
        "argv": [python, "-m", f"{GRADER_PACKAGE}.nbgrader_kernel",
                 "--course", "{resource_dir}/../../..", "{connection_file}"],
        "display_name": "Python 3 (d2l-tconv sandbox)",
        "language": "python",
        "interrupt_mode": "message",  # a signal would reach bwrap, not the kernel
        "env": {"PYTHONPATH": str(repo)},
        "metadata": {"d2l_tconv": "autograder kernel in bubblewrap (nbgrader_kernel.py)"},
    }


def grader_modules() -> list[str]:
    """The grader modules the hidden test cells import: :data:`TESTS_MODULE` and, in turn,
    every module of the grader it imports (relative imports, followed through the source)."""
    found, todo = set(), [TESTS_MODULE]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        tree = ast.parse((sb.GRADER_DIR / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    todo.append(node.module.split(".")[0])
                else:  # from . import x
                    todo += [alias.name for alias in node.names]
    return sorted(found)


def make_stage(folder: Path, connection: dict) -> Path:
    """What the kernel may see, at ``/tmp/grader``: ``pkg/`` with the student-safe
    ``d2l_tconv`` and the grader modules of :func:`grader_modules`, and the connection file
    (its ``ip`` moved to :data:`SOCKETS`)."""
    package = folder / "pkg" / "d2l_tconv"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(staged_init(), encoding="utf-8")
    for module in STUDENT_MODULES:
        shutil.copyfile(sb.PACKAGE_DIR / f"{module}.py", package / f"{module}.py")
    grader = folder / "pkg" / GRADER_PACKAGE
    grader.mkdir()
    (grader / "__init__.py").write_text('"""The grader modules of the nbgrader tests."""\n',
                                        encoding="utf-8")
    for module in grader_modules():
        shutil.copyfile(sb.GRADER_DIR / f"{module}.py", grader / f"{module}.py")
    (folder / CONNECTION).write_text(json.dumps({**connection, "ip": SOCKETS}), encoding="utf-8")
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def also_hidden() -> list[Path]:
    """:data:`ALSO_HIDDEN` and the folders named in ``$D2L_TCONV_HIDE``."""
    extra = os.environ.get("D2L_TCONV_HIDE", "")
    return [Path(p) for p in (*ALSO_HIDDEN, *extra.split(os.pathsep)) if p]


def _fail(message: str) -> int:
    print(f"{KERNEL_NAME}: {message}", file=sys.stderr)
    return 2


def _child_pid(fd: int) -> int:
    """The sandboxed process's host pid, from bwrap's ``--info-fd``."""
    data = b""
    with os.fdopen(fd, "rb") as info:
        while chunk := info.read1(4096):
            data += chunk
            try:
                return int(json.loads(data)["child-pid"])
            except ValueError:
                continue
    raise RuntimeError("bwrap gave no child pid")


def _pin(path: str, process: subprocess.Popen, timeout: float = STARTUP_TIMEOUT) -> int:
    """An ``O_PATH`` descriptor of the Unix socket at ``path`` once the kernel has bound it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_PATH | os.O_NOFOLLOW)
            break
        except FileNotFoundError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the kernel did not bind {path}") from None
            time.sleep(0.02)
    if not stat.S_ISSOCK(os.fstat(fd).st_mode):
        os.close(fd)
        raise RuntimeError(f"{path} is not a socket")
    return fd


def link_sockets(connection: dict, pid: int, process: subprocess.Popen) -> list[Path]:
    """Symbolic links at the socket paths the client connects to (``IP-PORT``), each to an
    open ``O_PATH`` descriptor (kept open by this process) of the kernel's socket, reached
    through the sandbox's root ``/proc/PID/root``; returns the links."""
    links = []
    for key in PORTS:
        fd = _pin(f"/proc/{pid}/root{SOCKETS}-{connection[key]}", process)
        link = Path(f"{connection['ip']}-{connection[key]}")
        link.symlink_to(f"/proc/{os.getpid()}/fd/{fd}")
        links.append(link)
    return links


def run(course: Path, connection_file: Path) -> int:
    """Start the sandboxed kernel for ``connection_file``; returns its exit status."""
    connection = json.loads(connection_file.read_text(encoding="utf-8"))
    if connection.get("transport") != "ipc" or not os.path.isabs(connection.get("ip", "")):
        return _fail('the kernel has no network: set c.KernelManager.transport = "ipc" '
                     "(export-nbgrader writes it into nbgrader_config.py)")
    sandbox = sb.find_sandbox()
    private = Path(tempfile.mkdtemp(prefix="d2l-tconv-kernel-"))
    links: list[Path] = []
    try:
        stage = make_stage(private / "stage", connection)
        hidden = sb.hidden_paths(course, course, private,
                                 [Path.cwd(), Path(jupyter_runtime_dir()), *also_hidden()])
        sandbox = sb.verify_sandbox(sandbox, stage, hidden)
        if sandbox.kind != "bubblewrap":
            return _fail(f"refusing to run student code unconfined: {sandbox.problem} "
                         "(export the course with --sandbox none to use the plain kernel)")
        limits = sb.Limits()
        with tempfile.TemporaryFile() as program:
            program.write(sandbox.seccomp or b"")
            program.seek(0)
            seccomp_fd = program.fileno() if sandbox.seccomp else None
            info_read, info_write = os.pipe()
            cmd = sb.bwrap_command(
                sandbox, stage, hidden, seccomp_fd,
                [sb.interpreter(), "-m", "ipykernel_launcher", "-f", f"/tmp/grader/{CONNECTION}"],
                options=["--dir", str(Path(SOCKETS).parent), "--info-fd", str(info_write),
                         # its parent is the sandbox's init (pid 1): no parent polling, and
                         # no "Ctrl-C will not work" note in nbgrader's log
                         "--setenv", "JPY_PARENT_PID", "1"])
            fds = [info_write] + ([seccomp_fd] if seccomp_fd is not None else [])
            process = subprocess.Popen(cmd, pass_fds=fds, cwd="/",
                                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                       preexec_fn=sb._limit(limits.memory_mb * 2**20))
            os.close(info_write)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, lambda s, f: process.send_signal(s))
            try:
                links = link_sockets(connection, _child_pid(info_read), process)
            except RuntimeError as error:  # bwrap or the kernel failed to start
                process.kill()
                process.wait()
                return _fail(str(error))
            return process.wait()
    finally:
        for link in links:
            link.unlink(missing_ok=True)
        shutil.rmtree(private, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"python -m {GRADER_PACKAGE}.nbgrader_kernel",
                                description="Run the autograder's ipykernel in bubblewrap "
                                            "(the kernelspec written by export-nbgrader).")
    p.add_argument("--course", type=Path, required=True, help="the nbgrader course folder")
    p.add_argument("connection_file", type=Path)
    args = p.parse_args(argv)
    return run(args.course.resolve(), args.connection_file.resolve())


if __name__ == "__main__":
    sys.exit(main())
