"""``import d2l_tconv`` stays light: matplotlib and the figure code load on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import d2l_tconv

ROOT = Path(__file__).resolve().parents[2]


def modules_after(code: str) -> set[str]:
    """The names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = code + "\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    return set(out.split())


def test_import_does_not_load_matplotlib():
    loaded = modules_after("import d2l_tconv")
    assert "d2l_tconv" in loaded
    assert not {m for m in loaded if m.split(".")[0] == "matplotlib"}
    assert "d2l_tconv.figures" not in loaded


def test_lazy_names_load_on_first_use():
    loaded = modules_after("import d2l_tconv\nd2l_tconv.plot_trans_conv")
    assert {"matplotlib", "d2l_tconv.figures"} <= loaded


def test_every_public_name_is_reachable():
    for name in d2l_tconv.__all__:
        assert getattr(d2l_tconv, name) is not None, name
    for name in d2l_tconv._LAZY:
        assert name in dir(d2l_tconv)


def test_unknown_name_is_an_attribute_error():
    try:
        d2l_tconv.no_such_helper  # noqa: B018
    except AttributeError as error:
        assert "no_such_helper" in str(error)
    else:
        raise AssertionError("expected AttributeError")
