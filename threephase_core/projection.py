"""2-D projections of sentence embeddings per training phase, and cluster quality.

Why: the workbench shows what each phase (base -> DAE -> CL -> joint -> FT) does to
the embedding space of the same validation texts. PCA is the instant preview; UMAP
(umap-learn, cosine metric) the detailed map. Successive phases are laid out
comparably: same seed, UMAP initialised from the previous phase's layout, and each
layout Procrustes-aligned onto the previous one.

The first UMAP fit in a process spends 15-45 s compiling numba code, so
``warm_up_umap()`` does a tiny fit in a daemon thread at start-up (numba's on-disk
cache helps later processes). The k-NN graph is computed exactly with sklearn and
handed to umap (avoids umap's slow small-data path and pynndescent's compile). ``umap`` is
imported lazily (its import alone takes seconds) so that importing this module is instant.
BLAS threads are limited during projection work: with training running in the same process, multi-threaded BLAS on
busy cores made PCA 50-100x slower.
"""

from __future__ import annotations

import logging
import threading
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)

PHASE_ORDER = ("base", "dae", "cl", "joint", "ft")
_BLAS_THREADS = 1
_SILHOUETTE_MAX_ROWS = 5000
_EXACT_KNN_MAX = 10_000  # above this, umap's own pynndescent k-NN

_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None
_warm_done = False  # warm-up attempted to the end (success or failure)
_umap_warm = False  # a UMAP fit has completed in this process


