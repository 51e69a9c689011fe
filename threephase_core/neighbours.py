"""Neighbourhoods in the full embedding space: who is near whom after each phase, and how that changed.

Why: a 2-D map distorts distances, so what the Embeddings page says about a text's neighbours,
its drift between phases and the classes' geometry is computed here on the saved embeddings
themselves, with cosine similarity (the geometry the phases train). Plain arrays in, plain arrays
or data frames out: no run folders, no Streamlit (``inspection.py`` caches these per run).

- `nearest`: the k nearest neighbours of every text (or of some), the text itself left out.
- `neighbour_majority`, `same_class_share`: what a text's neighbours say about its class.
- `drift`, `moved_most`, `joined_class`: how a text's neighbourhood changed between two phases.
- `per_class_silhouette`, `centroid_distances`, `class_distances_across_phases`: per-class geometry.

Not handled here: approximate search. The exact search (sklearn's brute-force cosine, chunked)
takes about a second for 5,000 texts on one core, which the per-run cache pays once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

BLAS_THREADS = 1  # projection work shares the cores with training (see projection.py)
SILHOUETTE_MAX_ROWS = 5000  # silhouette is O(n^2) in memory: a seeded sample above this


def _matrix(embeddings) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (n, d), got shape {x.shape}")
    return x


def nearest(embeddings, k: int, rows=None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, similarities), each (len(rows), k): the k most cosine-similar texts of each
    query row, most similar first, the query itself left out (a duplicate text still counts).

    ``rows`` (default: every row) are the queries; k is clipped to n - 1.
    """
    from sklearn.neighbors import NearestNeighbors

    x = _matrix(embeddings)
    n = x.shape[0]
    k = int(min(k, n - 1))
    query = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64).ravel()
    if k < 1 or len(query) == 0:
        return np.zeros((len(query), max(k, 0)), dtype=np.int64), np.zeros((len(query), max(k, 0)), dtype=np.float32)
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(x)
        if rows is None:  # X=None: sklearn leaves each point out of its own neighbours
            dist, ind = index.kneighbors()
        else:
            dist, ind = index.kneighbors(x[query], n_neighbors=k + 1)
            # Drop the query itself; when a duplicate pushed it out of the k + 1, drop the last.
            own = ind == query[:, None]
            drop = np.where(own.any(axis=1), own.argmax(axis=1), k)
            keep = np.ones_like(own)
            keep[np.arange(len(query)), drop] = False
            ind, dist = ind[keep].reshape(len(query), k), dist[keep].reshape(len(query), k)
    return ind.astype(np.int64), (1.0 - dist).astype(np.float32)


def neighbour_majority(indices: np.ndarray, labels) -> np.ndarray:
    """The most common class among each row's neighbours; a tie goes to the class of the
    nearest tied neighbour (the rule of `projection.cluster_quality`'s kNN accuracy)."""
    y = np.asarray(labels)
    ind = np.asarray(indices)
    if ind.size == 0:
        return np.full(ind.shape[0], -1, dtype=np.int64)
    neigh = y[ind]
    counts = np.zeros((ind.shape[0], int(y.max()) + 1), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(ind.shape[0]), ind.shape[1]), neigh.ravel()), 1)
    tied = counts[np.arange(ind.shape[0])[:, None], neigh] == counts.max(axis=1, keepdims=True)
    return neigh[np.arange(ind.shape[0]), tied.argmax(axis=1)].astype(np.int64)


def same_class_share(indices: np.ndarray, labels, rows=None) -> np.ndarray:
    """Share of each row's neighbours that have the row's own class (``rows``: the query rows
    of ``indices``, default all)."""
    y = np.asarray(labels)
    ind = np.asarray(indices)
    own = y if rows is None else y[np.asarray(rows, dtype=np.int64)]
    if ind.shape[1] == 0:
        return np.full(ind.shape[0], np.nan)
    return (y[ind] == own[:, None]).mean(axis=1)


