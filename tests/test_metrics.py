"""Classification metrics against values computed by hand."""

from __future__ import annotations

import json

import pytest

from threephase_core.metrics import classification_metrics

NAMES = ["a", "b", "c"]
Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0]
# class a: predicted at rows 0 and 5, right once -> P 1/2, R 1/2, F 1/2
# class b: predicted at rows 1, 2, 3, right twice -> P 2/3, R 1,   F 4/5
# class c: predicted at row 4, right            -> P 1,   R 1/2, F 2/3


def test_multiclass_by_hand():
    m = classification_metrics(Y_TRUE, Y_PRED, NAMES)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["recall_macro"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["f1_macro"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert m["n"] == 6
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]  # rows: true, columns: predicted
    assert set(m["per_class"]) == set(NAMES)
    assert m["per_class"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1-score": 0.8, "support": 2.0})
    assert m["per_class"]["c"]["f1-score"] == pytest.approx(2 / 3)
    assert "f1_binary" not in m
    json.dumps(m)  # plain JSON values only
    assert all(type(m[k]) is float for k in ("accuracy", "precision_macro", "recall_macro", "f1_macro"))


def test_perfect_and_all_wrong():
    assert classification_metrics([0, 1, 2], [0, 1, 2], NAMES)["f1_macro"] == 1.0
    wrong = classification_metrics([0, 1, 2], [1, 2, 0], NAMES)
    assert wrong["accuracy"] == 0.0 and wrong["f1_macro"] == 0.0


def test_binary_adds_f1_binary():
    # positive class 1: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 0.8
    # class 0: TP 2, FP 1, FN 0 -> P 2/3, R 1, F1 0.8
    m = classification_metrics([0, 1, 1, 0, 1], [0, 1, 0, 0, 1], ["neg", "pos"])
    assert m["f1_binary"] == pytest.approx(0.8)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["f1_macro"] == pytest.approx(0.8)
    assert m["confusion_matrix"] == [[2, 0], [1, 2]]


def test_binary_f1_is_about_class_one():
    m = classification_metrics([0, 0, 0, 1], [0, 0, 0, 0], ["neg", "pos"])
    assert m["f1_binary"] == 0.0
    assert m["accuracy"] == 0.75


def test_confusion_matrix_covers_every_named_class():
    m = classification_metrics([0, 0], [0, 0], ["a", "b", "c", "d"])
    assert m["confusion_matrix"] == [[2, 0, 0, 0]] + [[0, 0, 0, 0]] * 3
    assert set(m["per_class"]) == {"a", "b", "c", "d"}


# ---- per-phase cluster metrics: train-referenced k-NN and bootstrap intervals -------------
import numpy as np  # noqa: E402

from threephase_core.metrics import bootstrap_interval, knn_predict  # noqa: E402
from threephase_core.projection import cluster_quality  # noqa: E402


def _clouds(n_per_class, n_classes, dim=16, spread=1.5, seed=0):
    """Overlapping Gaussian classes (some k-NN votes go wrong)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per_class)
    return (centres[y] + spread * rng.normal(size=(len(y), dim))).astype(np.float32), y


def test_train_referenced_knn_equals_sklearn_classifier():
    """Two classes and k = 5: no vote can tie, so the rule is exactly sklearn's majority vote."""
    from sklearn.neighbors import KNeighborsClassifier

    train, y_train = _clouds(60, 2, seed=1)
    val, y_val = _clouds(40, 2, seed=2)
    expected = (
        KNeighborsClassifier(n_neighbors=5, metric="cosine", algorithm="brute").fit(train, y_train).score(val, y_val)
    )
    q = cluster_quality(val, y_val, reference=train, reference_labels=y_train)
    assert 0.5 < expected < 1.0  # the clouds overlap: the check is not trivial
    assert q["knn_train_acc"] == pytest.approx(expected)


def test_train_referenced_knn_multiclass_against_direct_cosine_ranking():
    """Seven classes, ties possible: the nearest tied neighbour's label wins, computed by hand."""
    train, y_train = _clouds(20, 7, seed=3)
    val, y_val = _clouds(10, 7, seed=4)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    order = np.argsort(-(unit(val) @ unit(train).T), axis=1, kind="stable")[:, :5]
    expected = []
    for row in y_train[order]:
        votes = {c: list(row).count(c) for c in row}
        best = max(votes.values())
        expected.append(next(c for c in row if votes[c] == best))
    np.testing.assert_array_equal(knn_predict(val, train, y_train, 5), expected)
    q = cluster_quality(val, y_val, reference=train, reference_labels=y_train)
    assert q["knn_train_acc"] == pytest.approx(np.mean(np.array(expected) == y_val))


def test_bootstrap_interval_against_a_direct_resampling():
    """79 texts with 64 right (the demo's validation size at 0.81): the interval agrees with
    20,000 resamples drawn by hand and with the normal approximation of a binomial."""
    right = np.array([1.0] * 64 + [0.0] * 15)
    low, high = bootstrap_interval(right)
    means = np.random.default_rng(7).choice(right, size=(20_000, len(right))).mean(axis=1)
    assert low == pytest.approx(np.percentile(means, 2.5), abs=0.015)
    assert high == pytest.approx(np.percentile(means, 97.5), abs=0.015)
    p, half = right.mean(), 1.96 * np.sqrt(right.mean() * (1 - right.mean()) / len(right))
    assert low == pytest.approx(p - half, abs=0.02) and high == pytest.approx(p + half, abs=0.02)
    assert bootstrap_interval(right) == [low, high]  # seeded
    assert bootstrap_interval(np.ones(5)) == [1.0, 1.0]
    assert all(np.isnan(bootstrap_interval([0.3])))


def test_cluster_quality_intervals_and_per_class_silhouette_against_sklearn():
    from sklearn.metrics import silhouette_samples
    from sklearn.neighbors import NearestNeighbors

    x, y = _clouds(30, 3, seed=5)
    q = cluster_quality(x, y, label_names=["alpha", "beta", "gamma"])
    per_row = silhouette_samples(x, y, metric="cosine")
    assert q["silhouette"] == pytest.approx(per_row.mean())
    assert q["silhouette_per_class"] == pytest.approx(
        {n: per_row[y == c].mean() for c, n in enumerate(["alpha", "beta", "gamma"])}
    )
    assert q["silhouette_ci"] == pytest.approx(bootstrap_interval(per_row))
    assert q["silhouette_ci"][0] < q["silhouette"] < q["silhouette_ci"][1]
    # Leave-one-out: each text's 5 nearest others (sklearn drops the query itself), majority vote.
    neigh = y[NearestNeighbors(n_neighbors=5, metric="cosine").fit(x).kneighbors(return_distance=False)]
    loo = knn_predict(x, x, y, 5, leave_one_out=True)
    assert all(np.bincount(row, minlength=3)[p] == np.bincount(row).max() for row, p in zip(neigh, loo))
    right = loo == y
    assert q["knn_acc"] == pytest.approx(right.mean()) and q["knn_acc_ci"] == pytest.approx(bootstrap_interval(right))
    assert "knn_train_acc" not in q  # no reference given
