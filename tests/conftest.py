"""Shared fixtures: the devices every device-aware test runs on, and strict mode."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import torch

# Under `pytest -n 2` each worker would start one intra-op thread per core, and the two
# workers would fight over the 2 cores: one thread per worker is faster overall.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# CI sets D2L_TCONV_STRICT=1: a test that would be skipped for a missing tool
# (bubblewrap, node) fails instead, so a green CI always means it really ran.
STRICT = os.environ.get("D2L_TCONV_STRICT") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip locally when a tool is missing; fail in CI (D2L_TCONV_STRICT=1)."""
    if STRICT:
        pytest.fail(f"{reason} (D2L_TCONV_STRICT=1: tools must be present)")
    pytest.skip(reason)


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each test that takes ``device`` runs on the CPU, and on CUDA where available."""
    return torch.device(request.param)


def stop_process_group(proc: subprocess.Popen, timeout: float) -> None:
    """Stop a server started with ``start_new_session=True``, and everything it started."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
