"""2-D maps of every phase's embeddings, cached in the run folder as
``projections/<method>.npz`` so a restart shows them at once. UMAP runs in a background thread
(one at a time, deduplicated) while the page shows PCA; a damaged embeddings file only loses
its own map.
"""

from __future__ import annotations

import json
import os
import threading
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from threephase_core.runstore import Run
from threephase_core.workbench.runs import PHASE_TITLES

PROJECTION_VERSION = 1
_executor: ThreadPoolExecutor | None = None
_inflight: dict[tuple, Future] = {}
_proj_lock = threading.Lock()


def _embed_stamp(run: Run, phases: list[str]) -> list[float]:
    out = []
    for p in phases:
        try:
            out.append(round((run.path / "embeddings" / f"{p}.npz").stat().st_mtime, 3))
        except OSError:
            out.append(-1.0)
    return out


# What reading a damaged embeddings file can raise: cut short or overwritten (BadZipFile,
# EOFError, OSError), a corrupt compressed member (zlib.error, BadZipFile "Bad CRC-32"), a
# missing array (KeyError), an array numpy cannot read (ValueError).
EMBEDDING_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def _read_phase(
    run: Run, phase: str, arrays: tuple[str, ...] = ("embeddings", "labels", "texts")
) -> dict[str, np.ndarray] | None:
    """The named arrays of one phase's embeddings file, or None when the file is damaged (does
    not read, lacks an array, or its arrays disagree in length)."""
    try:
        with np.load(run.path / "embeddings" / f"{phase}.npz", allow_pickle=False) as z:
            d = {k: z[k] for k in arrays}
    except EMBEDDING_ERRORS:
        return None
    if "embeddings" in d and d["embeddings"].ndim != 2:
        return None
    if len({len(v) for v in d.values()}) > 1:
        return None
    return d


def embedding_notes(run: Run) -> list[str]:
    """One sentence per phase whose embeddings file is on disk but cannot be read, for a page to
    show; `load_run_embeddings` and `run_points` leave those phases out."""
    bad = set(run.damaged_embeddings()) | {
        p for p in run.embedding_phases() if _read_phase(run, p, ("labels",)) is None
    }
    return [
        f"The embeddings of phase {PHASE_TITLES.get(p, p)!r} (embeddings/{p}.npz) are damaged and are not shown."
        for p in sorted(bad)
    ]


def load_run_embeddings(run: Run) -> tuple[list[str], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(phases, {phase: embeddings}, labels, texts) for the phases on disk (same rows each).
    A phase whose file is damaged, or that holds a different row set, is left out (see
    `embedding_notes`): one bad file must not hide the other maps."""
    phases = run.embedding_phases()
    embs, labels, texts = {}, None, None
    for p in phases:
        d = _read_phase(run, p)
        if d is None:
            continue
        if labels is not None and len(d["labels"]) != len(labels):
            continue  # a phase from a different row set: leave it out
        embs[p] = d["embeddings"]
        if labels is None:
            labels, texts = d["labels"], d["texts"]
    phases = [p for p in phases if p in embs]
    return (
        phases,
        embs,
        (labels if labels is not None else np.zeros(0, int)),
        (texts if texts is not None else np.array([], dtype=str)),
    )


def run_points(run: Run) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(phases on disk, labels, texts) of a run's saved validation rows, without reading the
    embeddings themselves (what a page needs to draw cached maps).

    The phases are `Run.embedding_phases()` unchanged (the Embeddings page compares the two to
    notice new phases); labels and texts come from the first phase whose file reads, so a
    damaged file only loses its own map (the projections leave it out)."""
    phases = run.embedding_phases()
    for p in phases:
        d = _read_phase(run, p, ("labels", "texts"))
        if d is not None:
            return phases, d["labels"], d["texts"]
    return phases, np.zeros(0, dtype=np.int64), np.array([], dtype=str)


def projection_file(run: Run, method: str) -> Path:
    return run.path / "projections" / f"{method}.npz"


def cached_projection(run: Run, method: str) -> dict[str, np.ndarray] | None:
    """The cached 2-D layouts {phase: (n, 2)} if they match the embeddings on disk."""
    f = projection_file(run, method)
    if not f.exists():
        return None
    try:
        with np.load(f, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            phases = run.embedding_phases()
            # "on_disk": the phases there were when it was computed, including any left out as
            # damaged or of another row set (older caches lack it: then they were the same).
            on_disk = meta.get("on_disk", meta.get("phases"))
            if (
                meta.get("version") != PROJECTION_VERSION
                or on_disk != phases
                or meta.get("stamp") != _embed_stamp(run, phases)
            ):
                return None
            return {p: z[f"xy_{p}"] for p in meta["phases"]}
    except EMBEDDING_ERRORS + (TypeError, AttributeError):
        return None


def compute_projection(run: Run, method: str = "pca", seed: int = 0) -> dict[str, np.ndarray]:
    """Project every phase (aligned to the previous one) and cache it in the run folder. The
    cache is only a shortcut: when it cannot be written (a full disk, a read-only folder) the
    layouts are still returned."""
    from threephase_core.projection import project_phases

    on_disk = run.embedding_phases()
    phases, embs, _, _ = load_run_embeddings(run)
    if not phases:
        return {}
    stamp = _embed_stamp(run, on_disk)
    layouts = project_phases({p: embs[p] for p in phases}, method=method, seed=seed)
    meta = json.dumps(
        {
            "version": PROJECTION_VERSION,
            "method": method,
            "phases": phases,
            "on_disk": on_disk,
            "stamp": stamp,
            "seed": seed,
        }
    )
    folder = run.path / "projections"
    tmp = folder / f".{method}.{os.getpid()}.{threading.get_ident()}.tmp.npz"
    try:
        folder.mkdir(exist_ok=True)
        np.savez(tmp, meta=np.array(meta), **{f"xy_{p}": layouts[p].astype(np.float32) for p in phases})
        os.replace(tmp, projection_file(run, method))
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return layouts


def projection(run: Run, method: str) -> dict[str, np.ndarray]:
    """Cached layouts, else computed now (meant for PCA: instant)."""
    return cached_projection(run, method) or compute_projection(run, method)


def _projection_key(run: Run, method: str) -> tuple:
    """A background projection's identity: the run folder, the method and the phases on disk."""
    return (str(run.path), method, tuple(run.embedding_phases()))


def request_projection(run: Run, method: str = "umap") -> Future:
    """Compute (and cache) a projection in the background; one at a time, deduplicated."""
    global _executor
    key = _projection_key(run, method)
    with _proj_lock:
        fut = _inflight.get(key)
        if fut is not None and (not fut.done() or fut.exception() is None):
            return fut
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1)  # default thread names: not a run worker
        fut = _executor.submit(compute_projection, Run(run.path), method)
        _inflight[key] = fut
        return fut


def ready_projection(run: Run, method: str) -> dict[str, np.ndarray] | None:
    """The layouts to draw: the cache in the run folder, else a finished background computation
    of the same phases (its cache may not have been writable: a read-only folder, a full disk)."""
    cached = cached_projection(run, method)
    if cached is not None:
        return cached
    fut = _inflight.get(_projection_key(run, method))
    if fut is not None and fut.done() and fut.exception() is None and fut.result():
        return fut.result()
    return None


def projection_failure(run: Run, method: str) -> str | None:
    """The error message of a failed background projection of this run, if any."""
    fut = _inflight.get(_projection_key(run, method))
    if fut is not None and fut.done() and fut.exception() is not None:
        return f"{type(fut.exception()).__name__}: {fut.exception()}"
    return None
