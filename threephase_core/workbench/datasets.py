"""Datasets as the Data page offers them: uploads kept where the worker thread can read them,
a table's first rows, a guess at its text and label columns, and a stamp that changes when
the files do (a cache key part).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pandas as pd

from threephase_core.data_files import FILE_SUFFIXES, DataError
from threephase_core.runstore import default_runs_dir

UPLOAD_DIR = "_uploads"  # inside the runs folder; RunStore.list() skips it (no config.json)


def dataset_label(spec: str) -> str:
    """A short name for a dataset spec: 'demo', a folder or file name, or the hub id."""
    spec = str(spec)
    if spec == "demo" or not spec:
        return spec or "?"
    path = Path(spec)
    if path_exists(path) or "/" in spec and path.suffix.lower() in FILE_SUFFIXES:
        return path.name
    return spec


def dataset_source(spec: str) -> str | None:
    """Where a dataset spec points, as the Data page names it: 'demo', 'folder', 'upload' (a file),
    'hub' (an owner/name id), or None for a path that is not on this machine."""
    path = Path(spec).expanduser()
    if spec == "demo":
        return "demo"
    if path_exists(path):
        return "folder" if path.is_dir() else "upload"
    if re.fullmatch(r"[\w.-]+/[\w.-]+", spec) and not spec.startswith((".", "/", "~")):
        return "hub"
    return None


def path_exists(path: Path) -> bool:
    """Path.exists that says False instead of raising: a name read from a damaged config.json
    may hold a NUL byte (ValueError) or point where we may not look (PermissionError)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def save_upload(name: str, data: bytes, runs_dir: str | Path | None = None) -> Path:
    """Keep an uploaded file on disk (``<runs>/_uploads/<hash>/<name>``) so the worker thread
    can load it by path; the same content is stored once. Raises DataError on a bad file."""
    suffix = Path(name).suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise DataError(
            f"{name}: unsupported file type {suffix or '(none)'}; upload a .csv, .jsonl, .json or .parquet file"
        )
    if not data:
        raise DataError(f"{name} is empty (0 bytes)")
    digest = hashlib.sha256(data).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).name) or f"upload{suffix}"
    folder = Path(runs_dir or default_runs_dir()) / UPLOAD_DIR / digest
    path = folder / safe
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{safe}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def prune_uploads(
    runs_dir: str | Path | None = None, older_than_days: float = 30, keep: set[str] | None = None
) -> list[Path]:
    """Delete upload folders not touched for `older_than_days` that no run's config and no path
    in `keep` refers to; returns the folders removed. Uploads a run used stay, so its data can
    still be re-run."""
    import shutil
    import time

    root = Path(runs_dir or default_runs_dir())
    uploads = root / UPLOAD_DIR
    if not uploads.is_dir():
        return []
    used = set(keep or ())
    for cfg in root.glob("*/config.json"):
        try:
            used.add(str(json.loads(cfg.read_text()).get("dataset", "")))
        except (OSError, ValueError):
            continue
    cutoff = time.time() - older_than_days * 86400
    removed = []
    for folder in uploads.iterdir():
        if not folder.is_dir() or folder.stat().st_mtime > cutoff:
            continue
        if any(str(f) in used or str(f.resolve()) in used for f in folder.iterdir()):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def table_file(spec: str) -> Path | None:
    """The file whose columns describe a dataset spec: the file itself, or a folder's train file."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for suffix in FILE_SUFFIXES:
            if (path / f"train{suffix}").exists():
                return path / f"train{suffix}"
    return None


def peek_table(path: str | Path, rows: int = 5) -> pd.DataFrame:
    """The first rows of a data file, read by the engine's reader (DataError on a bad file)."""
    from threephase_core.data_files import read_table  # the engine's reader and its messages

    df = read_table(Path(path))
    if df.empty or len(df.columns) == 0:
        raise DataError(f"{Path(path).name} has no rows")
    return df.head(rows)


_TEXT_NAMES = ("text", "sentence", "utterance", "content", "review", "document", "query", "question")
_LABEL_NAMES = ("label", "labels", "intent", "class", "category", "target", "scenario", "sentiment", "y")


def guess_columns(df: pd.DataFrame) -> tuple[str, str]:
    """(text column, label column): known names first, else the longest-string column and the
    column with the fewest distinct values."""
    cols = [str(c) for c in df.columns]
    lower = {c.lower(): c for c in cols}
    text = next((lower[n] for n in _TEXT_NAMES if n in lower), None)
    label = next((lower[n] for n in _LABEL_NAMES if n in lower), None)
    if text is None:
        lengths = {c: df[c].astype(str).str.len().mean() for c in cols}
        text = max(lengths, key=lengths.get) if lengths else cols[0]
    if label is None:
        others = [c for c in cols if c != text and c != "split"] or cols
        label = min(others, key=lambda c: df[c].nunique())
    return text, label


def source_stamp(spec: str) -> float:
    """Modification time of a local dataset (0 for the demo and hub ids): a cache key part."""
    path = Path(spec).expanduser()
    if spec == "demo" or not path.exists():
        return 0.0

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:  # a dangling link (an editor's lock file), an unreadable entry: the loader says what is wrong
            return 0.0

    if path.is_dir():
        try:
            entries = list(path.iterdir())
        except OSError:
            entries = []
        return max((mtime(p) for p in entries), default=mtime(path))
    return mtime(path)


def sample_texts(train: pd.DataFrame, label_names: list[str], per_class: int = 3, seed: int = 0) -> pd.DataFrame:
    """A few training texts of every class (seeded), as a (class, text) frame."""
    parts = []
    for i, name in enumerate(label_names):
        rows = train[train["label"] == i]
        if len(rows):
            pick = rows.sample(n=min(per_class, len(rows)), random_state=seed)
            parts.append(pd.DataFrame({"class": name, "text": pick["text"].to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["class", "text"])


def columns_problem(df: pd.DataFrame, name: str) -> str | None:
    """Why a table cannot give a text and a label column (it has fewer than two), else None."""
    cols = [str(c) for c in df.columns]
    if len(cols) < 2:
        return (
            f"{name} has only one column ({', '.join(cols) or 'none'}); a dataset needs a text column and a label "
            "column, e.g. a header line `text,label`"
        )
    return None
