"""d2l_tconv.project (the one place the repository URL lives) and the environment report."""

from __future__ import annotations

import ast

import nbformat
import pytest
import torch
from nbclient.exceptions import CellExecutionError
from notebook_exec import run_notebook

from d2l_tconv import environment, project


def test_colab_url_and_badge_point_at_the_file():
    url = project.colab_url("notebooks/en/transposed_conv.ipynb")
    assert url == (
        f"https://colab.research.google.com/github/{project.REPO_SLUG}/blob/"
        f"{project.BRANCH}/notebooks/en/transposed_conv.ipynb"
    )
    assert project.colab_badge("x.ipynb").endswith(f"({project.colab_url('x.ipynb')})")


class _RecordingShell:
    def __init__(self):
        self.magics = []

    def run_line_magic(self, *args):
        self.magics.append(args)


def test_setup_cell_installs_only_in_colab_and_is_valid_ipython():
    from IPython.core.inputtransformer2 import TransformerManager

    for lang in ("en", "ja"):
        source = project.colab_setup_source(lang)
        assert 'if "google.colab" in sys.modules:' in source
        assert project.REPO_URL in source and "--no-deps d2l==1.0.3" in source
        # The %pip magics are inside the `if`: after IPython's transformation the cell
        # is plain Python, and outside Colab executing it installs nothing.
        python = TransformerManager().transform_cell(source)
        ast.parse(python)
        shell = _RecordingShell()
        exec(compile(python, "<setup>", "exec"), {"get_ipython": lambda s=shell: s})
        assert shell.magics == []


_FAILED = {"en": "Setup failed: d2l and d2l_tconv could not be installed",
           "ja": "準備に失敗しました: d2l と d2l_tconv をインストールできませんでした"}


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_failed_colab_install_stops_at_the_setup_cell(lang, tmp_path, monkeypatch):
    """In "Colab" (a stand-in google.colab, imported when the kernel starts, as Colab does)
    with an unreachable repository, the setup cell fails with one message in the notebook's
    language, and "Run all" runs nothing after it."""
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(
        "import sys, types\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
        "sys.modules['d2l_tconv'] = None  # not installed, as in a fresh Colab runtime\n"
    )
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    source = project.colab_setup_source(lang, repo_url="http://127.0.0.1:9/unreachable")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(source),
        nbformat.v4.new_code_cell("print('the next cell ran')"),
    ])
    with pytest.raises(CellExecutionError):
        run_notebook(nb, tmp_path, timeout=300)
    setup, after = nb.cells
    errors = [out for out in setup.outputs if out.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "RuntimeError"
    assert errors[0].evalue.startswith(_FAILED[lang]), errors[0].evalue
    assert f"{project.REPO_URL}/issues" in errors[0].evalue
    assert errors[0].evalue.count("d2l_tconv") >= 2  # names the module that failed to import
    assert after.outputs == [] and after.execution_count is None


def test_setup_cell_speaks_the_notebooks_language_only():
    for lang, other in (("ja", "en"), ("en", "ja")):
        source = project.colab_setup_source(lang)
        assert _FAILED[lang] in source and _FAILED[other] not in source
    with pytest.raises(ValueError, match="lang"):
        project.colab_setup_source("fr")


def test_environment_report_names_versions_and_device():
    text = environment.describe_environment("cpu")
    assert f"torch      {torch.__version__}" in text
    assert "d2l        1.0.3" in text
    assert text.splitlines()[-1].startswith("device     cpu")


def test_environment_report_speaks_the_notebooks_language():
    ja = environment.describe_environment("cpu", lang="ja")
    en = environment.describe_environment("cpu")
    assert ja.splitlines()[:-1] == en.splitlines()[:-1]  # versions: the same names
    assert ja.splitlines()[-1].startswith("device     cpu (CUDA GPU が")
    try:
        environment.describe_environment("cpu", lang="fr")
    except ValueError as err:
        assert "lang" in str(err) and "'fr'" in str(err)
    else:
        raise AssertionError("lang='fr' was accepted")
