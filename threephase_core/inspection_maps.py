"""Maps with training texts: each phase's 2-D layout fitted on validation and training texts together.

Why: the Embeddings page can show training texts beside validation texts (faded), so a person
sees whether what CL does to the texts it trained on carries over to unseen ones. The validation
maps (`workbench.projections`) are fitted on validation texts alone; these are fitted on the
"both" view's points (`inspection.load_points(run, "both")`: validation, then training), each
phase aligned to the previous one as the validation maps are, and cached in the run folder:

    projections/<method>_with_training.npz

The training-only view uses the same layouts (its rows), so switching between training and both
keeps every point where it was. UMAP runs in one background thread (PCA at once).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from threephase_core.inspection import CACHE_VERSION, READ_ERRORS, load_points, save_cache
from threephase_core.runstore import Run


def training_projection_file(run: Run, method: str) -> Path:
    return run.path / "projections" / f"{method}_with_training.npz"


def _meta(points, method: str, seed: int) -> str:
    return json.dumps({"version": CACHE_VERSION, "method": method, "stamp": points.stamp, "seed": seed})


def cached_training_projection(run: Run, method: str, seed: int = 0) -> dict[str, np.ndarray] | None:
    """The cached layouts of the "both" view if they match the embeddings on disk, else None."""
    points = load_points(run, "both")
    try:
        with np.load(training_projection_file(run, method), allow_pickle=False) as z:
            if str(z["meta"]) == _meta(points, method, seed):
                return {p: z[f"xy_{p}"] for p in points.phases}
    except READ_ERRORS:
        pass
    return None


def compute_training_projection(run: Run, method: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Layouts {phase: (n, 2)} of the "both" view's points (validation, then training), each
    phase's map fitted on both together and aligned to the previous phase's (as the validation
    maps are); cached in the run folder."""
    from threephase_core.projection import project_phases

    points = load_points(run, "both")
    if points.view != "both" or not points.phases:
        return {}
    cached = cached_training_projection(run, method, seed)
    if cached is not None:
        return cached
    layouts = project_phases({p: points.embeddings[p] for p in points.phases}, method=method, seed=seed)
    xy = {f"xy_{p}": layout.astype(np.float32) for p, layout in layouts.items()}
    save_cache(training_projection_file(run, method), meta=np.array(_meta(points, method, seed)), **xy)
    return layouts


_executor: ThreadPoolExecutor | None = None
_jobs: dict[tuple, Future] = {}
_jobs_lock = threading.Lock()


def _job_key(run: Run, method: str) -> tuple:
    return (str(run.path), method, load_points(run, "both").stamp)


def request_training_projection(run: Run, method: str) -> Future:
    """`compute_training_projection` in a background thread (one at a time, deduplicated; a
    failed one is retried on the next request)."""
    global _executor
    key = _job_key(run, method)
    with _jobs_lock:
        fut = _jobs.get(key)
        if fut is not None and (not fut.done() or fut.exception() is None):
            return fut
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1)
        fut = _jobs[key] = _executor.submit(compute_training_projection, Run(run.path), method)
        return fut


def training_projection(run: Run, method: str, start: bool = True) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """(layouts, failure): the layouts of the "both" view, or None while they are computed in
    the background (PCA is computed at once); failure is the error of a failed computation.
    With ``start=False`` nothing new is started: only the cache or a job already asked for answer."""
    if method == "pca":
        return compute_training_projection(run, "pca"), None
    fut = _jobs.get(_job_key(run, method))
    if fut is None:
        cached = cached_training_projection(run, method)
        if cached is not None or not start:
            return cached, None
        fut = request_training_projection(run, method)
    if not fut.done():
        return None, None
    if fut.exception() is not None:
        return None, f"{type(fut.exception()).__name__}: {fut.exception()}"
    return fut.result(), None


def shutdown() -> None:
    """Wait for the background projection under way, drop the others (tests call this at the end)."""
    global _executor
    with _jobs_lock:
        ex, _executor = _executor, None
        _jobs.clear()
    if ex is not None:
        ex.shutdown(wait=True, cancel_futures=True)


__all__ = [
    "cached_training_projection",
    "compute_training_projection",
    "request_training_projection",
    "shutdown",
    "training_projection",
    "training_projection_file",
]
