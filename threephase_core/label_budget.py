"""A label budget: train on a few labelled texts per class (or a fraction of train) and keep the
rest of train as unlabelled text for the label-free phases.

The common real case is a few hundred labelled texts and many unlabelled ones; the budget makes
that case out of any labelled dataset, so that recipes can be compared at 8, 16, 64... labels per
class (``bench/learning_curve.py``). The subset is stratified (every class keeps `per_class`
texts, or its share of `fraction`, at least one) and seeded: the same seed keeps the same texts,
another seed others. A class with fewer training texts than `per_class` is refused (`DataError`)
rather than quietly kept whole, which would make the budget a lie for that class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from threephase_core.data_files import DataError


def budget_text(per_class: int, fraction: float) -> str:
    """The budget in words, for notes and messages; "" without one."""
    if per_class:
        return f"{per_class} labelled text(s) per class"
    if fraction:
        return f"{fraction:.0%} of train labelled" if fraction >= 0.01 else f"{fraction:g} of train labelled"
    return ""


def budget_problem(train: pd.DataFrame, label_names: list[str], per_class: int) -> str | None:
    """Why `per_class` labelled texts per class cannot be kept from `train` (a class has fewer
    training texts), naming the classes; None when it can (or without a per-class budget)."""
    if not per_class:
        return None
    counts = train["label"].value_counts()
    short = sorted(((int(counts.get(i, 0)), name) for i, name in enumerate(label_names) if counts.get(i, 0)))
    short = [(n, name) for n, name in short if n < per_class]
    if not short:
        return None
    listed = ", ".join(f"{name!r} has {n}" for n, name in short[:5]) + ("..." if len(short) > 5 else "")
    return (
        f"labels_per_class={per_class} asks for {per_class} labelled texts per class, but {len(short)} class(es) "
        f"have fewer training texts ({listed}); lower labels_per_class to at most {short[0][0]}, "
        "or give the budget as label_fraction"
    )


def labelled_subset(
    train: pd.DataFrame, per_class: int = 0, fraction: float = 0.0, seed: int = 0, label_names: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the labelled texts kept, the rest of train): `per_class` texts of every class, or each
    class's share of `fraction` (rounded, at least one), drawn with `seed`. Without a budget,
    (train, an empty frame). DataError when a class has fewer texts than `per_class`."""
    if not per_class and not fraction:
        return train, train.iloc[:0]
    names = label_names or [str(i) for i in range(int(train["label"].max()) + 1)]
    problem = budget_problem(train, names, per_class)
    if problem:
        raise DataError(problem)
    rng = np.random.default_rng(seed)
    kept: list[int] = []
    for _, index in sorted(train.groupby("label", sort=True).groups.items()):
        index = np.asarray(index)
        n = per_class if per_class else max(1, int(round(len(index) * fraction)))
        kept.extend(rng.choice(index, size=min(n, len(index)), replace=False).tolist())
    mask = train.index.isin(kept)
    order = rng.permutation(int(mask.sum()))  # not grouped by class: batches mix classes
    return train[mask].iloc[order].reset_index(drop=True), train[~mask].reset_index(drop=True)
