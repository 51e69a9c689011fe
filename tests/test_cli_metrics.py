"""The CLI's phase table: each cluster metric with its 95% interval, train-referenced k-NN beside leave-one-out."""

from __future__ import annotations

from types import SimpleNamespace

from threephase_core.cli_report import print_metrics


def _split(acc: float) -> dict:
    return {"accuracy": acc, "f1_macro": acc, "precision_macro": acc, "recall_macro": acc}


def test_phase_table_shows_intervals_and_train_referenced_knn(capsys):
    m = {
        "validation": _split(0.9),
        "test": _split(0.8),
        "ft": {"best_val_acc": 0.9, "best_step": 3},
        "phases": {
            "base": {
                "silhouette": 0.105,
                "silhouette_ci": [0.081, 0.129],
                "knn_acc": 0.81,
                "knn_acc_ci": [0.72, 0.89],
                "knn_train_acc": 0.873,
                "knn_train_ci": [0.797, 0.937],
            },
            "cl": {
                "wall_s": 12.5,
                "silhouette": 0.4,
                "silhouette_ci": [0.35, 0.45],
                "knn_acc": 0.85,
            },  # an older run: no train kNN
        },
    }
    print_metrics(m, SimpleNamespace(path="runs/x"))
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("phase"))
    assert "kNN val [95% CI]" in header and "kNN train [95% CI]" in header
    base = next(line for line in lines if line.startswith("base"))
    assert "0.105 [0.08, 0.13]" in base and "0.810 [0.72, 0.89]" in base and "0.873 [0.80, 0.94]" in base
    cl = next(line for line in lines if line.startswith("cl"))
    assert "12.5" in cl and "0.400 [0.35, 0.45]" in cl and "0.850" in cl and cl.rstrip().endswith("-")
