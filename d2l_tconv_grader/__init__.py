"""The instructor's grader for the exercises of "Transposed Convolution" (D2L 14.10).

INSTRUCTOR MATERIAL: this package holds the hidden tests. It is never copied into the
sandbox where student code runs, and it is not re-exported by ``d2l_tconv``.

    python -m d2l_tconv_grader SUBMISSIONS_DIR --out OUT_DIR

Pipeline per submission (see each module):

1. :mod:`.notebook` reads the ``.ipynb`` in this process, without running it;
2. :mod:`.scan` flags attempts to cheat (static analysis of the code cells);
3. :mod:`.sandbox` runs ``_harness.py`` on the code cells inside bubblewrap, with time and
   memory limits; only plain JSON data comes back (:mod:`.data`);
4. :mod:`.hidden` recomputes the expected answers with PyTorch, here, and scores;
5. :mod:`.report` writes the gradebook, feedback, free-text answers and a report.
"""

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """The command (:func:`.cli.main`), imported on first call: ``python -m
    d2l_tconv_grader.nbgrader_kernel`` (the nbgrader route's kernel launcher) then imports
    neither the grading pipeline nor torch."""
    from .cli import main as cli_main

    return cli_main(argv)