def _check_2d(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (n, d), got shape {x.shape}")
    return x


def pca_2d(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """PCA to 2-D of the L2-normalised rows (cosine geometry); exact SVD, fixed signs.

    ``seed`` is accepted for API symmetry (the result does not depend on it).
    """
    x = _check_2d(embeddings).astype(np.float64)
    n = x.shape[0]
    out = np.zeros((n, 2), dtype=np.float32)
    if n < 2:
        return out
    with threadpool_limits(limits=_BLAS_THREADS, user_api="blas"):
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        xc = x / np.where(norms > 0, norms, 1.0)
        xc = xc - xc.mean(axis=0)
        _, _, vt = np.linalg.svd(xc, full_matrices=False)
        comps = vt[:2]
        # Sign convention: the largest-magnitude loading of each component is positive.
        signs = np.sign(comps[np.arange(len(comps)), np.argmax(np.abs(comps), axis=1)])
        comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
        proj = xc @ comps.T
    out[:, : proj.shape[1]] = proj
    return out


def _exact_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine k-NN (self included, as umap expects) via BLAS."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(x)
    dist, ind = nn.kneighbors(x)
    return ind.astype(np.int32), np.maximum(dist, 0.0).astype(np.float32)


def _fit_umap(x: np.ndarray, seed: int, n_neighbors: int, init) -> np.ndarray:
    """UMAP fit_transform (cosine); exact k-NN handed in for n <= _EXACT_KNN_MAX.

    umap's small-data path (n < 4096) calls its numba cosine from Python per pair
    (~5 s for 2,000 rows) and its pynndescent path compiles for ~40 s; sklearn's
    brute-force k-NN takes 0.1 s for 2,000 rows and 0.6 s for 5,000.
    """
    import umap  # lazy: slow import

    kw = {}
    if x.shape[0] <= _EXACT_KNN_MAX:
        kw["precomputed_knn"] = _exact_knn(x, n_neighbors)
        # Without a search index umap warns that transform() is unavailable; not needed.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
    model = umap.UMAP(
        n_components=2,
        n_neighbors=n_neighbors,
        metric="cosine",
        init=init,
        random_state=seed,
        n_jobs=1,
        low_memory=True,
        **kw,
    )
    with threadpool_limits(limits=_BLAS_THREADS, user_api="blas"):
        return np.asarray(model.fit_transform(x), dtype=np.float32)


def umap_2d(
    embeddings: np.ndarray, seed: int = 0, init: np.ndarray | None = None, n_neighbors: int = 15
) -> np.ndarray:
    """UMAP to 2-D with the cosine metric; ``init`` (n, 2) is used as the initial layout.

    n_neighbors is clipped to n - 1; fewer than 4 rows fall back to PCA.
    """
    global _umap_warm
    x = _check_2d(embeddings).astype(np.float32)
    if (n := x.shape[0]) < 4:
        return pca_2d(x, seed)
    init_arg = "spectral"
    if init is not None:
        init_arr = np.asarray(init, dtype=np.float64)
        if init_arr.shape != (n, 2):
            raise ValueError(f"init must have shape ({n}, 2), got {init_arr.shape}")
        # umap rescales init per axis; a constant axis would divide by zero.
        if np.all(np.isfinite(init_arr)) and np.all(np.ptp(init_arr, axis=0) > 0):
            init_arg = init_arr
    layout = _fit_umap(x, seed, int(max(2, min(n_neighbors, n - 1))), init_arg)
    _umap_warm = True
    return layout


def align_to(reference: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """Least-squares map of ``layout`` onto ``reference``: rotation/reflection, scale, shift."""
    from scipy.linalg import orthogonal_procrustes

    ref = np.asarray(reference, dtype=np.float64)
    lay = np.asarray(layout, dtype=np.float64)
    if ref.shape != lay.shape or ref.ndim != 2:
        raise ValueError(f"reference and layout shapes differ: {ref.shape} vs {lay.shape}")
    mu_r = ref.mean(axis=0)
    r0, l0 = ref - mu_r, lay - lay.mean(axis=0)
    norm = float((l0**2).sum())
    if norm == 0.0 or not np.isfinite(norm):
        return (l0 + mu_r).astype(np.float32)
    rot, sv_sum = orthogonal_procrustes(l0, r0)
    return (sv_sum / norm * l0 @ rot + mu_r).astype(np.float32)


def _standardise(layout: np.ndarray) -> np.ndarray:
    centred = layout - layout.mean(axis=0)
    std = centred.std(axis=0)
    return centred / np.where(std > 0, std, 1.0)


def project_phases(embeddings: dict[str, np.ndarray], method: str = "umap", seed: int = 0) -> dict[str, np.ndarray]:
    """2-D layouts per phase (dict order), each Procrustes-aligned to the previous one.

    For UMAP the previous (standardised) layout is also the initial layout.
    """
    if method not in ("umap", "pca"):
        raise ValueError(f"unknown projection method {method!r}; expected 'umap' or 'pca'")
    rows = {name: _check_2d(e).shape[0] for name, e in embeddings.items()}
    if len(set(rows.values())) > 1:
        raise ValueError(f"all phases must have the same number of rows, got {rows}")
    out: dict[str, np.ndarray] = {}
    prev: np.ndarray | None = None
    for name, emb in embeddings.items():
        if method == "pca":
            layout = pca_2d(emb, seed)
        else:
            layout = umap_2d(emb, seed=seed, init=None if prev is None else _standardise(prev))
        out[name] = prev = layout if prev is None else align_to(prev, layout)
    return out


def cluster_quality(
    embeddings: np.ndarray,
    labels: np.ndarray,
    k: int = 5,
    reference: np.ndarray | None = None,
    reference_labels: np.ndarray | None = None,
    label_names: list[str] | None = None,
) -> dict:
    """How well the classes cluster in one phase's validation embeddings (cosine throughout).

    - ``silhouette`` (<= 5,000 seeded rows), with ``silhouette_per_class`` (the mean silhouette
      of each class's rows, keyed by class name) and ``silhouette_ci``;
    - ``knn_acc``: leave-one-out k-NN accuracy among the validation texts, ``knn_acc_ci``;
    - with `reference` (the training texts' embeddings of the same phase): ``knn_train_acc``,
      the k-NN accuracy of each validation text voted by its k nearest training texts, and
      ``knn_train_ci``. Its neighbourhoods are those of the data the phase trained on, and it
      does not lose a neighbour to the query as leave-one-out on few texts does.
    Each ``*_ci`` is the 95% bootstrap interval of the mean over the validation texts
    (`metrics.bootstrap_interval`): a change between phases inside both intervals may be noise.
    k-NN majority-vote ties go to the label of the nearest tied neighbour (`metrics.knn_predict`).
    """
    from sklearn.metrics import silhouette_samples

    from threephase_core.metrics import bootstrap_interval, knn_predict

    x = _check_2d(embeddings).astype(np.float32)
    raw = np.asarray(labels).ravel()
    y = np.unique(raw, return_inverse=True)[1].ravel()
    if y.shape[0] != (n := x.shape[0]):
        raise ValueError(f"{n} embeddings but {y.shape[0]} labels")
    nan = float("nan")
    result: dict = {
        "silhouette": nan,
        "knn_acc": nan,
        "silhouette_ci": [nan, nan],
        "knn_acc_ci": [nan, nan],
        "silhouette_per_class": {},
    }
    with threadpool_limits(limits=_BLAS_THREADS, user_api="blas"):
        if n > k and len(np.unique(y)) >= 2:
            idx = np.arange(n)
            if n > _SILHOUETTE_MAX_ROWS:
                idx = np.sort(np.random.default_rng(0).choice(n, _SILHOUETTE_MAX_ROWS, replace=False))
            if 2 <= len(np.unique(y[idx])) <= len(idx) - 1:
                per_row = silhouette_samples(x[idx], y[idx], metric="cosine")
                result["silhouette"] = float(per_row.mean())
                result["silhouette_ci"] = bootstrap_interval(per_row)
                result["silhouette_per_class"] = {
                    _class_name(c, label_names): float(per_row[raw[idx] == c].mean()) for c in np.unique(raw[idx])
                }
        kk = min(k, n - 1)
        if kk >= 1:
            right = knn_predict(x, x, y, kk, leave_one_out=True) == y
            result["knn_acc"], result["knn_acc_ci"] = float(right.mean()), bootstrap_interval(right)
        if reference is not None:
            ref = _check_2d(reference).astype(np.float32)
            ref_labels = np.asarray(reference_labels).ravel()
            if len(ref_labels) != len(ref):
                raise ValueError(f"{len(ref)} reference embeddings but {len(ref_labels)} labels")
            result["knn_train_acc"], result["knn_train_ci"] = nan, [nan, nan]
            if len(ref) and n:
                right = knn_predict(x, ref, ref_labels, min(k, len(ref))) == raw
                result["knn_train_acc"], result["knn_train_ci"] = float(right.mean()), bootstrap_interval(right)
    return result


def _class_name(label, names: list[str] | None) -> str:
    """A class's key in the per-class table: its name when `names` lists it, else the label."""
    if names is not None and isinstance(label, (int, np.integer)) and 0 <= int(label) < len(names):
        return str(names[int(label)])
    return str(label)


def _warm_up() -> None:
    global _warm_done, _umap_warm
    try:
        x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
        # Same code path as umap_2d: spectral init, then an array init.
        layout = _fit_umap(x, 0, 15, "spectral")
        _fit_umap(x, 0, 15, _standardise(layout))
        _umap_warm = True
    except Exception as exc:  # never raise from the warm-up
        logger.warning("UMAP warm-up failed: %s", exc)
    finally:
        _warm_done = True


def warm_up_umap(background: bool = True) -> threading.Thread | None:
    """Compile UMAP's numba code once (idempotent); returns the daemon thread, or None.

    A second call returns the running thread, or None once the warm-up has finished.
    With ``background=False`` it waits for the warm-up to finish and returns None.
    """
    global _warm_thread
    with _warm_lock:
        if _warm_done or _umap_warm:
            return None
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_warm_up, name="umap-warm-up", daemon=True)
            _warm_thread.start()
        thread = _warm_thread
    if background:
        return thread
    thread.join()
    return None


def is_umap_warm() -> bool:
    """True once a UMAP fit (the warm-up or a real one) has completed in this process."""
    return _umap_warm
