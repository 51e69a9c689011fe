"""Where dataset folders are found: a data root the user sets.

The data root is the folder given (``--data-root`` on the command line, the Data page's field),
else ``$THREEPHASE_DATA_ROOT``, else ``./data``. A dataset named by a bare name
(``--dataset snips2``) is the folder of that name under it; a path to a folder or file (absolute,
or relative to the working folder) is read where it is, and ``demo`` is the bundled demo data.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "THREEPHASE_DATA_ROOT"
DEFAULT_ROOT = "data"


def data_root(root: str | Path | None = None) -> Path:
    """The data root: `root` when given (not empty), else ``$THREEPHASE_DATA_ROOT``, else ``./data``."""
    chosen = str(root).strip() if root is not None else ""
    return Path(chosen or os.environ.get(ENV_VAR, "").strip() or DEFAULT_ROOT).expanduser()


def root_problem(root: str | Path | None = None) -> str | None:
    """Why the data root cannot hold dataset folders (missing, not a folder, unreadable), or None."""
    path = data_root(root)
    if not path.exists():
        return f"the data root {path} does not exist"
    if not path.is_dir():
        return f"the data root {path} is not a folder"
    if not os.access(path, os.R_OK | os.X_OK):
        return f"the data root {path} cannot be read (permissions)"
    return None


def resolve_dataset(spec: str, root: str | Path | None = None) -> str:
    """The dataset `spec` as ``load_dataset`` reads it: the folder `spec` under the data root when
    `spec` is not ``demo`` and not an existing path but that folder exists; else `spec` unchanged
    (a path, or a Hugging Face hub id)."""
    spec = str(spec).strip()
    if not spec or spec == "demo" or Path(spec).expanduser().exists():
        return spec
    under_root = data_root(root) / spec
    return str(under_root) if under_root.is_dir() else spec
