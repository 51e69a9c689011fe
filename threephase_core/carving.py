"""Taking rows out of a training split, stratified by class and seeded: the row cap
(`capped_train`, `stratified_sample`) and the validation/test splits carved from train when a
dataset lacks them (`carve`). The rules live here, once, because the Data page's previews, the
imbalance page and a run must keep the same rows for the same seed.

Carving holds out each class's share, at least one row, never all of it (`held_count`), so a class
with one row stays in train; `empty_split_message` says why a carved split came out empty and how
many rows a class would need.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def capped_train(train: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """The training rows a run uses: all of them, or with `max_rows` > 0 below their number, a
    stratified sample of about `max_rows` (`stratified_sample`)."""
    return stratified_sample(train, max_rows, seed) if max_rows and len(train) > max_rows else train


def cap_note(cap: int, kept: int, total: int, seed: int) -> str:
    """What the train cap did. stratified_sample rounds each class's share and keeps at least one
    row per class, so the rows kept can differ from the cap (7 classes keep 7 rows at a cap of 1)."""
    return (
        f"train capped at {cap} rows: kept {kept} of {total}, stratified (each class keeps its share, "
        f"rounded, and at least one row; seed {seed})"
    )


def stratified_sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """About n rows keeping class shares; every class keeps at least one row."""
    frac = n / len(df)
    parts = [
        g.sample(n=max(1, int(round(len(g) * frac))), random_state=seed) for _, g in df.groupby("label", sort=True)
    ]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def empty_split_message(name: str, split: str, to_carve, counts: pd.Series, train_left: int, columns) -> str:
    """Why carving left `split` empty, and what would fix it. `to_carve`: every (split, fraction)
    carved, in carving order (the rule covers them all, so adding rows fixes the next one too);
    `counts`: rows per class before carving; `train_left`: train rows after carving."""
    need = rows_needed([frac for _, frac in to_carve])
    rule = (
        f"needs a class with at least {need} rows, so that each carved split gets one and train keeps one"
        if need
        else "cannot hold out a row for each carved split with these fractions"
    )
    singles, k = int((counts == 1).sum()), len(counts)
    hint = ""
    if singles > k / 2:  # most likely a text-like column taken as the label
        which = "every label occurs once" if singles == k else f"{singles} of {k} labels occur once"
        hint = f"{which}: is the label column right (text={columns[0]!r}, label={columns[1]!r})? If it is: "
    return (
        f"{name}: the {split} split is empty: {hint}carving {' and '.join(s for s, _ in to_carve)} from train "
        f"{rule}; the largest class has {int(counts.max())} of the {int(counts.sum())} training rows, and train "
        f"keeps {train_left} after carving. Add rows, or provide a {split} split."
    )


def rows_needed(fractions: list[float]) -> int | None:
    """Fewest rows a class needs for carving, one split after the other with these fractions, to
    hold out at least one row for each (carve's rule tried on growing class sizes); None if none do."""
    for n in range(2, 10_000):
        left = n
        for frac in fractions:
            held = held_count(left, frac)
            if not held:
                break
            left -= held
        else:
            return n
    return None


def held_count(n: int, fraction: float) -> int:
    """Rows carve holds out of a class of n rows: its share, at least one, never all; a class of
    one row stays in train."""
    if n < 2:
        return 0
    return min(max(int(round(n * fraction)), 1), n - 1)


def carve(train: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified hold-out of `fraction` of each class (see held_count)."""
    rng = np.random.default_rng(seed)
    held = []
    for _, idx in train.groupby("label", sort=True).groups.items():
        idx = np.array(list(idx))
        n = held_count(len(idx), fraction)
        if n:
            held.extend(rng.choice(idx, size=n, replace=False).tolist())
    held_mask = train.index.isin(held)
    return train[~held_mask].reset_index(drop=True), train[held_mask].sample(frac=1.0, random_state=seed).reset_index(
        drop=True
    )
