"""What a notebook runs on: versions and the compute device, printed in its first cells."""

from __future__ import annotations

import platform
from importlib import metadata

import torch

_DEVICE_NOTES = {
    "en": {
        "unused": "a CUDA GPU is available but not used",
        "none": "no CUDA GPU found: running on the CPU",
    },
    "ja": {
        "unused": "CUDA GPU がありますが、使っていません",
        "none": "CUDA GPU が見つからないため、CPU で実行します",
    },
}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_environment(device: torch.device | str | None = None, lang: str = "en") -> str:
    """One line per component: Python, torch, d2l, d2l-tconv, and the device in use.

    ``lang`` ("en" or "ja") is the language of the note on the device.
    """
    if lang not in _DEVICE_NOTES:
        raise ValueError(f"lang must be one of {sorted(_DEVICE_NOTES)}, got {lang!r}")
    notes = _DEVICE_NOTES[lang]
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        where = f"{device} ({torch.cuda.get_device_name(device)})"
    elif torch.cuda.is_available():
        where = f"{device} ({notes['unused']})"
    else:
        where = f"{device} ({notes['none']})"
    lines = [
        f"python     {platform.python_version()}",
        f"torch      {torch.__version__}",
        f"d2l        {_version('d2l')}",
        f"d2l-tconv  {_version('d2l-tconv')}",
        f"device     {where}",
    ]
    return "\n".join(lines)


def show_environment(device: torch.device | str | None = None, lang: str = "en") -> None:
    """Print :func:`describe_environment` (the notebooks' version cell)."""
    print(describe_environment(device, lang))