def drift(before: np.ndarray, after: np.ndarray, labels) -> pd.DataFrame:
    """How each text's neighbourhood changed between two phases, from the two phases'
    neighbour indices (same rows, same k, as `nearest` returns them).

    Columns: ``replaced`` (share of the k neighbours after that were not neighbours before,
    0 = same neighbourhood, 1 = all new), ``same_before`` / ``same_after`` (share of neighbours of
    the text's own class) and ``gain`` (same_after - same_before).
    """
    a, b = np.asarray(before), np.asarray(after)
    if a.shape != b.shape:
        raise ValueError(f"the two phases' neighbour tables differ in shape: {a.shape} vs {b.shape}")
    k = a.shape[1]
    kept = (b[:, :, None] == a[:, None, :]).any(axis=2).sum(axis=1) if k else np.zeros(len(a))
    before_share, after_share = same_class_share(a, labels), same_class_share(b, labels)
    return pd.DataFrame(
        {
            "replaced": 1.0 - kept / k if k else np.full(len(a), np.nan),
            "same_before": before_share,
            "same_after": after_share,
            "gain": after_share - before_share,
        }
    )


def moved_most(table: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The n texts whose neighbourhood changed most (most neighbours replaced; then the larger
    change of same-class share either way), from `drift`'s table (its index = row ids)."""
    order = table.assign(_abs_gain=table["gain"].abs()).sort_values(
        ["replaced", "_abs_gain"], ascending=False, kind="stable"
    )
    return order.drop(columns="_abs_gain").head(n)


def joined_class(table: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The n texts that joined their class most: the largest rise of same-class neighbours
    (only texts whose share rose), from `drift`'s table."""
    risen = table[table["gain"] > 0]
    return risen.sort_values(["gain", "same_after"], ascending=False, kind="stable").head(n)


def _sample(n: int, cap: int, seed: int = 0) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def per_class_silhouette(embeddings, labels, n_classes: int, max_rows: int = SILHOUETTE_MAX_ROWS) -> np.ndarray:
    """Mean cosine silhouette of each class's texts (length n_classes; NaN for a class with no
    text, or when fewer than two classes are present). Above ``max_rows`` texts, a seeded sample
    (seed 0, as `projection.cluster_quality` draws it)."""
    from sklearn.metrics import silhouette_samples

    x = _matrix(embeddings)
    y = np.asarray(labels, dtype=np.int64)
    out = np.full(n_classes, np.nan)
    idx = _sample(len(y), max_rows)
    xs, ys = x[idx], y[idx]
    present = np.unique(ys)
    if not 2 <= len(present) <= len(ys) - 1:
        return out
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        s = silhouette_samples(xs, ys, metric="cosine")
    for c in present:
        out[c] = float(s[ys == c].mean())
    return out


def centroids(embeddings, labels, n_classes: int) -> np.ndarray:
    """(n_classes, d) mean of each class's L2-normalised embeddings (NaN rows for absent classes)."""
    x = _matrix(embeddings).astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    y = np.asarray(labels, dtype=np.int64)
    out = np.full((n_classes, x.shape[1]), np.nan)
    for c in np.unique(y):
        out[c] = x[y == c].mean(axis=0)
    return out


def centroid_distances(embeddings, labels, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) cosine distance (1 - cosine similarity) between class centroids
    (`centroids`); NaN where a class has no text."""
    c = centroids(embeddings, labels, n_classes)
    norms = np.linalg.norm(c, axis=1, keepdims=True)
    unit = c / np.where(norms > 0, norms, 1.0)
    d = 1.0 - unit @ unit.T
    np.fill_diagonal(d, np.where(np.isnan(np.diag(d)), np.nan, 0.0))
    return d


def class_distances_across_phases(
    embeddings: dict[str, np.ndarray], labels, cls: int, names: list[str]
) -> pd.DataFrame:
    """Cosine distance from class ``cls``'s centroid to every other class's centroid, one row per
    phase (in the dict's order), one column per other class (named by ``names``)."""
    rows = {phase: centroid_distances(emb, labels, len(names))[cls] for phase, emb in embeddings.items()}
    frame = pd.DataFrame(rows, index=names).T
    return frame.drop(columns=names[cls])


__all__ = [
    "centroid_distances",
    "centroids",
    "class_distances_across_phases",
    "drift",
    "joined_class",
    "moved_most",
    "nearest",
    "neighbour_majority",
    "per_class_silhouette",
    "same_class_share",
]
