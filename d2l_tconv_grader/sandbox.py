"""Run the harness on one submission: inside bubblewrap when there is one, with limits.

The sandbox (Linux, ``bwrap`` from the Debian/Ubuntu package ``bubblewrap``):

* the whole file system read-only (``--ro-bind / /``, ``/dev`` and ``/dev/shm`` too), except a
  private, size-limited ``/tmp`` that is the student's scratch folder and disappears with the
  sandbox;
* hidden (an empty read-only folder mounted over them): the repository, the installed
  ``d2l_tconv`` (reference implementation) and ``d2l_tconv_grader`` (grader, hidden tests),
  the solutions, the submissions
  folder, the output folder, the grader's staging folder and the grader's home directory
  (the Python installation is mounted back read-only where it lies inside one of them);
* no network, own process/IPC/UTS namespaces, a fresh session, no capabilities, an unprivileged
  user id, and a seccomp filter that refuses to create processes (threads still work), so the
  memory limit cannot be multiplied by forking, and refuses shared memory (``mmap`` with
  ``MAP_SHARED``, ``memfd_create``, ``shmget``), which ``RLIMIT_DATA`` would not count;
* a student-safe copy of ``d2l_tconv`` on ``PYTHONPATH``: ``__init__`` (generated),
  ``project``, ``exercise_checks``, ``environment`` (:mod:`.boundary`); nothing else of the
  package, and nothing of the grader, exists in there.

Memory: this machine kind offers no delegated cgroup v2 (``memory.max``) to an unprivileged
grader, so the limit is ``RLIMIT_DATA`` (private and anonymous memory) minus the size of the
private /tmp, with the shared kinds of memory refused by seccomp (above).

Limits on every run: ``RLIMIT_DATA`` (memory, counts anonymous mappings), ``RLIMIT_FSIZE``,
``RLIMIT_CORE``, ``RLIMIT_NOFILE``; a per-cell and per-call alarm inside the harness; and a
wall-clock limit here that kills the sandbox's whole process group.

Without bubblewrap the same harness can run unconfined (``allow_unsandboxed``), with the same
limits but without the file-system, network and process isolation; the report then says so.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from . import isolation
from .boundary import GRADER_PACKAGE, STUDENT_MODULES, staged_init

# The d2l_tconv that grades, found without importing it (that would import torch, which the
# nbgrader kernel's launcher, a user of this module, does not need).
PACKAGE_DIR = Path(find_spec("d2l_tconv").origin).resolve().parent
GRADER_DIR = Path(__file__).resolve().parent  # .../d2l_tconv_grader
HARNESS = GRADER_DIR / "_harness.py"
SANDBOX_TMP_BYTES = 256 * 2**20
OUTPUT_FILE_BYTES = 64 * 2**20
FONT_CACHE = "mplconfig"  # matplotlib's font cache in the stage (build_font_cache)

# seccomp, for the machines we know: arch, syscalls refused with EPERM (fork, vfork; memfd_create,
# shmget: memory that RLIMIT_DATA does not count), clone, clone3, mmap.
_SECCOMP_ARCH = {
    "x86_64": (0xC000003E, [57, 58, 319, 29], 56, 435, 9),
    "aarch64": (0xC00000B7, [279, 194], 220, 435, 222),
}
_CLONE_THREAD = 0x00010000
_MAP_SHARED = 0x01  # MAP_SHARED and MAP_SHARED_VALIDATE both have this bit


@dataclass
class Limits:
    """Per-submission limits: wall clock (s), per cell and per hidden call (s), memory (MiB)."""

    timeout: float = 120.0
    cell_timeout: float = 30.0
    part_timeout: float = 10.0
    memory_mb: int = 3072


@dataclass
class Sandbox:
    """How student code will run: ``kind`` is ``"bubblewrap"`` or ``"none"``."""

    kind: str
    bwrap: str | None = None
    seccomp: bytes | None = None
    problem: str | None = None  # why there is no sandbox
    hide: list[Path] = field(default_factory=list)
    uid_base: int | None = None  # kind "uid": a fresh user id per run (isolation.py, issue 9)

    @property
    def description(self) -> str:
        if self.kind == "uid":
            return isolation.description(self.uid_base)
        if self.kind == "bubblewrap":
            processes = ("new processes refused (seccomp)" if self.seccomp else
                         "process creation NOT limited (no seccomp filter for "
                         f"{platform.machine()})")
            memory = ("memory: RLIMIT_DATA, with shared mappings, memfd_create and shmget "
                      "refused (seccomp) and the private /tmp counted in the limit; no writable "
                      "/dev/shm; no cgroup" if self.seccomp else
                      "memory: RLIMIT_DATA only (shared mappings NOT limited: no seccomp)")
            return (f"sandbox: bubblewrap ({self.bwrap}); read-only file system, private /tmp, "
                    f"no network, {processes}; {memory}")
        return ("NO SANDBOX AVAILABLE: student code ran unconfined — scores not trustworthy"
                f" ({self.problem})")


@dataclass
class RunResult:
    """What came back from one run: the harness's JSON lines and how the run ended."""

    lines: list[str]
    returncode: int | None
    killed: str | None  # "timeout" when the wall-clock limit killed it
    seconds: float
    stderr_tail: str


