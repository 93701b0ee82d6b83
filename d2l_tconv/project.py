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


def colab_setup_source(lang: str = "en") -> str:
    """Source of the first code cell of every notebook.

    In Colab it installs what is missing: d2l without its outdated exact pins, and
    d2l_tconv from this repository. Anywhere else (``make lab``, CI) it does nothing.
    """
    comment = {
        "en": "# Colab only: install d2l (without its outdated pins) and d2l_tconv.\n"
        "# Locally, `make lab` has already set up everything, so this does nothing.",
        "ja": "# Colab でのみ実行: d2l（古い固定バージョン指定なし）と d2l_tconv をインストールします。\n"
        "# ローカルでは `make lab` が環境を用意済みなので、何もしません。",
    }[lang]
    return (
        f"{comment}\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f"    %pip install -q --no-deps d2l=={D2L_VERSION}\n"
        f'    %pip install -q "d2l-tconv @ git+{REPO_URL}@{BRANCH}"'
    )
