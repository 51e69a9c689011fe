"""Accuracy against label budget, from the runs folder: where does each recipe pay off?

Runs of one dataset and model (the same data apart from the label budget: `curve_key`) are
grouped by budget and recipe; each point is the mean test (or validation) accuracy over seeds,
with the sample standard deviation, at the mean number of labelled training texts the runs had
(metrics.json's ``texts``; a run without a budget is the "all" point). Step-capped smoke runs are
left out while full runs exist, as in the recipe comparison.
"""

from __future__ import annotations

import pandas as pd

CURVE_COLUMNS = ["recipe", "budget", "labelled", "seeds", "mean", "std"]


def curve_groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(label, finished runs) of each dataset and model whose runs span at least two label
    budgets, most runs first; the label reads "dataset · model"."""
    done = _usable(df)
    out = []
    for _, g in sorted(done.groupby(["curve_key", "model_key"], sort=False), key=lambda kv: -len(kv[1])):
        if g["budget"].nunique() >= 2:
            out.append((f"{g['dataset'].iloc[0]} · {g['model'].iloc[0]}", g))
    labels = [label for label, _ in out]
    return [(label if labels.count(label) == 1 else f"{label} ({i + 1})", g) for i, (label, g) in enumerate(out)]


def budget_curve(runs: pd.DataFrame, metric: str = "test") -> pd.DataFrame:
    """Per recipe and budget: the mean labelled texts, seeds, mean and sample std (0 for one seed)
    of `metric` accuracy ("test" or "val"), ordered by labelled texts."""
    runs = _usable(runs)
    score = f"{metric}_acc"
    if not len(runs):
        return pd.DataFrame(columns=CURVE_COLUMNS)
    smoke = runs["steps_cap"].astype(str) != ""
    if (~smoke).any():
        runs = runs[~smoke]
    per_seed = runs.groupby(["recipe", "budget", "seed"], as_index=False).agg(
        labelled=("labelled", "mean"), score=(score, "mean")
    )
    g = per_seed.groupby(["recipe", "budget"], as_index=False)
    out = g.agg(labelled=("labelled", "mean"), seeds=("seed", "nunique"), mean=("score", "mean"), std=("score", "std"))
    out["std"] = out["std"].fillna(0.0)
    return out.sort_values(["recipe", "labelled"]).reset_index(drop=True)[CURVE_COLUMNS]


def _usable(df: pd.DataFrame) -> pd.DataFrame:
    """Finished runs with a test accuracy and a labelled-text count (older runs have none)."""
    if not len(df) or "labelled" not in df:
        return df.iloc[:0]
    return df[(df["state"] == "done") & df["test_acc"].notna() & df["labelled"].notna()]