def seccomp_filter(machine: str | None = None) -> bytes | None:
    """A classic-BPF seccomp program: fork/vfork and clone without CLONE_THREAD fail with
    EPERM, clone3 with ENOSYS (glibc then falls back to clone); shared mappings
    (``mmap`` with ``MAP_SHARED``), ``memfd_create`` and ``shmget`` fail with EPERM, so that
    every byte the student's process holds is private memory, counted by ``RLIMIT_DATA``;
    foreign ABIs are killed."""
    spec = _SECCOMP_ARCH.get(machine or platform.machine())
    if spec is None:
        return None
    arch, refused, clone, clone3, mmap = spec
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, errno, kill = 0x7FFF0000, 0x00050000, 0x80000000
    # (op, k, jump if true, jump if false); a jump names a label, None is the next line.
    program: list[tuple] = [("ld", 4), ("jeq", arch, None, "kill"), ("ld", 0),
                            ("jge", 0x40000000, "kill", None)]
    program += [("jeq", nr, "eperm", None) for nr in refused]
    program += [("jeq", clone3, "enosys", None), ("jeq", mmap, "mmap", None),
                ("jeq", clone, None, "allow"), ("ld", 16),
                ("jset", _CLONE_THREAD, "allow", "eperm"),
                ("label", "mmap"), ("ld", 16 + 8 * 3),  # low half of the flags argument
                ("jset", _MAP_SHARED, "eperm", "allow")]
    labels, lines = {}, []
    for instruction in program:
        if instruction[0] == "label":
            labels[instruction[1]] = len(lines)
        else:
            lines.append(instruction)
    labels.update({"allow": len(lines), "eperm": len(lines) + 1, "enosys": len(lines) + 2,
                   "kill": len(lines) + 3})
    code = b""
    for n, instruction in enumerate(lines):
        if instruction[0] == "ld":
            code += struct.pack("=HBBI", ld, 0, 0, instruction[1])
            continue
        op = {"jeq": jeq, "jge": jge, "jset": jset}[instruction[0]]
        jt, jf = (0 if t is None else labels[t] - n - 1 for t in instruction[2:])
        code += struct.pack("=HBBI", op, jt, jf, instruction[1])
    for value in (allow, errno | 1, errno | 38, kill):
        code += struct.pack("=HBBI", ret, 0, 0, value)
    return code


def find_sandbox(bwrap: str | None = None) -> Sandbox:
    """Bubblewrap if it is installed and works here (user namespaces allowed), else "none"."""
    path = bwrap or os.environ.get("D2L_TCONV_BWRAP") or shutil.which("bwrap")
    if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return Sandbox("none", problem="bubblewrap (bwrap) is not installed: "
                                       "apt-get install bubblewrap")
    seccomp = seccomp_filter()
    probe = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--unshare-all", "--die-with-parent", "--new-session", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Sandbox("none", problem=f"bwrap does not run: {error}")
    if done.returncode != 0:
        return Sandbox("none", problem=f"bwrap does not work here: {done.stderr.strip()[:200]}")
    return Sandbox("bubblewrap", bwrap=path, seccomp=seccomp)


