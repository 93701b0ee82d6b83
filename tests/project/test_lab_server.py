"""The README's first command, ``make lab``, starts JupyterLab serving the notebooks.

Runs the real command on a free localhost port with a token, checks that the server
answers and lists and serves both notebooks, that saving a notebook unchanged (what
JupyterLab's autosave does) writes the very bytes of the stored file, and that the kernel
the notebooks name is the one installed; then stops the whole process group.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import stop_process_group
from notebook_exec import KERNELSPEC

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, method: str = "GET", body: dict | None = None
         ) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.read()


def _saved_unchanged_is_identical(base: str, token: str, path: Path) -> bool:
    """Open ``path`` through the contents API and save it, unchanged, beside itself (as
    JupyterLab's autosave would): are the saved bytes those of the file?"""
    rel = path.relative_to(ROOT).as_posix()
    folder = path.parent.relative_to(ROOT).as_posix()
    scratch = f"{folder}/roundtrip-test-{secrets.token_hex(4)}.ipynb"  # not hidden: "."
    _, body = _get(f"{base}/api/contents/{rel}?content=1", token)
    model = json.loads(body)
    _get(f"{base}/api/contents/{scratch}", token, "PUT",
         {"type": "notebook", "format": "json", "content": model["content"]})
    try:
        return (ROOT / scratch).read_bytes() == path.read_bytes()
    finally:
        _get(f"{base}/api/contents/{scratch}", token, "DELETE")


@pytest.mark.slow
def test_make_lab_serves_the_notebooks(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token}"
    )
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited early:\n{(tmp_path / 'lab.log').read_text()}")
            try:
                status, _ = _get(f"{base}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer:\n{(tmp_path / 'lab.log').read_text()}")
                time.sleep(0.5)
        assert status == 200

        # The lab page itself (the front end) is served.
        status, page = _get(f"{base}/lab", token)
        assert status == 200 and b"JupyterLab" in page

        for lang in ("en", "ja"):
            status, body = _get(f"{base}/api/contents/notebooks/{lang}", token)
            listing = json.loads(body)
            names = {item["name"] for item in listing["content"]}
            on_disk = {p.name for p in (ROOT / "notebooks" / lang).glob("*.ipynb")}
            assert on_disk and on_disk <= names
            for name in on_disk:
                status, body = _get(f"{base}/api/contents/notebooks/{lang}/{name}", token)
                model = json.loads(body)
                assert model["type"] == "notebook" and model["content"]["cells"]

        # The kernel the notebooks ask for exists under the name and display name they give.
        status, body = _get(f"{base}/api/kernelspecs", token)
        specs = json.loads(body)["kernelspecs"]
        assert specs["python3"]["spec"]["display_name"] == KERNELSPEC["display_name"]

        # Opening and saving a notebook without a change leaves the file as it is.
        notebooks = sorted((ROOT / "notebooks").glob("*/*.ipynb"))
        notebooks += sorted((ROOT / "exercises").glob("*/*.ipynb"))
        assert len(notebooks) >= 4
        changed = [p.name for p in notebooks if not _saved_unchanged_is_identical(base, token, p)]
        assert not changed, f"saving unchanged through JupyterLab rewrites {changed}"
    finally:
        stop_process_group(proc, timeout=15)
        log.close()
