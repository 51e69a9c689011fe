"""Run folders: everything a run produced, readable without the process that made it.

    runs/<run id>/
        config.json          the whole RunConfig
        status.json          state (running/done/failed/cancelled), message, phase walls
        events.jsonl         progress, losses and evaluations, append-only
        data.json            dataset summary (rows, class counts, notes)
        metrics.json         validation and test metrics, per-phase cluster quality
        embeddings/<phase>.npz   validation embeddings after each phase (+ labels, texts;
                                 after FT + proba, the classifier's class probabilities)
        embeddings/train/<phase>.npz   the same for a stratified sample of training texts,
                                 + rows (each text's position in the training split)
        model/               encoder (sentence-transformers format) + head (safetensors)
        checkpoints/<phase>/ the encoder after each phase before FT, for resuming (checkpoints.py)

JSON files are written atomically (temporary file, then rename), so a crash never leaves a
half-written file, and what finished before a crash stays on disk. The location is
``--runs-dir``, else ``$THREEPHASE_RUNS_DIR``, else ``./runs``.

Reading never raises on a damaged folder (a file cut short, a hand edit, a full disk): a JSON
file that is not an object reads as {}, a bad ``created`` sorts by the folder's time, bad
event-log lines are skipped and a cut-short embeddings file is not listed as a phase. The
pages read every folder on each redraw, and one bad folder must not hide the others.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
import zipfile
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


def read_json_dict(path: Path) -> dict:
    """The JSON object in `path`, or {} when the file is missing, unreadable, cut short or
    holds something other than an object (``[1, 2]``, ``5``): a damaged file reads as empty,
    so code that does ``.get`` on it never fails on one bad run folder."""
    value = read_json(path, None)
    return value if isinstance(value, dict) else {}


# Entries the pages read with .get() or iterate, and the type they must have. In a damaged or
# hand-edited file an entry of another type is dropped, as if it were missing, so that the
# pages' ``metrics.get("test") or {}`` and loops over phases hold for every folder.
_SHAPES: dict[str, dict[str, type]] = {
    "config.json": {"phases": list},
    "data.json": {"label_names": list, "notes": list},
    "metrics.json": {"validation": dict, "test": dict, "ft": dict, "before_ft": dict, "phases": dict},
}


def _shaped(name: str, obj: dict) -> dict:
    """`obj` without the entries of the wrong type (see `_SHAPES`); in metrics.json also the
    phases that are not objects and a phase's ``data`` that is not one."""
    out = {k: v for k, v in obj.items() if not (k in _SHAPES.get(name, {}) and not isinstance(v, _SHAPES[name][k]))}
    if name == "metrics.json" and "phases" in out:
        out["phases"] = {
            str(p): {k: x for k, x in v.items() if not (k == "data" and not isinstance(x, dict))}
            for p, v in out["phases"].items()
            if isinstance(v, dict)
        }
    return out