def make_stage(folder: Path) -> Path:
    """Write what the sandbox may see into ``folder``: the harness, the student-safe
    package (``pkg/d2l_tconv/``: a generated ``__init__`` and the modules named in
    :data:`.boundary.STUDENT_MODULES`) and matplotlib's font cache (``mplconfig/``, see
    :func:`build_font_cache`)."""
    package = folder / "pkg" / "d2l_tconv"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(staged_init(), encoding="utf-8")
    for module in STUDENT_MODULES:
        shutil.copyfile(PACKAGE_DIR / f"{module}.py", package / f"{module}.py")
    shutil.copyfile(HARNESS, folder / "harness.py")
    build_font_cache(folder / FONT_CACHE)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def build_font_cache(folder: Path) -> bool:
    """Build matplotlib's font cache once, into ``folder``, before any submission runs.

    Without it every sandbox starts with an empty ``MPLCONFIGDIR`` and matplotlib scans every
    installed font (seconds with CJK fonts) inside the time limit of the first cell that
    plots. The harness copies this read-only cache into the sandbox's ``MPLCONFIGDIR`` before
    the first cell's clock starts. Returns whether a cache was built (no matplotlib: no)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MPLCONFIGDIR": str(folder),
           "MPLBACKEND": "Agg", "HOME": str(folder)}
    try:
        done = subprocess.run([interpreter(), "-c", "import matplotlib.font_manager"],
                              env=env, capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and any(folder.glob("fontlist*.json"))


def repository_root() -> Path | None:
    """The checkout the grader runs from (holds the solutions), if it is one."""
    root = GRADER_DIR.parent
    if (root / "pyproject.toml").exists() or (root / ".git").exists() or (
            root / "exercises").exists():
        return root
    return None


def installed_package_dirs() -> list[Path]:
    """Where the sandbox's interpreter would import ``d2l_tconv`` or the grader from without
    the stage: an installed copy, or the checkout an editable install points to (which need
    not be the one the grader runs from). Hidden too, or ``import d2l_tconv`` would find the
    reference implementation."""
    probe = (f"import importlib.util as u\nfor n in ('d2l_tconv', {GRADER_PACKAGE!r}):\n"
             "    s = u.find_spec(n)\n"
             "    print('\\n'.join(s.submodule_search_locations or []) if s else '')")
    try:
        done = subprocess.run([interpreter(), "-I", "-c", probe], capture_output=True,
                              text=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [Path(line) for line in done.stdout.splitlines() if line.strip()]


def hidden_paths(submissions: Path, out: Path, stage_root: Path, extra: list[Path]) -> list[Path]:
    """Folders student code must not see, outermost first, without duplicates."""
    candidates = [PACKAGE_DIR, GRADER_DIR, submissions, out, stage_root, Path.home(), *extra,
                  *installed_package_dirs()]
    root = repository_root()
    if root is not None:
        candidates.append(root)
    resolved: list[Path] = []
    for path in candidates:
        path = path.resolve()
        if path == Path("/") or not path.exists():
            continue
        if any(path == kept or kept in path.parents for kept in resolved):
            continue
        resolved = [kept for kept in resolved if path not in kept.parents]
        resolved.append(path)
    return sorted(resolved)


def interpreter() -> str:
    """The Python the sandbox runs: this one, reached through the resolved environment folder
    (a virtual environment linked into a hidden checkout, ``.venv -> /elsewhere/.venv``, stays
    reachable; the executable keeps its name, so the environment's ``pyvenv.cfg`` is found)."""
    executable = Path(sys.executable)
    prefix = Path(sys.prefix)
    if prefix in executable.parents:
        candidate = prefix.resolve() / executable.relative_to(prefix)
        if candidate.exists():
            return str(candidate)
    return sys.executable


def python_paths() -> list[Path]:
    """What the interpreter needs: its prefixes and the real location of the executable."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path(os.path.realpath(sys.executable)).parent.parent}
    return sorted(p.resolve() for p in paths)


def bwrap_command(sandbox: Sandbox, stage: Path, hidden: list[Path], seccomp_fd: int | None,
                  program: list[str] | None = None, options: list[str] = ()) -> list[str]:
    """The bwrap command line that runs the staged harness (or ``program``); ``options``
    are more bwrap options, given last (the nbgrader kernel's ``--info-fd``)."""
    cmd = [sandbox.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
           "--size", str(SANDBOX_TMP_BYTES), "--tmpfs", "/tmp", "--remount-ro", "/dev"]
    for path in hidden:
        cmd += ["--tmpfs", str(path)]
    # The interpreter must stay visible even where it lives under a hidden folder or under
    # /tmp (a checkout in a temporary folder, as in CI): bind it back, read-only.
    covered = [*hidden, Path("/tmp")]
    rebinds = [p for p in python_paths() if any(h == p or h in p.parents for h in covered)]
    for path in rebinds:
        cmd += ["--ro-bind", str(path), str(path)]
    for path in hidden:
        cmd += ["--remount-ro", str(path)]
    cmd += ["--ro-bind", str(stage), "/tmp/grader", "--dir", "/tmp/work", "--chdir", "/tmp/work",
            "--unshare-all", "--uid", "65534", "--gid", "65534", "--hostname", "sandbox",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    for key, value in sandbox_environment("/tmp/grader", "/tmp/work").items():
        cmd += ["--setenv", key, value]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    cmd += list(options)
    cmd += program or [interpreter(), "-B", "/tmp/grader/harness.py"]
    return cmd


def verify_sandbox(sandbox: Sandbox, stage: Path, hidden: list[Path]) -> Sandbox:
    """Run Python once with the exact options of the grading runs (older bubblewrap versions
    lack some, and some containers forbid them); "none" with the reason if that fails."""
    if sandbox.kind != "bubblewrap":
        return sandbox
    with tempfile.TemporaryFile() as program:
        fds, fd = [], None
        if sandbox.seccomp:
            program.write(sandbox.seccomp)
            program.seek(0)
            fd = program.fileno()
            fds.append(fd)
        cmd = bwrap_command(sandbox, stage, hidden, fd,
                            [interpreter(), "-c", "import json, os; os.fork()"])
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, pass_fds=fds)
        except (OSError, subprocess.TimeoutExpired) as error:
            return Sandbox("none", problem=f"bwrap does not run: {error}")
    if "bwrap:" in done.stderr or (fd is None and done.returncode != 0):
        return Sandbox("none", problem="bwrap fails with the grader's options: "
                                       f"{done.stderr.strip()[:200]}")
    if fd is not None and "PermissionError" not in done.stderr:
        return Sandbox("none", problem="bwrap's seccomp filter does not refuse fork() here")
    return sandbox


def sandbox_environment(stage: str, work: str) -> dict[str, str]:
    """The environment variables of the student's process (nothing of the grader's)."""
    return {
        "PATH": f"{Path(interpreter()).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": work, "TMPDIR": work, "PYTHONPATH": f"{stage}/pkg", "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{work}/.matplotlib",
        "IPYTHONDIR": f"{work}/.ipython", "XDG_CACHE_HOME": f"{work}/.cache",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    }


def data_limit(memory_bytes: int) -> int:
    """``RLIMIT_DATA`` for a memory limit of ``memory_bytes``: the private /tmp (tmpfs, whose
    pages ``RLIMIT_DATA`` does not count) is paid for out of the same budget."""
    return max(memory_bytes - SANDBOX_TMP_BYTES, memory_bytes // 2)


def _limit(memory_bytes: int):
    def apply() -> None:
        data = data_limit(memory_bytes)
        resource.setrlimit(resource.RLIMIT_DATA, (data, data))
        resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_FILE_BYTES, OUTPUT_FILE_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails, not kills
    return apply


def run_harness(job: dict, sandbox: Sandbox, stage: Path, hidden: list[Path], limits: Limits,
                private: Path) -> RunResult:
    """Run the harness on ``job`` (cells, parts, limits) and collect its output lines.

    ``private`` is a folder of the grader's (hidden from the sandbox) for the results file.
    """
    private.mkdir(parents=True, exist_ok=True)
    results_path, stderr_path = private / "results.jsonl", private / "stderr.txt"
    start = time.monotonic()
    preexec, cleanup = [_limit(limits.memory_mb * 2**20)], []
    with open(results_path, "w+b") as results, open(stderr_path, "w+b") as stderr, \
            tempfile.TemporaryFile() as program:
        pass_fds = [results.fileno()]
        seccomp_fd = None
        if sandbox.kind == "bubblewrap":
            if sandbox.seccomp:
                program.write(sandbox.seccomp)
                program.seek(0)
                seccomp_fd = program.fileno()
                pass_fds.append(seccomp_fd)
            cmd = bwrap_command(sandbox, stage, hidden, seccomp_fd)
            env, cwd = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, "/"
            font_cache = f"/tmp/grader/{FONT_CACHE}"
        else:
            work = private / "work"
            if sandbox.kind == "uid":  # no bwrap: a fresh user id (issue 9, isolation.py)
                uid = isolation.fresh_uid(sandbox.uid_base)
                work = Path(tempfile.mkdtemp(prefix="d2l-tconv-student-"))
                isolation.prepare(work, uid)
                cleanup.append(work)
                preexec.insert(0, isolation.drop_to(uid))
            else:
                work.mkdir()
            cmd = [sys.executable, "-B", str(stage / "harness.py")]
            env, cwd = sandbox_environment(str(stage), str(work)), str(work)
            if sandbox.kind == "uid":
                env["PYTHONPATH"] += os.pathsep + isolation.library_path()
            font_cache = str(stage / FONT_CACHE)
        if (stage / FONT_CACHE).is_dir():
            job = {**job, "font_cache": font_cache}
        killed = None
        process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=stderr, stderr=stderr, env=env, cwd=cwd,
            pass_fds=pass_fds, start_new_session=True,
            preexec_fn=lambda: [step() for step in preexec])
        try:
            process.stdin.write(json.dumps({**job, "results_fd": results.fileno()}).encode())
            process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            process.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            killed = "timeout"
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        results.seek(0)
        data = results.read(OUTPUT_FILE_BYTES + 1)
        stderr.seek(0, os.SEEK_END)
        size = stderr.tell()
        stderr.seek(max(0, size - 2000))
        tail = stderr.read().decode("utf-8", "replace")
    if sandbox.kind == "uid":
        isolation.kill_all(uid)
    for folder in cleanup:
        shutil.rmtree(folder, ignore_errors=True)
    lines = data.decode("utf-8", "replace").splitlines()
    return RunResult(lines, process.returncode, killed, time.monotonic() - start, tail)
