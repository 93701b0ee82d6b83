"""Where the project lives: the one place its repository URL is written.

Every "Open in Colab" badge and every Colab install cell is generated from these
names (see ``tools/build_notebooks.py`` and ``tools/build_exercises.py``), so a fork
changes ``REPO_SLUG`` here and rebuilds.
"""

from __future__ import annotations

REPO_SLUG = "d2l-tconv/d2l-tconv"
BRANCH = "main"
REPO_URL = f"https://github.com/{REPO_SLUG}"
D2L_VERSION = "1.0.3"

COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_url(path: str) -> str:
    """URL that opens the repository file ``path`` (e.g. ``notebooks/en/x.ipynb``) in Colab."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{BRANCH}/{path}"


def colab_badge(path: str) -> str:
    """Markdown for an "Open in Colab" badge pointing at ``path``."""
    return f"[![Open In Colab]({COLAB_BADGE_IMAGE})]({colab_url(path)})"


_SETUP_TEXT = {
    "en": {
        "check": "both must import, or no later cell can work",
        "comment": "# Colab only: install d2l (without its outdated pins) and d2l_tconv, then check\n"
        "# that both import. Locally, `make lab` has already set up everything: this does nothing.",
        "failed": "Setup failed: d2l and d2l_tconv could not be installed ({err}). Check the pip "
        "messages above and the network connection, then run all cells again (Runtime > Run "
        "all). If it keeps failing, please report it: {issues}",
    },
    "ja": {
        "check": "両方を読み込めなければ、この後のセルは動きません",
        "comment": "# Colab でのみ実行: d2l（古い固定バージョン指定なし）と d2l_tconv をインストールし、\n"
        "# 読み込めることを確かめます。ローカルでは `make lab` が環境を用意済みなので、何もしません。",
        "failed": "準備に失敗しました: d2l と d2l_tconv をインストールできませんでした（{err}）。"
        "上の pip のメッセージとネットワーク接続を確かめてから、すべてのセルをもう一度実行してください"
        "（「ランタイム」→「すべてのセルを実行」）。解決しない場合は報告してください: {issues}",
    },
}


def colab_setup_source(lang: str = "en", repo_url: str = REPO_URL) -> str:
    """Source of the first code cell of every notebook, in the notebook's language ``lang``.

    In Colab it installs what is missing (d2l without its outdated exact pins, d2l_tconv from
    ``repo_url``), then imports both: if that fails (no network, repository unreachable) the
    cell stops with one message in ``lang`` that says what failed and what to do, so "Run all"
    goes no further. Anywhere else (``make lab``, CI) it does nothing.
    """
    if lang not in _SETUP_TEXT:
        raise ValueError(f"lang must be one of {sorted(_SETUP_TEXT)}, got {lang!r}")
    text = _SETUP_TEXT[lang]
    failed = text["failed"].format(err="{err}", issues=f"{REPO_URL}/issues")
    return (
        f"{text['comment']}\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f"    %pip install -q --no-deps d2l=={D2L_VERSION}\n"
        f'    %pip install -q "d2l-tconv @ git+{repo_url}@{BRANCH}"\n'
        f"    try:  # {text['check']}\n"
        "        import d2l.torch  # noqa: F401\n"
        "        import d2l_tconv  # noqa: F401\n"
        "    except ImportError as err:\n"
        "        raise RuntimeError(\n"
        f'            f"{failed}"\n'
        "        ) from None"
    )
