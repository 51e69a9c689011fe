"""Run folders: everything a run produced, readable without the process that made it.

    runs/<run id>/
        config.json          the whole RunConfig
        status.json          state (running/done/failed/cancelled), message, phase walls
        events.jsonl         progress, losses and evaluations, append-only
        data.json            dataset summary (rows, class counts, notes)
        metrics.json         validation and test metrics, per-phase cluster quality
        embeddings/<phase>.npz   validation embeddings after each phase (+ labels, texts)
        model/               encoder (sentence-transformers format) + head (safetensors)

JSON files are written atomically (temporary file, then rename), so a crash never leaves a
half-written file, and what finished before a crash stays on disk. The location is
``--runs-dir``, else ``$THREEPHASE_RUNS_DIR``, else ``./runs``.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np


def default_runs_dir() -> Path:
    return Path(os.environ.get("THREEPHASE_RUNS_DIR", "runs")).expanduser()


def write_json_atomic(path: Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, default=_jsonable)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write leaves neither a half file nor a stray temp file
        raise


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _jsonable(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class Run:
    """One run folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.path.name

    # ---- writing ----------------------------------------------------------------------
    def append_event(self, event: dict) -> None:
        line = json.dumps(event, default=_jsonable)
        with self._lock, open(self.path / "events.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def write(self, name: str, obj: Any) -> None:
        write_json_atomic(self.path / name, obj)

    def update_status(self, **fields: Any) -> None:
        with self._lock:
            status = read_json(self.path / "status.json", {}) or {}
            status.update(fields, updated=time.time())
            write_json_atomic(self.path / "status.json", status)

    def save_embeddings(self, phase: str, embeddings: np.ndarray, labels: np.ndarray, texts: list[str]) -> Path:
        folder = self.path / "embeddings"
        folder.mkdir(exist_ok=True)
        final = folder / f"{phase}.npz"
        tmp = folder / f".{phase}.tmp.npz"
        np.savez_compressed(tmp, embeddings=embeddings.astype(np.float32), labels=np.asarray(labels, dtype=np.int64), texts=np.asarray(texts, dtype=object).astype(str))
        os.replace(tmp, final)
        return final

    # ---- reading ----------------------------------------------------------------------
    @property
    def config(self) -> dict:
        return read_json(self.path / "config.json", {}) or {}

    @property
    def status(self) -> dict:
        return read_json(self.path / "status.json", {}) or {}

    @property
    def metrics(self) -> dict:
        return read_json(self.path / "metrics.json", {}) or {}

    @property
    def data_summary(self) -> dict:
        return read_json(self.path / "data.json", {}) or {}

    def events(self) -> list[dict]:
        f = self.path / "events.jsonl"
        if not f.exists():
            return []
        out = []
        for line in f.read_text(encoding="utf-8").split("\n"):
            try:
                out.append(json.loads(line))
            except ValueError:  # a line cut by a crash
                continue
        return out

    def embedding_phases(self) -> list[str]:
        from threephase_core.projection import PHASE_ORDER

        folder = self.path / "embeddings"
        have = {p.stem for p in folder.glob("*.npz") if not p.name.startswith(".")} if folder.exists() else set()
        return [p for p in PHASE_ORDER if p in have] + sorted(have - set(PHASE_ORDER))

    def load_embeddings(self, phase: str) -> dict[str, np.ndarray]:
        with np.load(self.path / "embeddings" / f"{phase}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def has_model(self) -> bool:
        return (self.model_dir / "head.safetensors").exists()


class RunStore:
    """All run folders under one root."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_runs_dir()

    def create(self, recipe: str, dataset: str, seed: int) -> Run:
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_slug(recipe)}-{_slug(dataset)}-s{seed}"
        for k in range(1000):
            path = self.root / (base if k == 0 else f"{base}-{k}")
            try:
                path.mkdir()
                return Run(path)
            except FileExistsError:
                continue
        raise RuntimeError("could not create a run folder")

    def list(self) -> list[Run]:
        """Runs, newest first."""
        if not self.root.exists():
            return []
        runs = [Run(p) for p in self.root.iterdir() if p.is_dir() and (p / "config.json").exists()]
        return sorted(runs, key=lambda r: r.path.stat().st_mtime if not r.status else r.status.get("created", 0), reverse=True)

    def get(self, run_id: str) -> Run:
        path = self.root / run_id
        if not (path / "config.json").exists():
            raise KeyError(f"no run {run_id!r} in {self.root}")
        return Run(path)


def _slug(s: str) -> str:
    s = Path(str(s)).name if ("/" in str(s) or "\\" in str(s)) else str(s)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)[:40] or "x"
