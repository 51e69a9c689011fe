"""Classification metrics with scikit-learn: accuracy, macro P/R/F1 (binary F1 for two
classes), per-class report and confusion matrix, as plain JSON-able values; and the paired
test the Results page and bench/accuracy.py use to compare recipes over seeds."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(y_true, y_pred, label_names: list[str]) -> dict:
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


def paired_p(x, y) -> float:
    """The paired t-test's p-value of x vs y, or NaN when it means nothing: one pair, or
    differences that are all equal. Scores move in steps of 1/test rows, so equal per-seed gaps
    are common; their spread is then rounding noise, and t-test would report p ~ 0."""
    from scipy import stats

    d = np.round(np.asarray(x, float) - np.asarray(y, float), 9)
    if len(d) < 2 or np.all(d == d[0]):
        return float("nan")
    return float(stats.ttest_rel(x, y).pvalue)
