"""Phase-2 pairs: unique, never self-pairs, balanced 50/50, scored by class agreement."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from threephase_core.pairs import build_pairs, hierarchical_score, pair_multiplier


@pytest.mark.parametrize(
    "augmentation, n_classes, expected",
    [
        (2, 2, 2),
        (2, 3, 2),
        (2, 4, 4),
        (2, 7, 4),
        (2, 8, 6),
        (4, 4, 8),
        (12, 7, 24),
        (12, 18, 48),
        (1, 1024, 10),
        (0, 5, 1),  # at least 1
    ],
)
def test_pair_multiplier(augmentation, n_classes, expected):
    assert pair_multiplier(augmentation, n_classes) == expected


def _dataset(sizes: list[int]) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for c, n in enumerate(sizes):
        for k in range(n):
            texts.append(f"class {c} text {k}")
            labels.append(c)
    return texts, np.array(labels)


def _check_pairs(texts, labels, a, b, scores):
    label_of = dict(zip(texts, labels.tolist()))
    assert len(a) == len(b) == len(scores)
    assert scores.dtype == np.float32
    keys = [frozenset((x, y)) for x, y in zip(a, b)]
    assert all(x != y for x, y in zip(a, b)), "a text paired with itself"
    assert len(set(keys)) == len(keys), "a pair (or its mirror) occurs twice"
    for x, y, s in zip(a, b, scores.tolist()):
        assert s == (1.0 if label_of[x] == label_of[y] else 0.0)
    n_pos = int((scores == 1.0).sum())
    assert n_pos * 2 == len(scores), "not 50/50"
    return n_pos


def _by_hand(sizes: list[int]) -> tuple[int, int]:
    """All distinct unordered pairs: (positives, negatives)."""
    pos = sum(n * (n - 1) // 2 for n in sizes)
    total = sum(sizes) * (sum(sizes) - 1) // 2
    return pos, total - pos


# multiplier large enough that every distinct pair is drawn: the result is then the
# by-hand count, min(positives, negatives) of each.
@pytest.mark.parametrize(
    "sizes, n_pos",
    [
        ([3, 3], 6),  # 2 * C(3,2) = 6 positives, 3 * 3 = 9 negatives -> 6 + 6
        ([2, 2, 2], 3),  # 3 positives, 12 negatives -> 3 + 3
        ([4, 1], 4),  # C(4,2) = 6 positives, 4 negatives -> 4 + 4
        ([5, 5], 20),  # 20 positives, 25 negatives
        ([2, 2, 2, 2], 4),
        ([6, 1, 1], 13),  # C(6,2) = 15 positives, 6 + 6 + 1 = 13 negatives -> 13 + 13
        ([1, 1], 0),  # no positive pair exists: nothing to balance against
        ([10], 0),  # one class: no negative pair
    ],
)
def test_counts_when_all_pairs_are_drawn(sizes, n_pos):
    texts, labels = _dataset(sizes)
    pos, neg = _by_hand(sizes)
    assert min(pos, neg) == n_pos  # the table agrees with the formula
    a, b, scores = build_pairs(texts, labels, multiplier=400, seed=0)
    assert _check_pairs(texts, labels, a, b, scores) == n_pos
    assert len(scores) == 2 * n_pos


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("multiplier", [1, 2, 8])
def test_pairs_are_unique_balanced_and_correctly_scored(seed, multiplier):
    texts, labels = _dataset([30, 12, 5, 3])
    a, b, scores = build_pairs(texts, labels, multiplier=multiplier, seed=seed)
    n_pos = _check_pairs(texts, labels, a, b, scores)
    assert n_pos > 0
    assert len(scores) <= multiplier * len(texts)  # at most one pair per row per round


def test_more_rounds_give_more_pairs():
    texts, labels = _dataset([30, 30, 30])
    sizes = [len(build_pairs(texts, labels, multiplier=m, seed=0)[2]) for m in (1, 4, 16)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_pairs_are_seeded():
    texts, labels = _dataset([20, 10, 4])
    a1, b1, s1 = build_pairs(texts, labels, multiplier=4, seed=3)
    a2, b2, s2 = build_pairs(texts, labels, multiplier=4, seed=3)
    a3, b3, _ = build_pairs(texts, labels, multiplier=4, seed=4)
    assert a1 == a2 and b1 == b2 and np.array_equal(s1, s2)
    assert (a1, b1) != (a3, b3)


def test_positives_and_negatives_are_shuffled_together():
    texts, labels = _dataset([20, 20])
    _, _, scores = build_pairs(texts, labels, multiplier=8, seed=0)
    half = len(scores) // 2
    assert 0 < scores[:half].sum() < half  # not all positives first


@pytest.mark.parametrize("max_pairs, expected", [(10, 10), (7, 6), (2, 2), (1, 0), (10_000, None)])
def test_max_pairs_caps_and_keeps_balance(max_pairs, expected):
    texts, labels = _dataset([20, 20, 20])
    full = build_pairs(texts, labels, multiplier=6, seed=0)
    a, b, scores = build_pairs(texts, labels, multiplier=6, seed=0, max_pairs=max_pairs)
    _check_pairs(texts, labels, a, b, scores)
    assert len(scores) == (len(full[2]) if expected is None else expected)


def test_duplicate_texts_are_never_paired_with_each_other():
    texts = ["same words here", "same words here", "other words", "more other words", "x y z", "x y z"]
    labels = np.array([0, 0, 1, 1, 0, 1])
    a, b, scores = build_pairs(texts, labels, multiplier=200, seed=0)
    assert all(x != y for x, y in zip(a, b))
    keys = [frozenset((x, y)) for x, y in zip(a, b)]
    assert len(set(keys)) == len(keys)


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        build_pairs(["a", "b"], np.array([0]), multiplier=1)


# ---- hierarchical labels ---------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b, expected",
    [
        ((1, 2), (1, 2), 1.0),
        ((1, 2), (1, 3), 0.5),
        ((1, 2), (4, 2), 0.0),  # top level differs: the lower match does not count
        ((1, 2), (4, 5), 0.0),
        ((1, 2, 3), (1, 2, 9), 2 / 3),
        (3, 3, 1.0),
        (3, 4, 0.0),
    ],
)
def test_hierarchical_score(a, b, expected):
    assert hierarchical_score(np.array(a), np.array(b)) == pytest.approx(expected)


def test_hierarchical_pairs():
    # 2 top-level groups x 2 sub-classes x 4 texts
    levels = [(top, sub) for top in range(2) for sub in range(2) for _ in range(4)]
    labels = np.array(levels)
    texts = [f"text {i} of {t}/{s}" for i, (t, s) in enumerate(levels)]
    a, b, scores = build_pairs(texts, labels, multiplier=300, seed=0)
    row = {t: tuple(l) for t, l in zip(texts, levels)}
    keys = [frozenset((x, y)) for x, y in zip(a, b)]
    assert len(set(keys)) == len(keys) and all(x != y for x, y in zip(a, b))
    assert set(scores.tolist()) == {1.0, 0.5, 0.0}
    for x, y, s in zip(a, b, scores.tolist()):
        rx, ry = row[x], row[y]
        want = 1.0 if rx == ry else (0.5 if rx[0] == ry[0] else 0.0)
        assert s == want
    counts = Counter(scores.tolist())
    # full matches: 4 * C(4,2) = 24 pairs, all drawn; balanced against the rest
    assert counts[1.0] == 24
    assert counts[0.5] + counts[0.0] == 24
