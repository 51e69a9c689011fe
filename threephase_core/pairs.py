"""Phase-2 pairs: unique text pairs labelled by class agreement, balanced 50/50.

Recipe (METHOD.md): shuffle two copies of the (imbalance-corrected) data and pair them row
by row, `multiplier` times; drop repeated pairs (a pair and its mirror count once) and pairs
of a text with itself; score 1.0 for the same class, 0.0 otherwise; then down-sample the
larger side so positives and negatives are equal in number.
With hierarchical labels (rows of several levels, top level first) the score is the fraction
of levels that match, counted from the top until the first mismatch.
"""
from __future__ import annotations

import math

import numpy as np


def pair_multiplier(augmentation: int, n_classes: int) -> int:
    """augmentation * floor(log2(n_classes)), at least 1."""
    return max(1, augmentation * int(math.floor(math.log2(max(n_classes, 2)))))


def hierarchical_score(a, b) -> float:
    """Fraction of matching levels from the top: (x, y) vs (x, y) 1.0, (x, z) 0.5, (w, y) 0.0."""
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    matched = 0
    for u, v in zip(a, b):
        if u != v:
            break
        matched += 1
    return matched / len(a)


def build_pairs(
    texts: list[str], labels, multiplier: int, seed: int = 0, max_pairs: int = 0
) -> tuple[list[str], list[str], np.ndarray]:
    """Return (texts_a, texts_b, scores) with unique pairs, half scored 1.0 and half below.

    `labels` is a 1-D array of class ids, or a 2-D array (rows x levels) for hierarchical
    scores. `max_pairs` > 0 caps the total after balancing (kept balanced).
    """
    labels = np.asarray(labels)
    n = len(texts)
    if n != len(labels):
        raise ValueError("texts and labels differ in length")
    rng = np.random.default_rng(seed)
    flat = labels.tolist() if labels.ndim == 1 else [tuple(row) for row in labels.tolist()]
    seen: set[tuple[str, str]] = set()
    pos: list[tuple[int, int]] = []
    neg: list[tuple[int, int]] = []
    for _ in range(max(1, multiplier)):
        left, right = rng.permutation(n), rng.permutation(n)
        for i, j in zip(left.tolist(), right.tolist()):
            a, b = texts[i], texts[j]
            if a == b:
                continue
            key = (a, b) if a < b else (b, a)
            if key in seen:
                continue
            seen.add(key)
            same = flat[i] == flat[j]
            (pos if same else neg).append((i, j))
    keep = min(len(pos), len(neg))
    if max_pairs:
        keep = min(keep, max_pairs // 2)
    chosen = _take(pos, keep, rng) + _take(neg, keep, rng)
    order = rng.permutation(len(chosen))
    chosen = [chosen[k] for k in order]
    hier = labels.ndim == 2
    scores = np.array(
        [hierarchical_score(labels[i], labels[j]) if hier else float(labels[i] == labels[j]) for i, j in chosen],
        dtype=np.float32,
    )
    return [texts[i] for i, _ in chosen], [texts[j] for _, j in chosen], scores


def _take(items: list, k: int, rng: np.random.Generator) -> list:
    if k >= len(items):
        return list(items)
    idx = rng.choice(len(items), size=k, replace=False)
    return [items[i] for i in sorted(idx)]
