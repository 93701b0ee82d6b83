"""Execute a notebook in a kernel of the interpreter running the build (shared by the builders).

``tools/build_notebooks.py`` (the section) and ``tools/build_exercises.py`` (the solutions)
both store what this execution printed; nbval re-executes the notebooks in CI and compares.

The notebook metadata is the one place that says which kernel a notebook asks for:
:data:`KERNELSPEC` is what ``make env`` installs (``ipykernel install --name python3
--display-name "Python 3 (d2l-tconv)"``), and ``language_info`` is what that kernel reports
(with the interpreter's version), so JupyterLab finds nothing to change when it opens a
notebook and does not mark it modified.
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from ipykernel.ipkernel import IPythonKernel
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

# What the Makefile installs (tests/notebooks/test_notebooks.py compares the two).
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (d2l-tconv)", "language": "python"}


def kernel_metadata() -> dict:
    """``kernelspec`` and ``language_info`` as JupyterLab writes them into a notebook that it
    runs with the kernel ``make`` installs (this interpreter's IPython kernel): every builder
    stores these, executed or not, so that opening a notebook changes nothing."""
    return {"kernelspec": dict(KERNELSPEC),
            "language_info": copy.deepcopy(IPythonKernel.language_info)}


class CurrentInterpreterKernels(KernelSpecManager):
    """Every kernel name resolves to an IPython kernel of the interpreter running the build.

    A user-level ``python3`` kernelspec (another Python, without torch) must not win.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=KERNELSPEC["display_name"],
            language="python",
            resource_dir=tempfile.gettempdir(),
        )


def run_notebook(nb: nbformat.NotebookNode, workdir: Path, timeout: int = 600
                 ) -> nbformat.NotebookNode:
    """Run ``nb`` top to bottom in a fresh kernel with ``workdir`` as working directory.

    Stops at the first error. Execution timing metadata is not kept, so rebuilding a
    notebook does not churn its diff. Afterwards ``nb.metadata`` holds
    :func:`kernel_metadata` (what the kernel reported: nbclient stores it too).
    """
    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentInterpreterKernels())
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel picks the inline backend itself
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute(env=env)
    nb.metadata.update(kernel_metadata())
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb
