"""The recipe comparison of the Results page: runs grouped by data and model, mean and spread
over seeds per recipe, and each recipe against FT paired by seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from threephase_core.metrics import paired_p


def recipe_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """The ablation table from finished runs: per recipe, mean and sample std (as bench/accuracy.py) over
    seeds of validation/test accuracy and macro F1 (std 0 for a single run), and the test accuracy's
    difference to FT paired over seeds (`versus_baseline`), in the recipes' order."""
    from threephase_core.recipes import RECIPES

    done = df[(df["state"] == "done") & df["test_acc"].notna()] if len(df) else df
    if not len(done):
        return pd.DataFrame(
            columns=[
                "recipe",
                "seeds",
                "val_mean",
                "val_std",
                "test_mean",
                "test_std",
                "f1_mean",
                "f1_std",
                "test_n",
                "vs_seeds",
                "vs_diff",
                "vs_p",
            ]
        )
    g = done.groupby("recipe")
    out = pd.DataFrame(
        {
            "seeds": g["seed"].nunique(),
            "runs": g.size(),
            "val_mean": g["val_acc"].mean(),
            "val_std": g["val_acc"].std(ddof=1),
            "test_mean": g["test_acc"].mean(),
            "test_std": g["test_acc"].std(ddof=1),
            "f1_mean": g["test_f1"].mean(),
            "f1_std": g["test_f1"].std(ddof=1),
            "test_n": g["test_n"].median() if "test_n" in done else np.nan,  # test texts per run
        }
    ).reset_index()
    out[["val_std", "test_std", "f1_std"]] = out[["val_std", "test_std", "f1_std"]].fillna(0.0)  # one run: no spread
    paired = versus_baseline(done)
    out = out.merge(paired, on="recipe", how="left")
    order = {name: i for i, name in enumerate(RECIPES)}
    out["_o"] = out["recipe"].map(lambda r: order.get(r, len(order)))
    return out.sort_values("_o").drop(columns="_o").reset_index(drop=True)


def comparison_groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Finished runs split into groups that may be compared: same data (file, text and label
    columns, training-row cap, unlabelled texts, label budget) and same model, largest group first,
    each with a label for the page ("dataset · model", the budget when there is one, numbered where
    two groups would read the same)."""
    done = df[df["state"] == "done"] if len(df) else df
    if not len(done):
        return []
    groups = sorted(done.groupby(["data_key", "model_key"], sort=False), key=lambda kv: -len(kv[1]))
    labels = [
        f"{g['dataset'].iloc[0]} · {g['model'].iloc[0]}"
        + (f" · {g['budget'].iloc[0]} labelled" if g["budget"].iloc[0] != "all" else "")
        for _, g in groups
    ]
    out = []
    for label, (_, g) in zip(labels, groups, strict=True):
        # Two groups that read the same get a note that does not change as runs finish (the page
        # keeps the choice by its text): the group's first run.
        text = (
            label
            if labels.count(label) == 1
            else f"{label} (since {g.sort_values(['created', 'run'])['run'].iloc[0]})"
        )
        out.append((text, df[df["run"].isin(g["run"])]))
    return out


def mixed_settings(group: pd.DataFrame) -> list[str]:
    """Recipes whose finished runs in this group were trained with different settings (beyond
    the seed): their mean mixes configurations."""
    done = group[group["state"] == "done"]
    if not len(done):
        return []
    counts = done.groupby("recipe")["settings_key"].nunique()
    return sorted(counts[counts > 1].index)


def versus_baseline(done: pd.DataFrame, baseline: str = "ft", metric: str = "test_acc") -> pd.DataFrame:
    """Per recipe, `metric` minus the baseline's over the seeds both finished: (recipe, vs_seeds,
    vs_diff, vs_p), vs_p from a paired t-test (NaN with one common seed or identical scores).

    Pairing by seed is what makes a small difference readable: two recipes run with the same
    seed share the data split and the head's initialisation, so the seed-to-seed spread (often
    larger than the difference itself) cancels out. Re-runs of one recipe and seed are averaged.
    """
    cols = ["recipe", "vs_seeds", "vs_diff", "vs_p"]
    per_seed = done.groupby(["recipe", "seed"])[metric].mean().unstack("seed") if len(done) else pd.DataFrame()
    if baseline not in per_seed.index:  # no baseline run, or none with a usable seed (a damaged config)
        return pd.DataFrame(columns=cols)
    base = per_seed.loc[baseline]
    rows = []
    for recipe, scores in per_seed.iterrows():
        if recipe == baseline:
            continue
        both = scores.notna() & base.notna()
        x, y = scores[both].to_numpy(float), base[both].to_numpy(float)
        if not len(x):
            continue
        p = paired_p(x, y)
        rows.append({"recipe": recipe, "vs_seeds": int(len(x)), "vs_diff": float(np.mean(x - y)), "vs_p": p})
    return pd.DataFrame(rows, columns=cols)


def versus_text(recipe: str, seeds, diff, p, baseline: str = "ft") -> str:
    """The Results table's "vs FT" cell: '+0.8 pts, p = 0.21 (3 seeds)'; 'baseline' on FT's own
    row; '–' with no seed in common; the p-value is left out with one seed (no spread to test)."""
    if recipe == baseline:
        return "baseline"
    if not isinstance(seeds, (int, np.integer, float)) or not np.isfinite(seeds) or seeds < 1 or not np.isfinite(diff):
        return "–"
    n = int(seeds)
    text = f"{diff * 100:+.1f} pts"
    if n > 1 and np.isfinite(p):
        text += f", p = {p:.2f}"
    elif n > 1:
        text += ", the same gap on every seed"
    return text + f" ({n} seed{'s' if n > 1 else ''})"


def group_class_counts(store, group: pd.DataFrame, limit: int = 50) -> dict:
    """The class counts per split (the runs' data.json) of the finished run in `group` with the
    fewest test texts, for the small-split warnings (`split_size.split_size_warnings`); {} when no
    run has readable counts. At most `limit` runs are read (the group shares its data)."""
    best: dict = {}
    fewest = None
    for run_id in group.loc[group["state"] == "done", "run"].head(limit):
        try:
            counts = store.get(run_id).data_summary.get("class_counts")
        except (KeyError, OSError):
            continue
        test = counts.get("test") if isinstance(counts, dict) else None
        if not isinstance(test, dict):
            continue
        total = sum(v for v in test.values() if isinstance(v, (int, float)) and not isinstance(v, bool))
        if fewest is None or total < fewest:
            best, fewest = counts, total
    return best
