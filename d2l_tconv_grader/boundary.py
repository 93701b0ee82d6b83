"""What of ``d2l_tconv`` student code may import: the one list that both the sandbox (which
stages these modules, and nothing else of the package) and the scan (which flags any other
import of ``d2l_tconv``) read."""

#: Modules of ``d2l_tconv`` copied into the sandbox's student-safe package.
STUDENT_MODULES = ("project", "exercise_checks", "environment")
#: Names the staged package's ``__init__`` re-exports (as ``d2l_tconv`` itself does):
#: name -> the student module that defines it.
STUDENT_NAMES = {"show_environment": "environment", "describe_environment": "environment"}
#: The grader's own package: importing it is an integrity finding.
GRADER_PACKAGE = "d2l_tconv_grader"


def staged_init() -> str:
    """The source of the staged ``d2l_tconv/__init__.py``."""
    lines = ['"""Student-safe part of d2l_tconv (inside the grader\'s sandbox)."""', ""]
    lines += [f"from .{module} import {name}" for name, module in STUDENT_NAMES.items()]
    return "\n".join(lines) + "\n"
