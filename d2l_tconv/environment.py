"""What a notebook runs on: versions and the compute device, printed in its first cells."""

from __future__ import annotations

import platform
from importlib import metadata

import torch


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_environment(device: torch.device | str | None = None) -> str:
    """One line per component: Python, torch, d2l, d2l-tconv, and the device in use."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        where = f"{device} ({torch.cuda.get_device_name(device)})"
    elif torch.cuda.is_available():
        where = f"{device} (a CUDA GPU is available but not used)"
    else:
        where = f"{device} (no CUDA GPU found: running on the CPU)"
    lines = [
        f"python     {platform.python_version()}",
        f"torch      {torch.__version__}",
        f"d2l        {_version('d2l')}",
        f"d2l-tconv  {_version('d2l-tconv')}",
        f"device     {where}",
    ]
    return "\n".join(lines)


def show_environment(device: torch.device | str | None = None) -> None:
    """Print :func:`describe_environment` (the notebooks' version cell)."""
    print(describe_environment(device))
