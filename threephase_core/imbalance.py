"""Imbalance correction for phase 2 (the paper's oversampling rule).

With M the size of the largest class and x the size of a class,

    f(x) = r_max * ln(M / x) / ln(M)        (f(M) = 0, f(1) = r_max)

A class is oversampled only where f(x) >= r_min; its rows are then repeated round(f(x))
times. Rounding rule: half up (floor(f + 0.5)), so 2.5 -> 3; the original code used
Python's round (half to even), which differs only at exact halves. Nothing is undersampled,
and the correction changes phase-2 data only (FT trains on the original split).
Copies after the first get light noise (random stop-word deletion, see `noise.py`).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from threephase_core.config import IMBALANCE_PRESETS
from threephase_core.noise import stopword_noise


def imbalance_factor(x: int, largest: int, max_ratio: float) -> float:
    """The real-valued f(x); 0 for the largest class, r_max for a class of one."""
    if x < 1 or largest < 1 or x > largest:
        raise ValueError(f"class size {x} must be between 1 and the largest class size {largest}")
    if largest == 1:
        return 0.0
    return max_ratio * math.log(largest / x) / math.log(largest)


def oversample_factor(x: int, largest: int, min_ratio: float, max_ratio: float) -> int:
    """How many times a class of size x is repeated: round(f(x)) where f(x) >= r_min, else 1."""
    f = imbalance_factor(x, largest, max_ratio)
    if f < min_ratio:
        return 1
    return max(1, math.floor(f + 0.5))


def corrected_counts(class_sizes: dict, min_ratio: float, max_ratio: float) -> dict:
    """Class sizes after correction, same keys; classes of size 0 stay 0."""
    present = [n for n in class_sizes.values() if n > 0]
    if not present:
        return dict(class_sizes)
    largest = max(present)
    return {
        k: (n * oversample_factor(n, largest, min_ratio, max_ratio) if n > 0 else 0) for k, n in class_sizes.items()
    }


def preset_ratios(name: str) -> tuple[float, float]:
    if name not in IMBALANCE_PRESETS:
        raise ValueError(f"unknown imbalance preset {name!r}; choose one of {sorted(IMBALANCE_PRESETS)}")
    return IMBALANCE_PRESETS[name]


def correct_imbalance(
    texts: list[str], labels: np.ndarray, min_ratio: float, max_ratio: float, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """Oversample small classes; every copy after the first gets stop-word noise.

    `labels`: class ids (1-D), or hierarchical label rows (2-D, rows x levels, as `pairs.py`
    takes them), where a class is a whole row (the leaf's path). Labels come back in the same shape.
    """
    labels = np.asarray(labels)
    keys = class_keys(labels)
    sizes = class_sizes(labels)
    factors = {c: oversample_factor(n, max(sizes.values()), min_ratio, max_ratio) for c, n in sizes.items()}
    rng = np.random.default_rng(seed)
    out_texts, out_labels = list(texts), labels.tolist()
    for text, key, label in zip(texts, keys, labels.tolist()):
        for _ in range(factors[key] - 1):
            out_texts.append(stopword_noise(text, rng))
            out_labels.append(label)
    return out_texts, np.asarray(out_labels, dtype=np.int64)


def class_keys(labels: np.ndarray) -> list:
    """Each row's class: its id (1-D labels) or its label path as a tuple (2-D, hierarchical)."""
    labels = np.asarray(labels)
    return [tuple(r) for r in labels.tolist()] if labels.ndim == 2 else labels.tolist()


def class_sizes(labels: np.ndarray) -> dict:
    """{class: rows}, classes as `class_keys` gives them, in sorted order."""
    counts = Counter(class_keys(labels))
    return {k: counts[k] for k in sorted(counts)}
