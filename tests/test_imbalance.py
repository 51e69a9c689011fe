"""Imbalance correction: docs/METHOD.md's worked values, thresholds, presets, the corrected data."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from threephase_core.config import IMBALANCE_PRESETS
from threephase_core.imbalance import (
    correct_imbalance,
    corrected_counts,
    imbalance_factor,
    oversample_factor,
    preset_ratios,
)

NORMAL = IMBALANCE_PRESETS["normal"]


# docs/METHOD.md, M = 1000, normal preset (r_min 1.5, r_max 4).
@pytest.mark.parametrize(
    "x, f, repeat",
    [
        (1, 4.0, 4),
        (5, 3.07, 3),
        (20, 2.27, 2),
        (50, 1.73, 2),
        (75, 1.4998, 1),
        (100, 1.33, 1),
        (1000, 0.0, 1),
    ],
)
def test_worked_values_m1000(x, f, repeat):
    assert imbalance_factor(x, 1000, NORMAL[1]) == pytest.approx(f, abs=6e-3 if f != 1.4998 else 2e-4)
    assert oversample_factor(x, 1000, *NORMAL) == repeat


def test_factor_endpoints():
    for largest in (2, 10, 1000):
        assert imbalance_factor(largest, largest, 4.0) == 0.0
        assert imbalance_factor(1, largest, 4.0) == pytest.approx(4.0)
    assert imbalance_factor(1, 1, 4.0) == 0.0  # a single class of one: nothing to correct


@pytest.mark.parametrize("x, largest", [(0, 10), (11, 10), (1, 0), (-1, 5)])
def test_factor_rejects_impossible_sizes(x, largest):
    with pytest.raises(ValueError):
        imbalance_factor(x, largest, 4.0)


@pytest.mark.parametrize("largest, threshold", [(100, 17.8), (1000, 75.0), (10_000, 316.2)])
def test_threshold_moves_with_m(largest, threshold):
    r_min, r_max = NORMAL
    exact = largest ** (1 - r_min / r_max)
    assert exact == pytest.approx(threshold, abs=0.05)
    below = math.floor(exact)  # the largest class size that is still oversampled
    assert imbalance_factor(below, largest, r_max) >= r_min
    assert oversample_factor(below, largest, r_min, r_max) >= 2
    assert imbalance_factor(below + 1, largest, r_max) < r_min
    assert oversample_factor(below + 1, largest, r_min, r_max) == 1


def test_rounding_is_half_up():
    # 5 * ln(10) / ln(100) == 2.5 exactly: half up gives 3 (Python's round would give 2).
    assert imbalance_factor(10, 100, 5.0) == 2.5
    assert oversample_factor(10, 100, 1.0, 5.0) == 3


def test_presets():
    assert preset_ratios("normal") == (1.5, 4.0)
    assert preset_ratios("extra") == (1.5, 20.0)
    assert preset_ratios("none") == (1.0, 1.0)
    with pytest.raises(ValueError, match="bogus"):
        preset_ratios("bogus")


@pytest.mark.parametrize("largest", [2, 10, 1000, 100_000])
def test_none_preset_changes_nothing(largest):
    for x in sorted({1, 2, largest // 3 or 1, largest // 2 or 1, largest}):
        assert oversample_factor(x, largest, *preset_ratios("none")) == 1


@pytest.mark.parametrize(
    "sizes, preset, expected",
    [
        (
            {"a": 1000, "b": 1, "c": 5, "d": 20, "e": 50, "f": 75, "g": 100},
            "normal",
            {"a": 1000, "b": 4, "c": 15, "d": 40, "e": 100, "f": 75, "g": 100},
        ),
        ({"a": 1000, "b": 1, "c": 75}, "none", {"a": 1000, "b": 1, "c": 75}),
        # extra (1.5, 20), M = 100: f(1) = 20, f(10) = 10, f(40) = 3.98 -> 4, f(80) = 0.97 -> unchanged
        ({"a": 100, "b": 1, "c": 10, "d": 40, "e": 80}, "extra", {"a": 100, "b": 20, "c": 100, "d": 160, "e": 80}),
        ({0: 10, 1: 10}, "normal", {0: 10, 1: 10}),  # balanced: nothing to do
        ({0: 100, 1: 0, 2: 1}, "normal", {0: 100, 1: 0, 2: 4}),  # empty classes stay empty
        ({}, "normal", {}),
    ],
)
def test_corrected_counts(sizes, preset, expected):
    assert corrected_counts(sizes, *preset_ratios(preset)) == expected


def test_corrected_counts_never_undersample():
    rng = np.random.default_rng(0)
    for _ in range(50):
        sizes = {k: int(n) for k, n in enumerate(rng.integers(1, 2000, size=6))}
        out = corrected_counts(sizes, *preset_ratios("extra"))
        assert all(out[k] >= n and out[k] % n == 0 for k, n in sizes.items())
        assert out[max(sizes, key=sizes.get)] == max(sizes.values())


LONG = [
    "where is the order that I placed on monday",
    "my parcel has not arrived and it is late",
    "can you tell me when the package will be here",
    "the tracking page says nothing at all for days",
    "I would like to know about the delivery of my order",
]
SHORT = ["refund please", "money back now", "return item"]


def _data():
    texts = [f"big class sample number {i}" for i in range(100)] + LONG + SHORT[:1]
    labels = np.array([0] * 100 + [1] * len(LONG) + [2] * 1)
    return texts, labels


def test_correct_imbalance_counts_and_layout():
    texts, labels = _data()
    out_texts, out_labels = correct_imbalance(texts, labels, *NORMAL, seed=0)
    # M = 100: f(5) = 4 ln 20 / ln 100 = 2.60 -> x3; f(1) = 4 -> x4
    assert Counter(out_labels.tolist()) == {0: 100, 1: 15, 2: 4}
    assert out_labels.dtype == np.int64 and len(out_texts) == len(out_labels)
    # originals first, unchanged and in order
    assert out_texts[: len(texts)] == texts
    assert out_labels[: len(texts)].tolist() == labels.tolist()
    # the largest class gets no copies
    assert all(t in texts[:100] for t, y in zip(out_texts, out_labels) if y == 0)


def test_correct_imbalance_copies_are_noised_where_possible():
    texts, labels = _data()
    out_texts, out_labels = correct_imbalance(texts, labels, *NORMAL, seed=0)
    copies = out_texts[len(texts) :]
    copy_labels = out_labels[len(texts) :].tolist()
    long_copies = [t for t, y in zip(copies, copy_labels) if y == 1]
    assert len(long_copies) == 2 * len(LONG)
    for original in LONG:
        mine = long_copies[2 * LONG.index(original) : 2 * LONG.index(original) + 2]
        for copy in mine:
            assert copy != original  # >= 5 words with stop words: always changed
            words, kept = original.split(), copy.split()
            dropped = Counter(words) - Counter(kept)
            assert dropped and all(w.lower() in ENGLISH_STOP_WORDS for w in dropped.elements())
            assert not Counter(kept) - Counter(words)  # nothing added
    short_copies = [t for t, y in zip(copies, copy_labels) if y == 2]
    assert short_copies == [SHORT[0]] * 3  # too short for noise: plain repeats


def test_correct_imbalance_is_seeded():
    texts, labels = _data()
    a = correct_imbalance(texts, labels, *NORMAL, seed=1)
    b = correct_imbalance(texts, labels, *NORMAL, seed=1)
    c = correct_imbalance(texts, labels, *NORMAL, seed=2)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert a[0] != c[0]


def test_correct_imbalance_none_preset_is_identity():
    texts, labels = _data()
    out_texts, out_labels = correct_imbalance(texts, labels, *preset_ratios("none"))
    assert out_texts == texts and out_labels.tolist() == labels.tolist()


def test_correct_imbalance_handles_non_contiguous_ids():
    texts = [f"text number {i} of the set" for i in range(30)]
    labels = np.array([7] * 27 + [3] * 3)
    _, out_labels = correct_imbalance(texts, labels, *NORMAL)
    # M = 27: f(3) = 4 ln 9 / ln 27 = 2.67 -> x3
    assert Counter(out_labels.tolist()) == {7: 27, 3: 9}


def test_hierarchical_labels_are_corrected_per_label_path_and_paired():
    """2-D labels (rows x levels; `pairs.py` scores them hierarchically): a class is a whole row.
    They used to fail in correct_imbalance (np.unique flattened the rows), even with no correction."""
    from threephase_core.config import CLConfig
    from threephase_core.phases.contrastive import prepare_pairs

    # Path (0, 0) has 40 rows, (0, 1) 12, (1, 2) 2: the smallest two are oversampled (normal preset).
    paths = [(0, 0)] * 40 + [(0, 1)] * 12 + [(1, 2)] * 2
    labels = np.array(paths)
    texts = [f"text number {i} about some topic here" for i in range(len(paths))]
    out_texts, out_labels = correct_imbalance(texts, labels, 1.5, 4.0, seed=0)
    assert out_labels.shape == (len(out_texts), 2)
    sizes = {(0, 0): 40, (0, 1): 12, (1, 2): 2}
    after = corrected_counts(sizes, 1.5, 4.0)
    assert after[(1, 2)] > 2  # the rare path was oversampled
    got = {k: int(((out_labels == np.array(k)).all(axis=1)).sum()) for k in sizes}
    assert got == after
    for preset in ("none", "normal"):
        pairs = prepare_pairs(texts, labels, 3, CLConfig(imbalance=preset), seed=0)
        assert pairs["counts_before"] == sizes
        assert set(np.unique(pairs["scores"])) <= {0.0, 0.5, 1.0} and len(pairs["a"]) > 0
