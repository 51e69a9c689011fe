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
    row = {t: tuple(lv) for t, lv in zip(texts, levels)}
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


# ---- balanced positives ---------------------------------------------------------------
def _positives_per_class(texts, labels, a, b, scores) -> dict:
    label_of = dict(zip(texts, labels.tolist()))
    counts = Counter(label_of[x] for x, s in zip(a, scores.tolist()) if s == 1.0)
    return {c: counts.get(c, 0) for c in sorted(set(labels.tolist()))}


# Budget: multiplier x N pairs, half positive; class c gets (multiplier x N // 2) x n_c // N
# positives (max_pairs // 2 in place of the budget when it is smaller), at most C(n_c, 2), and
# there are as many negatives as positives.
@pytest.mark.parametrize(
    "sizes, multiplier, max_pairs, per_class",
    [
        ([10, 10], 2, 0, [10, 10]),  # budget 20: 20 * 10 // 20 = 10 each
        ([100, 20, 5], 4, 0, [200, 40, 10]),  # budget 250 -> 2 x n_c; the class of 5 has exactly C(5,2) = 10
        ([3, 50], 4, 0, [3, 100]),  # the class of 3 would get 6 but has only C(3,2) = 3 pairs
        ([100, 20, 5], 4, 50, [20, 4, 1]),  # max_pairs 50 -> 25 positives shared 100:20:5
        ([118, 84, 59, 37, 28, 36, 20], 4, 0, [236, 168, 118, 74, 56, 72, 40]),  # the demo after correction
        ([6, 2, 1], 3, 0, [8, 1, 0]),  # budget 13: 13*6//9 = 8; 2 -> C(2,2) = 1; 1 -> none (a class of one)
    ],
)
def test_balanced_positives_follow_class_size(sizes, multiplier, max_pairs, per_class):
    texts, labels = _dataset(sizes)
    a, b, scores = build_pairs(texts, labels, multiplier=multiplier, seed=0, max_pairs=max_pairs, positives="balanced")
    n_pos = _check_pairs(texts, labels, a, b, scores)
    assert list(_positives_per_class(texts, labels, a, b, scores).values()) == per_class
    assert n_pos == sum(per_class)


def test_paper_positives_follow_class_size_squared():
    """Why the balanced scheme exists: on the demo's corrected class sizes the paper's shuffled
    copies give the smallest class a share of the positives near (n_c / N)^2 / sum((n / N)^2)."""
    sizes = [118, 84, 59, 37, 28, 36, 20]
    texts, labels = _dataset(sizes)
    paper = build_pairs(texts, labels, multiplier=4, seed=0)
    balanced = build_pairs(texts, labels, multiplier=4, seed=0, positives="balanced")
    share = lambda pairs: _positives_per_class(texts, labels, *pairs)[6] / int((pairs[2] == 1.0).sum())  # noqa: E731
    assert share(balanced) == pytest.approx(20 / sum(sizes), abs=1e-3)
    assert share(paper) < 0.3 * share(balanced)
    assert 20**2 / sum(n * n for n in sizes) < 0.3 * 20 / sum(sizes)  # the reason, by formula


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("sizes", [[30, 12, 5, 3], [400, 300, 10]])  # the second lists pairs by rounds (> 630 rows)
def test_balanced_pairs_are_unique_balanced_scored_and_seeded(seed, sizes):
    texts, labels = _dataset(sizes)
    a, b, scores = build_pairs(texts, labels, multiplier=2, seed=seed, positives="balanced")
    per_class = _positives_per_class(texts, labels, a, b, scores)
    assert _check_pairs(texts, labels, a, b, scores) == sum(per_class.values())
    assert list(per_class.values()) == [min(sum(sizes) * n // sum(sizes), n * (n - 1) // 2) for n in sizes]
    again = build_pairs(texts, labels, multiplier=2, seed=seed, positives="balanced")
    assert (a, b) == (again[0], again[1])


def test_balanced_hierarchical_positives_are_per_leaf_path():
    levels = [(top, sub) for top, sub, n in ((0, 0, 12), (0, 1, 6), (1, 0, 6)) for _ in range(n)]
    labels = np.array(levels)
    texts = [f"text {i}" for i in range(len(levels))]
    a, b, scores = build_pairs(texts, labels, multiplier=2, seed=0, positives="balanced")
    row = dict(zip(texts, levels))
    full = Counter(row[x] for x, s in zip(a, scores.tolist()) if s == 1.0)
    assert dict(full) == {(0, 0): 12, (0, 1): 6, (1, 0): 6}  # budget 24 shared 12:6:6
    assert int((scores < 1.0).sum()) == 24 and 0.5 in set(scores.tolist())


def test_unknown_positive_scheme_is_refused():
    texts, labels = _dataset([3, 3])
    with pytest.raises(ValueError, match="positives"):
        build_pairs(texts, labels, multiplier=1, positives="squared")


def test_prepare_pairs_uses_the_configured_scheme():
    from threephase_core.config import CLConfig
    from threephase_core.phases.contrastive import prepare_pairs

    texts, labels = _dataset([40, 10, 5])
    cfg = CLConfig(imbalance="none", positives="balanced")
    pairs = prepare_pairs(texts, labels, 3, cfg, seed=0)
    direct = build_pairs(texts, labels, multiplier=2, seed=0, positives="balanced")
    assert pairs["a"] == direct[0] and np.array_equal(pairs["scores"], direct[2])