def as_timestamp(value: Any) -> float | None:
    """`value` as seconds since the epoch when it is a plain finite number in the range
    pandas can show (1970 to 2262), else None: a damaged ``created`` such as "yesterday",
    true or 1e300 must not break sorting or the runs table."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0 <= value < 9.2e9 else None


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
            status = read_json_dict(self.path / "status.json")  # a damaged file is replaced, not merged
            status.update(fields, updated=time.time())
            write_json_atomic(self.path / "status.json", status)

    def save_embeddings(
        self,
        phase: str,
        embeddings: np.ndarray,
        labels: np.ndarray,
        texts: list[str],
        *,
        split: str = "validation",
        rows: np.ndarray | None = None,
        proba: np.ndarray | None = None,
    ) -> Path:
        """Write `embeddings/<phase>.npz` (validation) or `embeddings/train/<phase>.npz`
        (split="train") atomically, with `rows` and `proba` when given."""
        folder = self._embedding_folder(split)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{phase}.npz"
        tmp = folder / f".{phase}.tmp.npz"
        arrays = {
            "embeddings": embeddings.astype(np.float32),
            "labels": np.asarray(labels, dtype=np.int64),
            "texts": np.asarray(texts, dtype=object).astype(str),
        }
        if rows is not None:
            arrays["rows"] = np.asarray(rows, dtype=np.int64)
        if proba is not None:
            arrays["proba"] = np.asarray(proba, dtype=np.float32)
        try:
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a half-written temp file would hold the space a full disk needs back
            raise
        return final

    # ---- reading ----------------------------------------------------------------------
    # Each reader returns {} unless the file holds a JSON object (see `read_json_dict`), and
    # leaves out the entries the pages rely on that have the wrong type (see `_SHAPES`).
    @property
    def config(self) -> dict:
        return _shaped("config.json", read_json_dict(self.path / "config.json"))

    @property
    def status(self) -> dict:
        return read_json_dict(self.path / "status.json")

    @property
    def metrics(self) -> dict:
        return _shaped("metrics.json", read_json_dict(self.path / "metrics.json"))

    @property
    def data_summary(self) -> dict:
        return _shaped("data.json", read_json_dict(self.path / "data.json"))

    def created(self) -> float | None:
        """When the run started (status.json's ``created``), or None when missing or not a
        usable number."""
        return as_timestamp(self.status.get("created"))

    def events(self) -> list[dict]:
        """The event log's objects, in order. Lines cut by a crash, lines that are not JSON
        objects and bytes that are not UTF-8 are skipped (replaced), never raised: the log is
        read by the pages, and one bad line must not hide the rest of the run."""
        f = self.path / "events.jsonl"
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:  # missing or unreadable: no events
            return []
        out = []
        for line in text.split("\n"):
            try:
                event = json.loads(line)
            except ValueError:  # a line cut by a crash
                continue
            if isinstance(event, dict):
                out.append(event)
        return out

    def embedding_phases(self, split: str = "validation") -> list[str]:
        """Phases with an embeddings file of `split` ("validation", or "train" for
        embeddings/train/), in pipeline order. A file that is not a whole zip archive (cut
        short by a crash or a full disk: no end-of-archive record; a cheap check of its last
        bytes) is left out, as if that phase had not been saved; see `damaged_embeddings`."""
        from threephase_core.projection import PHASE_ORDER

        have = {phase for phase, path in self._embedding_files(split).items() if _whole_zip(path)}
        return [p for p in PHASE_ORDER if p in have] + sorted(have - set(PHASE_ORDER))

    def damaged_embeddings(self, split: str = "validation") -> list[str]:
        """Phases whose embeddings file of `split` exists but is not a whole zip archive (sorted)."""
        return sorted(phase for phase, path in self._embedding_files(split).items() if not _whole_zip(path))

    def _embedding_folder(self, split: str) -> Path:
        if split not in ("validation", "train"):
            raise ValueError(f"split={split!r}; embeddings are kept for 'validation' and 'train'")
        return self.path / "embeddings" / ("train" if split == "train" else "")

    def _embedding_files(self, split: str = "validation") -> dict[str, Path]:
        folder = self._embedding_folder(split)
        try:  # only the folder's own files: embeddings/train/ is not a phase of the validation split
            return {p.stem: p for p in folder.glob("*.npz") if p.is_file() and not p.name.startswith(".")}
        except OSError:
            return {}

    def load_embeddings(self, phase: str, split: str = "validation") -> dict[str, np.ndarray]:
        with np.load(self._embedding_folder(split) / f"{phase}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def has_model(self) -> bool:
        """Whether a whole saved model is here. ``classifier.json`` is written last (and
        atomically) by `Classifier.save`, so a save that stopped half-way (a crash, a full
        disk) has no classifier.json and does not count as a model."""
        try:
            return (
                all((self.model_dir / name).is_file() for name in ("classifier.json", "head.safetensors"))
                and (self.model_dir / "encoder").is_dir()
            )
        except OSError:
            return False


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
        """Runs (folders with a config.json), newest first: by status.json's ``created``, else
        by the folder's modification time. A folder that cannot be read is left out, and a
        damaged status.json only moves its run to the folder time, so one bad folder never
        breaks the listing of the others."""
        try:
            entries = list(self.root.iterdir())
        except OSError:  # no runs folder (yet), or not readable
            return []
        keyed = []
        for p in entries:
            try:
                if not (p.is_dir() and (p / "config.json").exists()):
                    continue
                run = Run(p)
                created = run.created()
                keyed.append((created if created is not None else p.stat().st_mtime, run))
            except OSError:  # e.g. a folder without read permission
                continue
        keyed.sort(key=lambda item: item[0], reverse=True)
        return [run for _, run in keyed]

    def get(self, run_id: str) -> Run:
        path = self.root / run_id
        if not (path / "config.json").exists():
            raise KeyError(f"no run {run_id!r} in {self.root}")
        return Run(path)

    def remove(self, run_id: str) -> None:
        """Delete a run folder and everything in it. config.json goes first, so a removal that
        stops half-way (a file in use, no permission) leaves a folder the listing ignores rather
        than a run with parts missing; OSError then says what is left. KeyError for a name that
        is not a run folder here: '..', paths and symbolic links are refused (only a real folder
        directly under the root is removed, never what a link points to)."""
        import shutil

        if not run_id or Path(run_id).name != run_id or run_id in (".", ".."):
            raise KeyError(f"no run {run_id!r} in {self.root}")
        run = self.get(run_id)
        if run.path.is_symlink():
            raise KeyError(f"{run_id} is a link, not a run folder; remove it by hand")
        (run.path / "config.json").unlink()
        shutil.rmtree(run.path, ignore_errors=True)
        if run.path.exists():
            raise OSError(f"parts of {run.path} could not be deleted (it no longer shows as a run)")


def owner_alive(status: dict) -> bool:
    """Whether the process that started this run (status.json's ``pid`` on ``host``) still runs
    on this machine. False when the status names no process, or another machine (unknowable)."""
    import socket

    pid, host = status.get("pid"), status.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def _whole_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _slug(s: str) -> str:
    s = Path(str(s)).name if ("/" in str(s) or "\\" in str(s)) else str(s)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)[:40] or "x"
