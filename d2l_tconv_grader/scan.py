"""Static scan of a submission's code cells for attempts to cheat.

The scores never depend on this scan: the checks that score run in the grader's process on
plain data, so none of these tricks can earn a point. The scan exists so that the instructor
sees what a notebook tried. Each :class:`Flag` has a *kind*, and the kind decides what it
costs (:mod:`.grader` applies it):

``"rule"``
    a rule of one part was broken (PyTorch's convolution inside ``my_kernel2matrix``):
    0 on that part only (``Flag.part``), ``flagged: forbidden-op``.
``"integrity"``
    tampering with the checks, PyTorch, the notebook's machinery or the results channel:
    the automatic points are held at 0 pending the instructor's review; the would-be score
    is recorded (``PartResult.points_without_flags``, ``SubmissionResult.needs_review``).
``"heuristic"``
    something an honest notebook may well contain (a pass-like string, a path with ``..``,
    ``import resource``, the package's figure helpers): a note for the instructor, never a
    penalty.

Each :class:`Flag` has a code (its kind in brackets; some codes have two kinds):

``fake-pass-message`` (heuristic)
    a string that imitates a test or check result ("All tests passed", "✓ ...").
``outside-path`` (heuristic)
    a path that leaves the working folder (``../figures``) or lists a folder.
``unusual-module`` (heuristic)
    imports a module a notebook rarely needs but that cannot change the grading (``resource``).
``computed-attribute`` (integrity)
    ``getattr(torch/F/nn/..., <computed name>)``: the scan cannot tell which routine it is.
``unscannable`` (integrity)
    a cell too deeply nested for the scan (it gives up and asks for a review).
``redefines-check``
    binds ``check`` (or ``passes``, ``set_language``) to anything but the public checks.
``monkeypatch``
    assigns to or deletes an attribute of a module (``torch.allclose = ...``), writes to
    ``sys.modules``/``builtins``, calls ``setattr`` on a module, or touches IPython's input or
    AST transformers, ``run_doctest`` and similar grader hooks.
``tampering``
    reaches for the machinery that runs the notebook: signals and timers, tracing, frames,
    the garbage collector's object lists, file descriptors, ``ctypes``.
``eq-override``
    defines or injects comparison/conversion dunders (``__eq__``, ``__bool__``, ...) or
    ``__torch_function__``.
``reads-course-files`` (integrity)
    names files of the course (solutions, hidden tests, the grader, other submissions, the
    gradebook) or lists directories.
``imports-reference`` (heuristic; integrity for the grader ``d2l_tconv_grader``)
    imports the package's reference implementation (anything of ``d2l_tconv`` but what
    :mod:`.boundary` names: ``exercise_checks``, ``project``, ``environment``; nothing else
    exists in the sandbox, and using it inside a part is a ``forbidden-op``) or imports
    dynamically.
``forbidden-op`` (rule)
    calls a convolution routine inside a function the exercise asks you to write yourself
    (``my_kernel2matrix``, ``conv_by_matmul``), directly, through an alias, or through
    another function of the notebook.
``network`` (heuristic: the sandbox has no network)
    imports a network module (``socket``, ``urllib``, ``requests``, ...).

``redefines-check``, ``monkeypatch``, ``tampering`` and ``eq-override`` are integrity
findings. The scan walks each syntax tree iteratively (:func:`ast.walk`), so the depth of the
input never becomes the depth of the grader's stack.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from IPython.core.inputtransformer2 import TransformerManager

from d2l_tconv.exercise_checks import PARTS

from .boundary import GRADER_PACKAGE, STUDENT_MODULES, STUDENT_NAMES

#: What the sandbox's student-safe ``d2l_tconv`` provides: its modules and re-exported names.
ALLOWED_D2L_TCONV = set(STUDENT_MODULES) | set(STUDENT_NAMES)
CHECK_NAMES = {"check", "passes", "set_language"}
KNOWN_MODULES = {
    "torch", "F", "nn", "np", "numpy", "builtins", "sys", "os", "json", "signal", "math",
    "IPython", "otter", "nbgrader", "d2l_tconv", "d2l", "exercise_checks", "types", "gc",
    "inspect", "importlib", "unittest", "pytest", "time", "random", "operator", "functools",
}
#: Attributes of IPython and of grading tools that change how cells or tests run.
HOOK_ATTRIBUTES = {
    "input_transformers_cleanup", "input_transformers_post", "input_transformer_manager",
    "ast_transformers", "run_doctest", "set_custom_exc", "custom_exceptions",
    "showtraceback", "showsyntaxerror",
}
#: Same, but only on IPython's shell or on sys (``get_ipython().events``, ``sys.excepthook``).
SHELL_ATTRIBUTES = {"events", "run_cell", "run_code", "displayhook", "excepthook"}
TAMPER_MODULES = {"signal", "ctypes", "faulthandler"}
#: Modules that cannot change the grading but are unusual here: a note, never a penalty.
UNUSUAL_MODULES = {"resource"}
#: (module, attribute) pairs that reach the machinery running the notebook; "*": any.
TAMPER_CALLS = {
    ("sys", "settrace"), ("sys", "setprofile"), ("sys", "_getframe"), ("sys", "_current_frames"),
    ("inspect", "currentframe"), ("inspect", "stack"), ("inspect", "getouterframes"),
    ("inspect", "trace"), ("gc", "get_objects"), ("gc", "get_referrers"),
    ("gc", "get_referents"), ("os", "dup2"), ("os", "dup"), ("os", "close"),
    ("os", "closerange"), ("os", "fdopen"), ("os", "kill"), ("os", "killpg"), ("os", "write"),
    ("signal", "*"), ("threading", "settrace"), ("threading", "setprofile"),
}
#: Attributes that walk frames or closures, whatever object they are read from.
FRAME_ATTRIBUTES = {
    "f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame",
    "__globals__", "__code__", "__closure__", "__subclasses__", "__builtins__",
}
EQ_DUNDERS = {
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__float__",
    "__int__", "__index__", "__array__", "__torch_function__", "__array_function__",
    "__array_ufunc__", "__instancecheck__", "__subclasscheck__",
}
NETWORK_MODULES = {
    "socket", "urllib", "urllib3", "http", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
    "websocket", "websockets", "paramiko", "ssl",
}
#: Settings a student may change: assigning to them is configuration, not monkeypatching.
CONFIG_PREFIXES = ("torch.backends.", "matplotlib.rcParams", "matplotlib.pyplot.rcParams",
                   "pandas.options.", "numpy.set_printoptions")
LISTING_CALLS = {"listdir", "scandir", "walk", "glob", "iglob", "rglob", "iterdir"}
PATH_WORDS = re.compile(
    r"solution|hidden|grade|rubric|instructor|submission|exercises[/\\]|d2l_tconv[/\\]"
    r"|site-packages|\.git\b", re.IGNORECASE)
#: A path that climbs out of the working folder: a note only (``savefig("../fig.png")``).
PARENT_PATH = re.compile(r"(^|[/\\])\.\.([/\\]|$)")
FAKE_PASS = re.compile(
    r"tests?\s+(have\s+)?passed|all\s+(the\s+)?tests|passed\s+all|\bpasse[sd]\s+the\s+"
    r"(public|hidden)|[✓✔]\s*\d[a-z]\b|テスト.{0,8}(合格|通過|パス)|(全て|すべて).{0,6}合格"
    r"|公開チェックに合格",
    re.IGNORECASE)
#: Names a function part may not use, by the function's name (the exercise asks for your own).
CONVOLUTIONS = {
    f"{prefix}{n}d" for prefix in ("conv", "conv_transpose", "Conv", "ConvTranspose",
                                   "LazyConv", "LazyConvTranspose") for n in (1, 2, 3)
} | {"convolution", "_convolution", "conv_tbc", "convolve", "correlate", "convolve2d",
     "correlate2d", "fftconvolve", "oaconvolve", "convolve1d", "correlate1d"}
#: A thread started inside an own-implementation function would run out of sight of the
#: run-time guard (PyTorch's dispatch hooks are per thread).
THREADS = {"Thread", "ThreadPoolExecutor", "start_new_thread", "ProcessPoolExecutor"}
FORBIDDEN_OPS = {
    "my_kernel2matrix": CONVOLUTIONS | THREADS | {"kernel2matrix", "kernel2matrix_pkg",
                                                 "jacobian", "conv_by_matmul"},
    "conv_by_matmul": CONVOLUTIONS | THREADS | {"corr2d"},
}
#: The part each own-implementation function belongs to (a rule flag costs that part only).
PART_OF = {spec.names[0]: spec.id for spec in PARTS if spec.names[0] in FORBIDDEN_OPS}
#: Objects whose attributes, looked up by a computed name, could be any routine.
COMPUTED_LOOKUP_ROOTS = {"torch", "F", "nn", "functional", "numpy", "np", "scipy", "signal"}
KINDS = ("rule", "integrity", "heuristic")
HEURISTIC_CODES = {"fake-pass-message", "outside-path", "unusual-module", "network",
                   "imports-reference"}


@dataclass(frozen=True)
class Flag:
    """One finding: ``code`` (see the module docstring), cell, detail, and what it costs.

    Attributes:
        kind: ``"rule"``, ``"integrity"`` or ``"heuristic"`` (module docstring); by default
            the usual kind of ``code``.
        part: for a rule flag, the id of the one part it costs (``"1d"``, ``"2c"``).
    """

    code: str
    cell: int
    detail: str
    kind: str = ""
    part: str | None = None

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", default_kind(self.code))
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {self.kind!r}")

    def __str__(self) -> str:
        return f"{self.code} (cell {self.cell}: {self.detail})"


def default_kind(code: str) -> str:
    """The usual kind of a flag ``code``: rule, integrity or heuristic."""
    if code == "forbidden-op":
        return "rule"
    return "heuristic" if code in HEURISTIC_CODES else "integrity"


def python_source(source: str) -> str:
    """The Python code IPython runs for a cell (magics and ``!`` lines become calls)."""
    return TransformerManager().transform_cell(source)


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    return ".".join(reversed(parts))


class _Scanner(ast.NodeVisitor):
    def __init__(self, cell: int, modules: set[str], aliases: dict[str, str],
                 flags: list[Flag]) -> None:
        self.cell, self.modules, self.aliases, self.flags = cell, modules, aliases, flags

    def flag(self, code: str, detail: str, kind: str = "") -> None:
        self.flags.append(Flag(code, self.cell, detail, kind))

    def run(self, tree: ast.AST) -> None:
        """Visit every node of ``tree`` once, without recursion (``ast.walk`` uses a queue)."""
        for node in ast.walk(tree):
            visit = getattr(self, f"visit_{type(node).__name__}", None)
            if visit is not None:
                visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        """Children are reached by :meth:`run`'s walk, not by recursion."""

    # -- imports -------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(alias.name, None)
            bound = alias.asname or alias.name.split(".")[0]
            if bound in CHECK_NAMES:
                self.flag("redefines-check", f"import binds {bound!r}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.flag("outside-path", "relative import")
        for alias in node.names:
            self._module(module, alias.name)
            bound = alias.asname or alias.name
            if bound in CHECK_NAMES and not (
                    module == "d2l_tconv.exercise_checks" and alias.name == bound):
                self.flag("redefines-check", f"from {module} import {alias.name} as {bound}")
        self.generic_visit(node)

    def _module(self, module: str, name: str | None) -> None:
        top = module.split(".")[0]
        if top in NETWORK_MODULES:
            self.flag("network", f"import {module}")
        if top in ("importlib",) or module in ("imp",):
            self.flag("imports-reference", f"dynamic import module {module}")
        if top in TAMPER_MODULES:
            self.flag("tampering", f"import {module}")
        if top in UNUSUAL_MODULES:
            self.flag("unusual-module", f"import {module}")
        if top == GRADER_PACKAGE:
            self.flag("imports-reference", f"imports the grader ({module})", "integrity")
        if top == "d2l_tconv":
            sub = module.split(".")[1] if "." in module else None
            if sub is not None and sub not in ALLOWED_D2L_TCONV:
                self.flag("imports-reference", f"import from {module}")
            elif sub is None and name is not None and name not in ALLOWED_D2L_TCONV:
                self.flag("imports-reference", f"from d2l_tconv import {name}")
        if top in ("otter", "nbgrader"):
            self.flag("monkeypatch", f"imports the grading tool {top}")

    # -- bindings and assignments ---------------------------------------------------------
    def _target(self, target: ast.AST, action: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element, action)
            return
        if isinstance(target, ast.Starred):
            self._target(target.value, action)
            return
        if isinstance(target, ast.Name):
            if target.id in CHECK_NAMES:
                self.flag("redefines-check", f"{action} {target.id}")
            if target.id in ("__builtins__", "get_ipython", "exercise_checks"):
                self.flag("monkeypatch", f"{action} {target.id}")
            return
        root = _root(target)
        dotted = _dotted(target.value) if isinstance(target, (ast.Attribute, ast.Subscript)) \
            else ""
        if isinstance(target, ast.Attribute) and (target.attr in EQ_DUNDERS
                                                  or target.attr == "__class__"):
            self.flag("eq-override", f"{action} {dotted}.{target.attr}")
        if isinstance(root, ast.Name) and self._expand(_dotted(target)).startswith(
                CONFIG_PREFIXES):
            return
        if isinstance(root, ast.Name) and (root.id in self.modules or root.id in KNOWN_MODULES
                                           or root.id == "__builtins__"):
            if isinstance(target, ast.Subscript) and root.id not in (
                    "sys", "builtins", "__builtins__") and "__dict__" not in dotted:
                return  # e.g. plt.rcParams["figure.dpi"] = 100: data, not code
            self.flag("monkeypatch", f"{action} {_dotted(target) or dotted}")
        elif isinstance(root, ast.Call):
            name = _dotted(root.func)
            if name in ("get_ipython", "globals", "vars", "locals", "__import__") or \
                    name.endswith("__dict__"):
                self.flag("monkeypatch", f"{action} {name}()...")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(target, "assigns")
        self._alias(node.targets, node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target, "assigns")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._target(node.target, "assigns")
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._target(node.target, "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._target(target, "deletes")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._target(node.target, "binds")
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._target(item.optional_vars, "binds")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in CHECK_NAMES:
                self.flag("redefines-check", f"global {name}")

    def _alias(self, targets: list[ast.AST], value: ast.AST) -> None:
        """``m = torch`` makes ``m`` a module alias too."""
        if isinstance(value, ast.Name) and value.id in self.modules | KNOWN_MODULES:
            for target in targets:
                if isinstance(target, ast.Name):
                    self.modules.add(target.id)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in CHECK_NAMES:
            self.flag("redefines-check", f"def {node.name}")
        if node.name in EQ_DUNDERS:
            self.flag("eq-override", f"def {node.name}")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name in CHECK_NAMES:
            self.flag("redefines-check", f"class {node.name}")
        for base in node.bases:
            if _dotted(base).split(".")[-1] in ("Tensor", "ndarray", "Parameter"):
                self.flag("eq-override", f"class {node.name} subclasses {_dotted(base)}")
        self.generic_visit(node)

    # -- uses ----------------------------------------------------------------------------
    def _expand(self, dotted: str) -> str:
        """``plt.rcParams`` -> ``matplotlib.pyplot.rcParams``: the first name as imported."""
        head, _, rest = dotted.partition(".")
        full = {"np": "numpy", "pd": "pandas", "plt": "matplotlib.pyplot"}.get(head, head)
        full = self.aliases.get(head, full)
        return f"{full}.{rest}" if rest else full

    def _module_of(self, name: str) -> str:
        """Top-level module a name stands for (``F`` -> ``torch``), or the name itself."""
        return self.aliases.get(name, name).split(".")[0]

    def visit_Attribute(self, node: ast.Attribute) -> None:
        root = _root(node)
        dotted = _dotted(node)
        head = self._module_of(root.id) if isinstance(root, ast.Name) else dotted.split(".")[0]
        if node.attr in HOOK_ATTRIBUTES:
            self.flag("monkeypatch", f"uses {dotted}")
        elif node.attr in SHELL_ATTRIBUTES and (dotted.startswith("get_ipython()")
                                                or head in ("sys", "IPython")):
            self.flag("monkeypatch", f"uses {dotted}")
        if node.attr in FRAME_ATTRIBUTES:
            self.flag("tampering", f"uses {dotted}")
        elif isinstance(root, ast.Name) and ((head, node.attr) in TAMPER_CALLS
                                             or (head, "*") in TAMPER_CALLS):
            self.flag("tampering", f"uses {dotted}")
        if node.attr in EQ_DUNDERS:
            self.flag("eq-override", f"uses {dotted}")
        if isinstance(node.value, ast.Name) and head == GRADER_PACKAGE:
            self.flag("imports-reference", f"uses the grader ({dotted})", "integrity")
        if isinstance(node.value, ast.Name) and head == "d2l_tconv":
            full = self.aliases.get(root.id, root.id).split(".")[1:] + [node.attr]
            if full[0] not in ALLOWED_D2L_TCONV:
                self.flag("imports-reference", f"uses {dotted}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FRAME_ATTRIBUTES:
            self.flag("tampering", f"uses {node.id}")

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        last = name.split(".")[-1]
        if last in ("setattr", "delattr", "__setattr__", "__delattr__") and node.args:
            target = _root(node.args[0])
            if isinstance(target, ast.Name) and (target.id in self.modules | KNOWN_MODULES
                                                 or target.id in ("object", "type")):
                self.flag("monkeypatch", f"calls {name}({_dotted(node.args[0])}, ...)")
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and \
                    node.args[1].value in EQ_DUNDERS:
                self.flag("eq-override", f"calls {name}(..., {node.args[1].value!r})")
        if last == "__import__" or name in ("importlib.import_module", "import_module"):
            self.flag("imports-reference", f"calls {name}")
        if name in ("exec", "eval", "compile", "builtins.exec", "builtins.eval"):
            if not (node.args and isinstance(node.args[0], ast.Constant)):
                self.flag("tampering", f"calls {name} on computed code")
        if name.startswith("sys.modules.") and last in (
                "update", "pop", "setdefault", "clear", "popitem", "__setitem__", "__delitem__"):
            self.flag("monkeypatch", f"calls {name}")
        if last in LISTING_CALLS:
            self.flag("outside-path", f"lists files with {name}()")
        if last == "getattr" and len(node.args) >= 2:
            self._computed_lookup(node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            text = node.value
            if FAKE_PASS.search(text):
                self.flag("fake-pass-message", f"string {_short(text)!r}")
            if ("/" in text or "\\" in text or text.endswith((".py", ".ipynb", ".csv", ".json",
                                                              ".md"))):
                if PATH_WORDS.search(text):
                    self.flag("reads-course-files", f"path {_short(text)!r}")
                elif PARENT_PATH.search(text):
                    self.flag("outside-path", f"path {_short(text)!r}")
            if text in EQ_DUNDERS:
                self.flag("eq-override", f"string {text!r}")
            if text.split(".")[0] == GRADER_PACKAGE:
                self.flag("imports-reference", f"string {_short(text)!r}", "integrity")
            elif text.startswith("d2l_tconv.") and text.split(".")[1] not in ALLOWED_D2L_TCONV:
                self.flag("imports-reference", f"string {_short(text)!r}")

    def _computed_lookup(self, node: ast.Call) -> None:
        """``getattr(F, "conv" + "2d")``: a name the scan cannot read, on a module that holds
        convolutions, needs a review."""
        obj, attr = node.args[0], node.args[1]
        root = _root(obj)
        if not isinstance(root, ast.Name):
            return
        module = self._module_of(root.id)
        if root.id not in COMPUTED_LOOKUP_ROOTS and module not in ("torch", "numpy", "scipy"):
            return
        if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            return  # a plain name: the forbidden-op check reads it like an attribute
        self.flag("computed-attribute", f"getattr({_dotted(obj)}, <computed name>)")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _collect_modules(trees: list[tuple[int, ast.AST]]) -> dict[str, str]:
    """Names bound by import statements anywhere in the notebook -> module (top level)."""
    aliases: dict[str, str] = {}
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    aliases[alias.asname or alias.name] = full
    return aliases


def _function_bodies(trees: list[tuple[int, ast.AST]]) -> dict[str, list[tuple[int, ast.AST]]]:
    """Functions of the notebook by name: ``def`` anywhere (methods of classes included, so
    ``Helper.go`` is followed through ``go``) and lambdas bound to a name."""
    functions: dict[str, list[tuple[int, ast.AST]]] = {}
    for cell, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.setdefault(node.name, []).append((cell, node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and \
                    isinstance(node.value, ast.Lambda):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, (ast.Name, ast.Attribute)):
                        name = target.id if isinstance(target, ast.Name) else target.attr
                        functions.setdefault(name, []).append((cell, node.value))
    return functions


def _names_used(node: ast.AST) -> set[str]:
    used = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            used.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            used.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and \
                len(sub.value) <= 100:
            used.add(sub.value)
    return used


def _refers_to(value: ast.AST, bad: set[str]) -> bool:
    """``value`` is a forbidden routine itself: ``F.conv2d``, ``c2``, ``partial(F.conv2d, ...)``,
    ``lambda x: F.conv2d(x, k)``."""
    if isinstance(value, ast.Name):
        return value.id in bad
    if isinstance(value, ast.Attribute):
        return value.attr in bad
    if isinstance(value, ast.Call) and _dotted(value.func).split(".")[-1] == "partial":
        return bool(value.args) and _refers_to(value.args[0], bad)
    if isinstance(value, ast.Lambda):
        return bool(_names_used(value.body) & bad)
    return False


def _forbidden_aliases(trees: list[tuple[int, ast.AST]], aliases: dict[str, str],
                       forbidden: set[str]) -> set[str]:
    """Names that stand for a forbidden routine: the routine's own name (``F.conv2d``,
    ``conv2d``: a notebook function of the same name does not make it harmless), ``c = F.conv2d``,
    ``from ... import conv2d as c``, ``c = functools.partial(F.conv2d, ...)``, assigned
    anywhere (inside functions and classes too)."""
    bad = set(forbidden)
    for name, module in aliases.items():
        if module.split(".")[-1] in forbidden:
            bad.add(name)
    assignments = [node for _, tree in trees for node in ast.walk(tree)
                   if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr))
                   and node.value is not None]
    changed = True
    while changed:
        changed = False
        for node in assignments:
            if not _refers_to(node.value, bad):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = target.id if isinstance(target, ast.Name) else (
                    target.attr if isinstance(target, ast.Attribute) else None)
                if name is not None and name not in bad:
                    bad.add(name)
                    changed = True
    return bad


def _forbidden_ops(trees: list[tuple[int, ast.AST]], aliases: dict[str, str]) -> list[Flag]:
    """Rule flags: a forbidden routine used by an own-implementation function or by anything
    of the notebook it calls (functions, methods, lambdas), however it was bound."""
    flags = []
    functions = _function_bodies(trees)
    for part_function, forbidden in FORBIDDEN_OPS.items():
        bad = _forbidden_aliases(trees, aliases, forbidden)
        seen: set[str] = set()
        todo = [part_function]
        while todo:
            name = todo.pop()
            if name in seen or name not in functions:
                continue
            seen.add(name)
            for cell, node in functions[name]:
                used = _names_used(node)
                # A notebook function that shadows a routine's name is followed, not trusted:
                # its own body is checked, and ``F.conv2d`` stays forbidden by attribute.
                shadow = {n for n in used & set(functions) if n not in aliases}
                hits = sorted((used & bad) - {part_function} - (shadow - _attributes(node)))
                if hits:
                    where = part_function if name == part_function else \
                        f"{name}, called by {part_function}"
                    flags.append(Flag("forbidden-op", cell, f"{where} uses {', '.join(hits)}",
                                      "rule", PART_OF[part_function]))
                todo.extend(used & set(functions))
    return flags


def _attributes(node: ast.AST) -> set[str]:
    """Attribute names read in ``node`` (``F.conv2d`` -> ``conv2d``)."""
    return {sub.attr for sub in ast.walk(node) if isinstance(sub, ast.Attribute)}


def scan(cells: list[tuple[int, str]]) -> list[Flag]:
    """Flags for the code ``cells`` (pairs of notebook cell index and source).

    Never raises for what a cell contains: a cell too deeply nested to analyse is flagged
    ``unscannable`` (integrity: the instructor reviews it)."""
    flags: list[Flag] = []
    trees: list[tuple[int, ast.AST]] = []
    for index, source in cells:
        try:
            code = python_source(source)
            trees.append((index, ast.parse(code)))
        except (SyntaxError, ValueError):
            # IPython will not run it either; still look for a fake message in the text
            if FAKE_PASS.search(source):
                flags.append(Flag("fake-pass-message", index, "text of a cell that does not "
                                  "parse"))
        except (RecursionError, MemoryError):
            flags.append(Flag("unscannable", index, "too deeply nested to analyse"))
    aliases = _collect_modules(trees)
    modules = set(aliases)
    for index, tree in trees:
        try:
            _Scanner(index, modules, aliases, flags).run(tree)
        except RecursionError:
            flags.append(Flag("unscannable", index, "too deeply nested to analyse"))
    try:
        flags.extend(_forbidden_ops(trees, aliases))
    except RecursionError:
        flags.append(Flag("unscannable", 0, "too deeply nested to follow its functions"))
    unique: dict[tuple[str, int, str], Flag] = {}
    for flag in flags:
        unique.setdefault((flag.code, flag.cell, flag.detail), flag)
    return list(unique.values())


def flag_codes(flags: list[Flag], kind: str | None = None) -> list[str]:
    """The distinct codes of ``flags`` (of one ``kind`` if given), in a stable order."""
    return sorted({flag.code for flag in flags if kind is None or flag.kind == kind})
