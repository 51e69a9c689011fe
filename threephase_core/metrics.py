"""Classification metrics with scikit-learn: accuracy, macro P/R/F1 (binary F1 for two
classes), per-class report and confusion matrix, as plain JSON-able values; the paired test
the Results page and bench/accuracy.py use to compare recipes over seeds; and the pieces of
the per-phase cluster metrics (`projection.cluster_quality`): cosine k-NN predictions against
a reference set and a bootstrap interval of a mean. scikit-learn and scipy are imported inside
the functions: they take seconds to import, and the workbench's pages import this module to draw."""

from __future__ import annotations

import numpy as np


def classification_metrics(y_true, y_pred, label_names: list[str]) -> dict:
    from sklearn.metrics import (
        accuracy_score,
        classification_report,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(len(label_names)))
    # Macro averages over the classes that occur (in truth or prediction): a class absent from
    # a small split would otherwise count as a zero and drag the average down.
    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro", zero_division=0)
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(p),
        "recall_macro": float(r),
        "f1_macro": float(f),
        "n": int(len(y_true)),
        "per_class": {
            name: {k: float(v) for k, v in stats.items()}
            for name, stats in classification_report(
                y_true, y_pred, labels=labels, target_names=label_names, output_dict=True, zero_division=0
            ).items()
            if name in label_names
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    if len(label_names) == 2:
        out["f1_binary"] = float(f1_score(y_true, y_pred, average="binary", pos_label=1, zero_division=0))
    return out


def level_metrics(hierarchy, truth: dict, predicted: dict) -> dict:
    """`classification_metrics` at every label level, keyed by level name (top first), each with
    its `level` number (1 = top) and one entry per split of `truth`/`predicted` (finest-class
    ids). A coarser level is scored on the ancestors of the finest predictions: a prediction
    under the right parent is right at the parent's level, so no separate coarse model is needed."""
    out = {}
    for level, name in enumerate(hierarchy.level_names, 1):
        entry: dict = {"level": level, "classes": len(hierarchy.names[level - 1])}
        for split, y_true in truth.items():
            entry[split] = classification_metrics(
                hierarchy.at_level(y_true, level),
                hierarchy.at_level(predicted[split], level),
                hierarchy.names[level - 1],
            )
        out[name] = entry
    return out


def paired_p(x, y) -> float:
    """The paired t-test's p-value of x vs y, or NaN when it means nothing: one pair, or
    differences that are all equal. Scores move in steps of 1/test rows, so equal per-seed gaps
    are common; their spread is then rounding noise, and t-test would report p ~ 0."""
    from scipy import stats

    d = np.round(np.asarray(x, float) - np.asarray(y, float), 9)
    if len(d) < 2 or np.all(d == d[0]):
        return float("nan")
    return float(stats.ttest_rel(x, y).pvalue)


def knn_predict(queries, reference, reference_labels, k: int = 5, leave_one_out: bool = False) -> np.ndarray:
    """Majority label of each query's k nearest reference rows (cosine, exact). A tie goes to
    the label of the nearest tied neighbour. With `leave_one_out` the queries are the reference
    rows themselves and each row's own entry is left out of its neighbours."""
    from sklearn.neighbors import NearestNeighbors

    y = np.asarray(reference_labels)
    nn = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(reference)
    neigh = y[nn.kneighbors(None if leave_one_out else queries, return_distance=False)]
    n = neigh.shape[0]
    classes, codes = np.unique(neigh, return_inverse=True)
    codes = codes.reshape(neigh.shape)
    counts = np.zeros((n, len(classes)), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n), k), codes.ravel()), 1)
    tied = counts[np.arange(n)[:, None], codes] == counts.max(axis=1, keepdims=True)
    return neigh[np.arange(n), tied.argmax(axis=1)]


def bootstrap_interval(values, confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0) -> list[float]:
    """[low, high]: the percentile bootstrap interval of the mean of `values` (one value per
    text: 1/0 for a right/wrong k-NN vote, a silhouette value), resampling the texts
    (scipy.stats.bootstrap). It says how far the mean could move with another draw of texts
    of the same size: 79 validation texts put a 0.81 k-NN accuracy at about +-0.09. NaN for
    fewer than two values; [v, v] when all values are equal (no spread to resample)."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return [float("nan"), float("nan")]
    if np.all(v == v[0]):
        return [float(v[0]), float(v[0])]
    res = stats.bootstrap(
        (v,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]
