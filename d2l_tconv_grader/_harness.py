"""Run one student notebook inside the grader's sandbox; let only plain data out.

This file is copied into the sandbox and run there as a script, next to a student-safe copy of
``d2l_tconv`` (the modules that ``boundary.py`` names): it imports nothing else of
the package. It holds no tests and no expected values; it only runs the student's code and
reports what it finds:

1. reads its job from stdin, as JSON: the code cells, the parts (names to read, and for
   function parts the hidden inputs to call them on), the time limits;
2. runs the cells one by one in an IPython shell (so magics parse), each under a SIGALRM
   time limit; a cell that fails or times out does not stop the later ones;
3. after each cell, for each part whose names changed, and once more at the end (but a part
   whose ``check(...)`` cell ran, listed in the part's ``check_cells``, is recorded right
   after that cell and then kept: the answer is what the student checked), converts the
   answers to plain JSON (numbers, strings, lists, tensors as flat lists) or calls the
   student's function on each hidden input under its own time limit;
4. while the hidden calls of an own-implementation part run (``"guard": true`` in the job:
   ``my_kernel2matrix``, ``conv_by_matmul``), records every convolution kernel they reach
   (:class:`Guard`): PyTorch's through a dispatch mode, which sees ``aten`` operators however
   they were called (``F.conv3d``, ``nn.Conv2d``, ``getattr``, ``torch.ops.aten``), and
   NumPy's and SciPy's convolution routines through wrappers put in place before any student
   code runs; after each call it checks that the guard is still in place (a canary
   convolution must be seen) and reports ``"guard": "lost"`` otherwise;
5. when a part asks for it (``"measure"`` in the job: part 2d) and one of the cells it names
   failed, measures that part itself after the last cell, as the student's cell would have:
   the student's own ``W`` from their ``my_kernel2matrix`` for each size, its bytes as built
   (dtype and layout included), and the time of its product with ``x`` in whichever
   orientation its shape allows, beside ``F.conv2d``'s (:func:`measure_part`), so that a ``W``
   of part 1d that broke the 2d cell (a transposed one) is not charged again in 2d;
6. writes one JSON object per line to the file descriptor the job names, flushed at once, so that if the
   sandbox is killed later, everything written so far can still be graded.

Everything it writes is untrusted: the student's code runs in this same process and could
change any of it. The grader therefore validates every line strictly and recomputes the
expected answers itself, in its own process.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import re
import signal
import sys
import time
import types

MAX_ELEMENTS = 1_000_000  # numbers in one answer
MAX_STRING = 10_000  # characters in one string
MAX_DEPTH = 4  # nesting of lists
MISSING = object()
PERF_COUNTER = time.perf_counter  # taken before any student code runs: the measurement's clock


class CellTimeout(BaseException):
    """A cell ran past its time limit (a BaseException, so ``except Exception`` misses it)."""


class PartTimeout(BaseException):
    """A student function ran past its time limit on a hidden input."""


class Unencodable(Exception):
    """An answer is not plain data (numbers, strings, lists, tensors, arrays)."""


class State:
    phase = "idle"  # "cell", "part" or "idle"
    fired = 0  # alarms since the phase began
    cell = -1
    part = ""


#: aten operator names of convolutions (``aten.convolution.default``, ``aten._convolution``,
#: ``aten.slow_conv3d_forward``, ``aten.mkldnn_convolution``, ...); not ``aten.convert...``.
CONV_OP = re.compile(r"conv(?:olution|_|\d|\.|$)|correlat")
#: (module, function) of NumPy and SciPy convolution routines, wrapped while a guard is on.
ARRAY_CONVOLUTIONS = [
    ("numpy", "convolve"), ("numpy", "correlate"),
    ("scipy.signal", "convolve"), ("scipy.signal", "correlate"),
    ("scipy.signal", "convolve2d"), ("scipy.signal", "correlate2d"),
    ("scipy.signal", "fftconvolve"), ("scipy.signal", "oaconvolve"),
    ("scipy.ndimage", "convolve"), ("scipy.ndimage", "correlate"),
    ("scipy.ndimage", "convolve1d"), ("scipy.ndimage", "correlate1d"),
]
GUARDS: list = []  # the guard of the call running now, if any


def wrap_array_convolutions() -> None:
    """Replace NumPy's and SciPy's convolution routines, in every loaded module that holds
    them, by wrappers that tell the active guard (call before any student code runs)."""
    import importlib

    for module_name, name in ARRAY_CONVOLUTIONS:
        try:
            module = importlib.import_module(module_name) if module_name == "numpy" or \
                module_name.split(".")[0] in sys.modules else None
        except Exception:
            module = None
        original = getattr(module, name, None) if module is not None else None
        if original is None or getattr(original, "_guarded", False):
            continue

        def wrapper(*args, _original=original, _name=f"{module_name}.{name}", **kwargs):
            if GUARDS:
                GUARDS[-1].seen.add(_name)
            return _original(*args, **kwargs)

        functools.update_wrapper(wrapper, original)
        del wrapper.__wrapped__
        wrapper._guarded = True
        for loaded in list(sys.modules.values()):
            try:
                if getattr(loaded, name, None) is original:
                    setattr(loaded, name, wrapper)
            except Exception:
                pass


def make_guard_class():
    """The guard: a ``TorchDispatchMode`` that records convolution operators (thread-local,
    like every dispatch mode), with a canary to prove it is still active."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode, _get_current_dispatch_mode

    canary = torch.ops.aten.convolution.default
    canary_args = (torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 1), None, [1, 1], [0, 0],
                   [1, 1], False, [0, 0], 1)

    class Guard(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            return False  # else the first call imports torch._dynamo: over a second

        def __init__(self) -> None:
            super().__init__()
            self.seen: set[str] = set()
            self.probing = False
            self.probed = False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if self.probing:
                self.probed = True
            elif CONV_OP.search(str(func)):
                self.seen.add(str(func))
            return func(*args, **(kwargs or {}))

        def still_active(self) -> bool:
            """Whether this guard is the innermost dispatch mode and sees a convolution."""
            if _get_current_dispatch_mode() is not self:
                return False
            self.probing, self.probed = True, False
            try:
                canary(*canary_args)
            finally:
                self.probing = False
            return self.probed

    return Guard


def describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def cell_status(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, CellTimeout):
        return "timeout"
    if isinstance(error, MemoryError):
        return "memory"
    text = str(error)
    if isinstance(error, RuntimeError) and (
            "can't allocate memory" in text or "DefaultCPUAllocator" in text
            or "out of memory" in text):
        return "memory"
    return "error"


def encode(value, depth: int = 0, budget: list | None = None):
    """``value`` as JSON-ready plain data; raises :class:`Unencodable` otherwise.

    Types are compared exactly (``type(x) is int``), so subclasses, for example an object
    whose ``__eq__`` is always true, are refused.
    """
    budget = budget if budget is not None else [MAX_ELEMENTS]
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is int:
        if abs(value) > 10**30:
            raise Unencodable("integer too large")
        return value
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind is str:
        if len(value) > MAX_STRING:
            raise Unencodable("string too long")
        return value
    if kind is list or isinstance(value, tuple):  # torch.Size and namedtuples are pairs too
        if depth >= MAX_DEPTH:
            raise Unencodable("lists nested too deeply")
        items = list(list.__iter__(value) if kind is list else tuple.__iter__(value))
        budget[0] -= len(items)
        if budget[0] < 0:
            raise Unencodable("answer too large")
        return [encode(item, depth + 1, budget) for item in items]
    torch = sys.modules.get("torch")
    if torch is not None and kind in (torch.Tensor, torch.nn.Parameter):
        tensor = value.detach()
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        if tensor.is_complex():
            raise Unencodable("complex tensor")
        budget[0] -= tensor.numel()
        if budget[0] < 0:
            raise Unencodable("tensor too large")
        tensor = tensor.cpu()
        data = [_plain(x) for x in tensor.reshape(-1).tolist()]
        return {"__tensor__": {"dtype": str(tensor.dtype).removeprefix("torch."),
                               "shape": list(tensor.shape), "data": data}}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if kind is numpy.ndarray:
            if value.dtype.kind not in "biuf":
                raise Unencodable(f"array of dtype {value.dtype}")
            budget[0] -= value.size
            if budget[0] < 0:
                raise Unencodable("array too large")
            data = [_plain(x) for x in value.reshape(-1).tolist()]
            return {"__tensor__": {"dtype": str(value.dtype), "shape": list(value.shape),
                                   "data": data}}
        if isinstance(value, numpy.generic) and kind.__module__ == "numpy":
            return encode(value.item(), depth, budget)
    raise Unencodable(f"unsupported type {kind.__module__}.{kind.__qualname__}")


def _plain(x):
    if type(x) is float and not math.isfinite(x):
        return {"__float__": repr(x)}
    return x


def decode(value):
    """A hidden input, from the grader's JSON: tensors, tuples, lists, numbers."""
    if isinstance(value, dict):
        if "__tensor__" in value:
            import torch

            spec = value["__tensor__"]
            return torch.tensor(spec["data"], dtype=getattr(torch, spec["dtype"])).reshape(
                spec["shape"])
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def best_ms(function, *args, repeat: int = 5) -> float:
    """Best time of ``function(*args)`` over ``repeat`` runs, in milliseconds (the
    ``time_ms`` of the exercise's 2d cell)."""
    best = float("inf")
    for _ in range(repeat):
        start = PERF_COUNTER()
        function(*args)
        best = min(best, PERF_COUNTER() - start)
    return 1000 * best


def measure_size(function, kernel, n: int) -> dict:
    """One size of part 2d, measured with the student's own ``function`` (their
    ``my_kernel2matrix``): ``W = function(kernel, (n, n))``; its bytes as built (a tensor of any
    dtype and layout: bytes per entry x entries, as ``W.element_size() * W.nelement()``; a
    NumPy array: ``nbytes``; nested lists: as ``torch.as_tensor`` stores them); the best time of
    ``W @ x`` or, for a transposed ``W`` (n * n rows), of ``Wᵀ @ x`` (``"product"``: ``None``
    when the shape allows neither); and the best time of ``F.conv2d`` on an ``n x n`` input."""
    import torch
    import torch.nn.functional as F

    numpy = sys.modules.get("numpy")
    W = function(kernel.clone(), (n, n))
    if isinstance(W, torch.Tensor):
        W = W.detach()
        size, layout = W.element_size() * W.nelement(), str(W.layout).removeprefix("torch.")
    elif numpy is not None and type(W) is numpy.ndarray:
        size, layout = int(W.nbytes), "numpy"
    else:
        W = torch.as_tensor(W)
        size, layout = W.element_size() * W.nelement(), "list"
    shape = [int(d) for d in W.shape]
    row = {"n": n, "shape": shape[:4], "dtype": str(W.dtype).removeprefix("torch."),
           "layout": layout, "bytes": int(size), "product": None}
    if len(shape) == 2 and n * n in shape:
        product = "W @ x" if shape[1] == n * n else "Wᵀ @ x"
        matrix = W if shape[1] == n * n else W.T
        x = torch.randn(n * n)
        x = x.numpy().astype(W.dtype) if layout == "numpy" else x.to(W.dtype)
        row["dense_ms"] = best_ms(matrix.__matmul__, x)
        row["product"] = product
    image, weights = torch.randn(1, 1, n, n), kernel.float()[None, None]
    row["conv_ms"] = best_ms(F.conv2d, image, weights)
    return row


def measure_part(part: dict, namespace: dict, limit: float, within) -> dict:
    """The ``measure`` event of ``part`` (2d): the part measured with the student's own
    function from ``namespace``, one size of ``part["measure"]["sizes"]`` at a time
    (:func:`measure_size`), stopping at the first size that fails. ``within(call)`` returns
    ``call()`` run under the time limit of one hidden call, ``limit`` seconds, and raises
    :class:`PartTimeout` past it. The sandbox's harness and the nbgrader route's hidden tests
    (``nbgrader_tests``) both measure with this function, each with its own alarm."""
    spec = part["measure"]
    event = {"event": "measure", "id": part["id"]}
    function = namespace.get(spec["function"], MISSING)
    if type(function) is not types.FunctionType:
        return {**event, "error": f"{spec['function']} is not defined as a function"}
    import torch

    kernel, rows = decode(spec["kernel"]), []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the exercise's cell: steadier timings
    try:
        for n in spec["sizes"]:
            try:
                row = within(functools.partial(measure_size, function, kernel, n))
            except PartTimeout:
                row = {"n": n, "error": f"took longer than {limit:g} s"}
            except BaseException as error:  # the student's code: record and stop
                row = {"n": n, "error": describe(error)}
            rows.append(row)
            if "error" in row:
                break
    finally:
        torch.set_num_threads(threads)
    return {**event, "rows": rows}


class BoundedOutput(io.TextIOBase):
    """Where the student's prints go: keeps the first ``limit`` characters, drops the rest."""

    def __init__(self, limit: int = 20_000) -> None:
        self.kept: list[str] = []
        self.room = limit

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.room > 0:
            self.kept.append(text[: self.room])
            self.room -= len(text)
        return len(text)


def main() -> int:
    job = json.loads(sys.stdin.read())
    sys.stdin = io.StringIO("")
    sys.stdout = sys.stderr = BoundedOutput()
    results = os.fdopen(int(job["results_fd"]), "w", encoding="utf-8", buffering=1)
    dumps, write, flush, exit_now = json.dumps, results.write, results.flush, os._exit
    setitimer, ITIMER_REAL = signal.setitimer, signal.ITIMER_REAL

    def emit(event: dict) -> None:
        try:
            write(dumps(event) + "\n")
            flush()
        except Exception:  # the student's code may have broken json or closed the file
            pass

    cell_timeout, part_timeout = float(job["cell_timeout"]), float(job["part_timeout"])
    grace = float(job.get("grace", 2.0))
    state = State()

    def on_alarm(signum, frame):
        state.fired += 1
        if state.fired == 1:
            setitimer(ITIMER_REAL, grace)
            if state.phase == "cell":
                raise CellTimeout(f"the cell ran longer than {cell_timeout:g} s")
            raise PartTimeout(f"the call ran longer than {part_timeout:g} s")
        # The student's code caught the timeout and carried on: stop it for good.
        if state.phase == "cell":
            emit({"event": "cell", "index": state.cell, "status": "timeout",
                  "error": "the cell caught the time-limit interruption and kept running"})
            snapshot(f"after cell {state.cell} (stopped)", force=True)
            emit({"event": "stopped", "reason": f"cell {state.cell} could not be interrupted"})
        else:
            emit({"event": "part", "id": state.part, "stage": "stopped",
                  "error": "the function caught the time-limit interruption and kept running"})
            emit({"event": "stopped", "reason": f"part {state.part} could not be interrupted"})
        exit_now(0)

    signal.signal(signal.SIGALRM, on_alarm)
    if job.get("font_cache"):  # matplotlib's font cache, built once by the grader
        try:
            import shutil

            shutil.copytree(job["font_cache"], os.environ["MPLCONFIGDIR"], dirs_exist_ok=True)
        except Exception:
            pass
    guarded = any(part.get("guard") for part in job["parts"])
    if guarded or any("torch" in source for _, source in job["cells"]):
        try:  # import it before the clock of the first cell starts: it takes seconds, cold
            import torch  # noqa: F401
        except Exception:
            pass
    Guard = None
    if guarded:
        if any("scipy" in source for _, source in job["cells"]):
            try:
                import scipy.ndimage  # noqa: F401
                import scipy.signal  # noqa: F401
            except Exception:
                pass
        try:
            wrap_array_convolutions()
            Guard = make_guard_class()
        except Exception:
            Guard = None

    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.showtraceback = lambda *args, **kwargs: None
    shell.showsyntaxerror = lambda *args, **kwargs: None
    shell.enable_gui = lambda *args, **kwargs: None  # so that %matplotlib inline works
    namespace = shell.user_ns
    fingerprints: dict[str, tuple] = {}
    raised: set[str] = set()  # function parts whose last evaluation raised somewhere
    frozen: set[str] = set()  # parts recorded when their check(...) cell ran

    def value_part(part: dict, stage: str) -> dict:
        values = {}
        for name in part["names"]:
            value = namespace.get(name, MISSING)
            if value is MISSING:
                values[name] = {"__missing__": True}
                continue
            try:
                values[name] = encode(value)
            except Unencodable as error:
                values[name] = {"__invalid__": str(error)}
            except Exception as error:
                values[name] = {"__invalid__": describe(error)}
        return {"event": "part", "id": part["id"], "stage": stage, "values": values}

    def function_part(part: dict, stage: str) -> dict:
        name = part["names"][0]
        function = namespace.get(name, MISSING)
        event = {"event": "part", "id": part["id"], "stage": stage}
        if function is MISSING:
            return {**event, "missing": True}
        if type(function) is not types.FunctionType:
            return {**event, "invalid": f"{name} is a {type(function).__name__}, not a function"}
        calls: list[dict] = []
        guard_lost = part.get("guard") and Guard is None
        for args in part["calls"]:
            if any(call.get("timeout") for call in calls):
                calls.append({"skipped": True})  # one time-out is enough: spare the others
                continue
            state.phase, state.fired, state.part = "part", 0, part["id"]
            guard = Guard() if part.get("guard") and Guard is not None else None
            call: dict = {}
            try:
                arguments = [decode(a) for a in args]
                setitimer(ITIMER_REAL, part_timeout)
                try:
                    if guard is None:
                        value = function(*arguments)
                    else:
                        GUARDS.append(guard)
                        guard.__enter__()
                        try:
                            value = function(*arguments)
                        finally:
                            try:
                                if not guard.still_active():
                                    guard_lost = True
                                guard.__exit__(None, None, None)
                            except BaseException:
                                guard_lost = True
                            GUARDS.clear()
                finally:
                    setitimer(ITIMER_REAL, 0)
                call = {"value": encode(value)}
            except PartTimeout:
                call = {"timeout": True}
            except Unencodable as error:
                call = {"invalid": str(error)}
            except BaseException as error:  # the student's code: record and go on
                call = {"error": describe(error)}
            finally:
                state.phase = "idle"
            if guard is not None and guard.seen:
                call["forbidden"] = sorted(guard.seen)[:20]
            calls.append(call)
        if part.get("guard"):
            event["guard"] = "lost" if guard_lost else "ok"
        return {**event, "calls": calls}

    def snapshot(stage: str, force: bool = False, checked: frozenset = frozenset()) -> None:
        """Record the parts whose names changed; with ``force``, every part, except a
        function that is still the same object and did not raise last time (so a function
        that timed out is not timed out twice). A part whose check cell ran is recorded then,
        as if forced, and never again unless its check cell runs again: the answer is what
        the student checked."""
        for part in job["parts"]:
            if part["id"] in frozen and part["id"] not in checked:
                continue
            names = part["names"]
            key = tuple(id(namespace.get(n, MISSING)) for n in names)
            unchanged = fingerprints.get(part["id"]) == key
            forced = force or part["id"] in checked
            if not forced and (unchanged or not any(n in namespace for n in names)):
                continue
            if forced and unchanged and part["kind"] == "function" and \
                    part["id"] not in raised:
                continue
            fingerprints[part["id"]] = key
            raised.discard(part["id"])
            try:
                if part["kind"] == "function":
                    event = function_part(part, stage)
                    if "calls" not in event or any("error" in c for c in event["calls"]):
                        raised.add(part["id"])
                else:
                    event = value_part(part, stage)
            except BaseException as error:
                raised.add(part["id"])
                event = {"event": "part", "id": part["id"], "stage": stage,
                         "error": describe(error)}
            emit(event)

    failed: set[int] = set()  # cells that raised an error
    for index, source in job["cells"]:
        state.phase, state.fired, state.cell = "cell", 0, index
        error: BaseException | None = None
        try:
            setitimer(ITIMER_REAL, cell_timeout)
            result = shell.run_cell(source, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as caught:  # raised outside the student's code
            error = caught
        finally:
            setitimer(ITIMER_REAL, 0)
            state.phase = "idle"
        if cell_status(error) == "error":
            failed.add(index)
        emit({"event": "cell", "index": index, "status": cell_status(error),
              "error": None if error is None else describe(error)})
        checked = frozenset(part["id"] for part in job["parts"] if error is None
                            and index in part.get("check_cells", ()))
        snapshot(f"after cell {index}", checked=checked)
        frozen.update(checked)
    snapshot("final", force=True)
    for part in job["parts"]:
        if "measure" in part and failed & set(part["measure"]["cells"]):
            def within(call, part_id=part["id"]):
                state.phase, state.fired, state.part = "part", 0, part_id
                try:
                    setitimer(ITIMER_REAL, part_timeout)
                    try:
                        return call()
                    finally:
                        setitimer(ITIMER_REAL, 0)
                finally:
                    state.phase = "idle"

            try:
                emit(measure_part(part, namespace, part_timeout, within))
            except BaseException as error:  # the student's code broke the measurement
                emit({"event": "measure", "id": part["id"], "error": describe(error)})
    emit({"event": "done"})
    exit_now(0)


if __name__ == "__main__":
    sys.exit(main())
