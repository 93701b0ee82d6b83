"""The Explore section in a real browser: JupyterLab, headless Chromium, Playwright.

Starts JupyterLab on a free localhost port (as tests/test_lab_server.py does) serving a copy
of each section notebook (so that nothing the browser does can touch the tracked files), runs
the notebook, then drives the explorer and an animation as a reader would: the stride slider
changes the output-shape text and the figure; the animation's play button advances its frame.
No error may appear in the page or the browser console. Screenshots go to a temporary folder
and their paths are printed (``pytest -s`` shows them).

Needs the system Chromium (Debian package ``chromium``; ``.ci/run`` installs it) and the PyPI
package ``playwright`` (its own browser download is not used). Skipped without them locally;
under ``D2L_TCONV_STRICT=1`` (CI) it fails instead.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import skip_or_fail, stop_process_group

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# What the explorer shows before and after the stride goes from 1 to 2 (the section's X, K).
SHAPE_TEXT = {"en": "output shape: {n} × {n}", "ja": "出力の形状: {n} × {n}"}
STRIDE_LABEL = {"en": "stride", "ja": "ストライド"}
PLAY = {"en": "Play", "ja": "再生"}


def chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(base: str, token: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited early:\n{log.read_text()}")
        try:
            req = urllib.request.Request(f"{base}/api/status",
                                         headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(req, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"JupyterLab did not answer:\n{log.read_text()}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the notebooks; yields ``(base_url, token)``."""
    if chromium() is None:
        skip_or_fail("no Chromium found (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the PyPI package playwright is not installed")
    home = tmp_path_factory.mktemp("lab")
    for lang in ("en", "ja"):
        (home / "notebooks" / lang).mkdir(parents=True)
        shutil.copy(ROOT / "notebooks" / lang / "transposed_conv.ipynb",
                    home / "notebooks" / lang / "transposed_conv.ipynb")
    # Every cell in the page (JupyterLab otherwise renders only the cells in view), no
    # announcements or news requests, a fresh workspace.
    settings = home / "settings"
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    args = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={home}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    if os.getuid() == 0:
        args.append("--allow-root")
    # The kernel imports this checkout's d2l_tconv.
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    log = home / "lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(args, cwd=home, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base, token, proc, log)
        yield base, token
    finally:
        stop_process_group(proc, timeout=20)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_explore_section_in_jupyterlab(lab, lang):
    from playwright.sync_api import expect, sync_playwright

    base, token = lab

    def local(url: str) -> bool:
        """This machine has no internet: the notebook's Colab badge (an image on
        colab.research.google.com) cannot load. Only errors of the local page count."""
        return not url or url.startswith(base) or not url.startswith(("http:", "https:"))

    shots = Path(tempfile.mkdtemp(prefix=f"d2l-tconv-browser-{lang}-"))
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda msg: problems.append(
            f"console {msg.type}: {msg.text} ({msg.location.get('url')})")
            if msg.type == "error" and local(msg.location.get("url", base)) else None)
        try:
            # a workspace of its own: no tab of another test is restored
            page.goto(f"{base}/lab/workspaces/{lang}/tree/notebooks/{lang}/transposed_conv.ipynb"
                      f"?reset&token={token}")
            notebook = page.locator(".jp-Notebook")
            expect(notebook).to_be_visible(timeout=60_000)
            # the kernel is up (status bar: "Python 3 (d2l-tconv) | Idle")
            expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle")).to_have_count(
                1, timeout=90_000)
            # Run all cells (menu Run → Run All Cells) and wait for the explorer.
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.locator("li[data-command='runmenu:run-all']").click()
            explorer = notebook.locator(".d2l-tconv-explorer")
            expect(explorer).to_be_visible(timeout=180_000)
            explorer.scroll_into_view_if_needed()
            shape = explorer.locator(".d2l-tconv-shape")
            expect(shape).to_contain_text(SHAPE_TEXT[lang].format(n=3), timeout=30_000)
            figure = explorer.locator("img.d2l-tconv-figure")
            before = figure.get_attribute("src")
            page.screenshot(path=str(shots / "1-explorer-stride1.png"), full_page=False)

            # Stride 1 → 2: type into the slider's read-out, as a reader can.
            stride = explorer.locator(".d2l-tconv-stride")
            expect(stride.locator(".widget-label")).to_have_text(STRIDE_LABEL[lang])
            readout = stride.locator(".widget-readout")
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("2")
            page.keyboard.press("Enter")
            expect(shape).to_contain_text(SHAPE_TEXT[lang].format(n=4), timeout=30_000)
            expect(figure).not_to_have_attribute("src", before, timeout=30_000)
            check = explorer.locator(".d2l-tconv-check")
            expect(check).to_contain_text("✓")
            expect(check).to_contain_text("stride=2")
            explorer.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "2-explorer-stride2.png"), full_page=False)

            # No cell printed an error or a warning.
            stderr = notebook.locator(".jp-OutputArea-output[data-mime-type*='stderr'], "
                                      ".jp-OutputArea-output[data-mime-type*='error']")
            assert stderr.count() == 0, stderr.all_inner_texts()

            # Play the first animation: its frame slider advances.
            player = notebook.locator(".animation").first
            player.scroll_into_view_if_needed()
            frame = player.locator("input[type=range]")
            assert frame.input_value() == "0"
            player.locator(f"button[title='{PLAY[lang]}']").click()
            expect(frame).not_to_have_value("0", timeout=10_000)
            page.screenshot(path=str(shots / "3-animation-playing.png"), full_page=False)
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=False)
            errors = page.locator(".jp-OutputArea-output[data-mime-type*='error']")
            print("\nfailure screenshot:", shots / "failure.png",
                  *errors.all_inner_texts()[:3], sep="\n")
            raise
        finally:
            browser.close()
    print(f"\nscreenshots ({lang}):", *sorted(str(s) for s in shots.iterdir()), sep="\n  ")
    assert not problems, "\n".join(problems)
