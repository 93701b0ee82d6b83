"""The fallback isolation where bubblewrap cannot run (Gradescope's containers): a fresh,
unprivileged user id per submission.

The grader runs as root; each submission's harness process drops to a user id that no file
and no other process on the machine belongs to (``base``, ``base + 1``, ... per submission),
with no supplementary groups, in a work folder that only it owns. What that user cannot do:
read or write anything mode ``0700`` of root's (the grader's source and hidden tests, the
seed, the results folder, the other runs of this grading, which the caller protects so), signal
the grader, or keep a process alive past the run (the run's process group is killed).
What it still can (unlike bubblewrap): read world-readable files, use the network, start
processes (bounded by ``RLIMIT_NPROC`` for that user id) and write to world-writable folders
such as /tmp. :func:`description` says so in every report.
"""

from __future__ import annotations

import itertools
import os
import pwd
import resource
import threading
from pathlib import Path

#: Processes and threads the student's user id may have at once (torch starts a few threads).
MAX_TASKS = 64
_lock = threading.Lock()
_next: dict[int, itertools.count] = {}


def available() -> str | None:
    """``None`` when a fresh user id can be used here, else why not."""
    if not hasattr(os, "setuid"):
        return "no setuid on this system"
    if os.geteuid() != 0:
        return "the grader is not running as root, so it cannot switch to a fresh user id"
    return None


def fresh_uid(base: int) -> int:
    """The next unused user id from ``base`` (one per submission in this process)."""
    with _lock:
        counter = _next.setdefault(base, itertools.count(base))
        while True:
            uid = next(counter)
            try:
                pwd.getpwuid(uid)
            except KeyError:
                return uid


def prepare(work: Path, uid: int) -> None:
    """Give the run's work folder to ``uid`` (mode 0700)."""
    os.chown(work, uid, uid)
    os.chmod(work, 0o700)


def drop_to(uid: int):
    """A ``preexec_fn`` step: become ``uid`` (group too, no supplementary groups) for good."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_TASKS, MAX_TASKS))
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError("could not drop to the fresh user id")
    return apply


def protect(*folders: Path) -> None:
    """Make ``folders`` reachable by root only (mode 0700), before any student code runs."""
    for folder in folders:
        if folder.exists():
            os.chmod(folder, 0o700)


def description(base: int) -> str:
    return ("sandbox: a fresh unprivileged user id per submission (from "
            f"{base}; bubblewrap unavailable); the grader's files, the seed, the results and "
            "the other runs are root-only (0700); world-readable files, the network and "
            f"process creation (at most {MAX_TASKS} tasks) are NOT confined; memory: "
            "RLIMIT_DATA only")


def kill_all(uid: int) -> None:
    """Kill every process left running as ``uid`` (a student process may have left its
    process group); done from a child that becomes ``uid``, so nothing else can be hit."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, 9)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def use(private: Path) -> None:
    """Lay out the grader's private folder for runs under fresh user ids: the folder itself
    traversable (its ``stage`` holds what the harness must read), ``runs/`` root-only."""
    os.chmod(private, 0o711)
    (private / "runs").mkdir(mode=0o700, exist_ok=True)


def library_path() -> str:
    """The folders of the libraries the harness imports (torch, NumPy), for the student's
    ``PYTHONPATH``: the interpreter may find them through a virtual environment or through
    the grader's own ``PYTHONPATH``, which the student's process does not inherit."""
    import numpy
    import torch

    return os.pathsep.join(sorted({str(Path(m.__file__).resolve().parents[1])
                                   for m in (torch, numpy)}))
