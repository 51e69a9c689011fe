"""Where a benchmark's figures came from: the checkout's commit and the installed package versions.

Every results file names both, so a figure can be traced to the code and libraries that made it.
Versions are read from the installed distributions' metadata (importlib.metadata), so asking for
torch's version does not import torch.
"""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commit(root: Path = ROOT) -> str:
    """The checkout's short commit, with "+dirty" when tracked files changed since; "unknown"
    outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def versions(*distributions: str) -> dict[str, str]:
    """{"python": ..., distribution: version} for each named distribution that is installed."""
    out = {"python": platform.python_version()}
    for name in distributions:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def versions_text(*distributions: str) -> str:
    """`versions` as one line: "python 3.11.7, torch 2.13.0+cpu, ..."."""
    return ", ".join(f"{name} {v}" for name, v in versions(*distributions).items())
