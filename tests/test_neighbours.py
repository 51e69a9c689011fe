"""neighbours.py against direct numpy computations on small random embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import silhouette_samples

from threephase_core import neighbours as nb


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def direct_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of every pair, the row itself excluded, sorted descending."""
    s = unit(x.astype(np.float64)) @ unit(x.astype(np.float64)).T
    np.fill_diagonal(s, -np.inf)
    ind = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return ind, np.take_along_axis(s, ind, axis=1)


@pytest.fixture
def points():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=60)
    return x, y


def test_nearest_matches_direct_cosine(points):
    x, _ = points
    ind, sim = nb.nearest(x, 5)
    want_ind, want_sim = direct_knn(x, 5)
    assert np.array_equal(ind, want_ind)
    assert np.allclose(sim, want_sim, atol=1e-5)


def test_nearest_for_some_rows_equals_the_full_table(points):
    x, _ = points
    full, _ = nb.nearest(x, 4)
    rows = [7, 0, 59]
    some, _ = nb.nearest(x, 4, rows=rows)
    assert np.array_equal(some, full[rows])


def test_nearest_leaves_out_the_query_even_with_a_duplicate_text():
    x = np.array([[1, 0], [1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)  # rows 0 and 1 are the same text
    ind, sim = nb.nearest(x, 2, rows=[0, 1])
    assert 0 not in ind[0] and 1 in ind[0]
    assert 1 not in ind[1] and 0 in ind[1]
    assert np.allclose(sim[:, 0], 1.0)


def test_k_is_clipped_to_the_other_rows():
    x = np.eye(3, dtype=np.float32)
    ind, _ = nb.nearest(x, 10)
    assert ind.shape == (3, 2)
    assert all(i not in row for i, row in enumerate(ind))


def test_majority_and_same_class_share(points):
    x, y = points
    ind, _ = nb.nearest(x, 5)
    majority = nb.neighbour_majority(ind, y)
    share = nb.same_class_share(ind, y)
    for i in range(len(y)):
        labels = y[ind[i]]
        counts = np.bincount(labels, minlength=3)
        winners = np.flatnonzero(counts == counts.max())
        first_winner = next(c for c in labels if c in winners)  # the nearest tied neighbour's class
        assert majority[i] == first_winner
        assert share[i] == pytest.approx(np.mean(labels == y[i]))


def test_majority_tie_goes_to_the_nearest_tied_neighbour():
    labels = np.array([0, 1, 1, 0, 2])
    ind = np.array([[3, 1, 2, 0]])  # classes 0, 1, 1, 0: a tie between 0 and 1, nearest is class 0
    assert nb.neighbour_majority(ind, labels).tolist() == [0]


def test_drift_equals_a_direct_computation(points):
    x, y = points
    rng = np.random.default_rng(1)
    x2 = x + rng.normal(scale=0.8, size=x.shape).astype(np.float32)
    a, _ = nb.nearest(x, 6)
    b, _ = nb.nearest(x2, 6)
    table = nb.drift(a, b, y)
    for i in range(len(y)):
        replaced = len(set(b[i]) - set(a[i])) / 6
        assert table.loc[i, "replaced"] == pytest.approx(replaced)
        assert table.loc[i, "same_before"] == pytest.approx(np.mean(y[a[i]] == y[i]))
        assert table.loc[i, "same_after"] == pytest.approx(np.mean(y[b[i]] == y[i]))
    assert np.allclose(table["gain"], table["same_after"] - table["same_before"])
    assert nb.drift(a, a, y)["replaced"].eq(0).all()


def test_moved_most_and_joined_class_order():
    table = pd.DataFrame(
        {"replaced": [0.2, 1.0, 1.0, 0.0], "same_before": [0.5, 0.0, 0.4, 0.2], "same_after": [1.0, 0.2, 0.4, 0.0]}
    )
    table["gain"] = table["same_after"] - table["same_before"]
    assert nb.moved_most(table, 3).index.tolist() == [1, 2, 0]  # ties on replaced: the larger |gain| first
    joined = nb.joined_class(table)
    assert joined.index.tolist() == [0, 1]  # only rises, largest first
    assert (joined["gain"] > 0).all()


def test_per_class_silhouette_matches_sklearn(points):
    x, y = points
    got = nb.per_class_silhouette(x, y, n_classes=4)
    s = silhouette_samples(x, y, metric="cosine")
    for c in range(3):
        assert got[c] == pytest.approx(s[y == c].mean(), abs=1e-6)
    assert np.isnan(got[3])  # no text of class 3


def test_per_class_silhouette_samples_above_the_cap(points):
    x, y = points
    got = nb.per_class_silhouette(x, y, n_classes=3, max_rows=40)
    idx = np.sort(np.random.default_rng(0).choice(60, 40, replace=False))
    s = silhouette_samples(x[idx], y[idx], metric="cosine")
    assert got[1] == pytest.approx(s[y[idx] == 1].mean(), abs=1e-6)


def test_centroid_distances_match_a_direct_computation(points):
    x, y = points
    d = nb.centroid_distances(x, y, n_classes=4)
    u = unit(x.astype(np.float64))
    for i in range(3):
        for j in range(3):
            ci, cj = u[y == i].mean(0), u[y == j].mean(0)
            want = 1 - ci @ cj / np.linalg.norm(ci) / np.linalg.norm(cj)
            assert d[i, j] == pytest.approx(want, abs=1e-9)
    assert np.isnan(d[3]).all() and np.isnan(d[:, 3]).all()
    assert np.allclose(d, d.T, equal_nan=True)


def test_class_distances_across_phases(points):
    x, y = points
    names = ["a", "b", "c"]
    frame = nb.class_distances_across_phases({"base": x, "cl": x * 2 + 1}, y, 1, names)
    assert list(frame.index) == ["base", "cl"] and list(frame.columns) == ["a", "c"]
    assert frame.loc["base", "c"] == pytest.approx(nb.centroid_distances(x, y, 3)[1, 2])
    assert frame.loc["cl", "a"] == pytest.approx(nb.centroid_distances(x * 2 + 1, y, 3)[1, 0])


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="2-D"):
        nb.nearest(np.zeros(5), 2)
    with pytest.raises(ValueError, match="differ in shape"):
        nb.drift(np.zeros((3, 2), int), np.zeros((3, 3), int), np.zeros(3, int))
