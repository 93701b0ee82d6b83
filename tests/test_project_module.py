"""d2l_tconv.project (the one place the repository URL lives) and the environment report."""

from __future__ import annotations

import ast

import torch

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
