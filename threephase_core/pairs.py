"""Phase-2 pairs: unique text pairs labelled by class agreement, balanced 50/50.

Recipe (METHOD.md): shuffle two copies of the (imbalance-corrected) data and pair them row
by row, `multiplier` times; drop repeated pairs (a pair and its mirror count once) and pairs
of a text with itself; score 1.0 for the same class, 0.0 otherwise; then down-sample the
larger side so positives and negatives are equal in number.
With hierarchical labels (rows of several levels, top level first) the score is the fraction
of levels that match, counted from the top until the first mismatch.

Two ways to choose the positive pairs (`positives`):
- ``paper``: as above. A random pair shares class c with probability (n_c / N)^2, so a class
  gets positives in proportion to its size squared: on the demo's corrected data the two
  smallest classes got 5 and 1 of 263 positives, and phase 2 barely saw them.
- ``balanced``: the same budget, `multiplier` x N pairs, half positive, with class c's share
  of the positives in proportion to its (corrected) size, multiplier x n_c / 2, drawn without
  repeats from the class's own pairs (fewer where the class has fewer distinct pairs); the
  negatives come from shuffled copies as in ``paper``, as many as there are positives.
"""

from __future__ import annotations

import math
from collections import Counter

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


POSITIVE_SCHEMES = ("balanced", "paper")


def build_pairs(
    texts: list[str], labels, multiplier: int, seed: int = 0, max_pairs: int = 0, positives: str = "paper"
) -> tuple[list[str], list[str], np.ndarray]:
    """Return (texts_a, texts_b, scores) with unique pairs, half scored 1.0 and half below.

    `labels` is a 1-D array of class ids, or a 2-D array (rows x levels) for hierarchical
    scores. `max_pairs` > 0 caps the total after balancing (kept balanced). `positives`:
    ``paper`` or ``balanced`` (see the module docstring).
    """
    if positives not in POSITIVE_SCHEMES:
        raise ValueError(f"positives={positives!r}; choose one of {POSITIVE_SCHEMES}")
    labels = np.asarray(labels)
    n = len(texts)
    if n != len(labels):
        raise ValueError("texts and labels differ in length")
    rng = np.random.default_rng(seed)
    flat = labels.tolist() if labels.ndim == 1 else [tuple(row) for row in labels.tolist()]
    seen: set[tuple[str, str]] = set()
    pos: list[tuple[int, int]] = []
    neg: list[tuple[int, int]] = []
    if positives == "balanced":
        budget = max(1, multiplier) * n // 2
        pos = _class_positives(texts, flat, min(budget, max_pairs // 2) if max_pairs else budget, seen, rng)
        neg = _negatives(texts, flat, len(pos), seen, rng)
    else:
        for _ in range(max(1, multiplier)):
            _shuffled_pairs(texts, flat, rng, seen, pos, neg)
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


def _shuffled_pairs(texts, flat, rng, seen: set, pos: list | None, neg: list) -> None:
    """One round of the paper's draw: two shuffled copies paired row by row, new pairs only;
    same-class pairs go to `pos` (skipped when `pos` is None), the others to `neg`."""
    n = len(texts)
    left, right = rng.permutation(n), rng.permutation(n)
    for i, j in zip(left.tolist(), right.tolist()):
        a, b = texts[i], texts[j]
        if a == b:
            continue
        key = (a, b) if a < b else (b, a)
        if key in seen:
            continue
        same = flat[i] == flat[j]
        if same and pos is not None:
            seen.add(key)
            pos.append((i, j))
        elif not same:
            seen.add(key)
            neg.append((i, j))


def _negatives(texts, flat, k: int, seen: set, rng: np.random.Generator) -> list[tuple[int, int]]:
    """k pairs of different classes, uniform over the distinct text pairs, none in `seen`:
    on small data (<= SMALL_PAIRS row pairs) every such pair is listed and k are chosen, so
    the count is exact; on larger data rounds of shuffled copies are drawn until there are k
    (or a round finds nothing new)."""
    n = len(texts)
    if n * (n - 1) // 2 <= SMALL_PAIRS:
        i, j = np.triu_indices(n, 1)
        found: dict[tuple[str, str], tuple[int, int]] = {}
        for u, v in zip(i.tolist(), j.tolist()):
            a, b = texts[u], texts[v]
            key = (a, b) if a < b else (b, a)
            if flat[u] != flat[v] and a != b and key not in seen:
                found.setdefault(key, (u, v))
        keys = list(found)
        pick = np.sort(rng.choice(len(keys), size=min(k, len(keys)), replace=False)) if keys else []
        seen.update(keys[t] for t in pick)
        return [found[keys[t]] for t in pick]
    neg: list[tuple[int, int]] = []
    while len(neg) < k:
        before = len(neg)
        _shuffled_pairs(texts, flat, rng, seen, None, neg)
        if len(neg) == before:
            break
    return neg[:k]


SMALL_PAIRS = 200_000  # row pairs up to which `_negatives` lists every pair (~630 rows)


def positive_quota(sizes: dict, distinct: dict, total: int) -> dict:
    """Balanced positives per class: `total` shared in proportion to class size (rounded down),
    at most the number of distinct pairs the class's distinct texts can form."""
    n = sum(sizes.values())
    return {c: min(total * size // n, distinct[c] * (distinct[c] - 1) // 2) if n else 0 for c, size in sizes.items()}


def _class_positives(texts, flat, total: int, seen: set, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Same-class pairs of distinct texts, `positive_quota` of them per class, none repeated."""
    members: dict = {}
    for i, (text, c) in enumerate(zip(texts, flat)):
        members.setdefault(c, {}).setdefault(text, i)  # one row per distinct text
    quota = positive_quota(dict(Counter(flat)), {c: len(m) for c, m in members.items()}, total)
    out = []
    for c in sorted(members, key=str):
        rows = np.fromiter(members[c].values(), dtype=np.int64)
        for i, j in _distinct_pairs(len(rows), quota[c], rng):
            a, b = texts[rows[i]], texts[rows[j]]
            key = (a, b) if a < b else (b, a)
            if key not in seen:  # only a text filed under two classes can repeat a pair
                seen.add(key)
                out.append((int(rows[i]), int(rows[j])))
    return out


def _distinct_pairs(d: int, k: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """k different unordered pairs (i < j) of range(d), uniformly: all pairs listed and k
    chosen when there are few, else drawn at random and repeats thrown back."""
    possible = d * (d - 1) // 2
    k = min(k, possible)
    if k <= 0:
        return []
    if possible <= max(4 * k, 100_000):
        i, j = np.triu_indices(d, 1)
        pick = np.sort(rng.choice(possible, size=k, replace=False))
        return list(zip(i[pick].tolist(), j[pick].tolist()))
    found: set[tuple[int, int]] = set()
    while len(found) < k:
        i, j = rng.integers(0, d, size=(2, 2 * (k - len(found))))
        for u, v in zip(i.tolist(), j.tolist()):
            if u != v and len(found) < k:
                found.add((min(u, v), max(u, v)))
    return sorted(found)


def _take(items: list, k: int, rng: np.random.Generator) -> list:
    if k >= len(items):
        return list(items)
    idx = rng.choice(len(items), size=k, replace=False)
    return [items[i] for i in sorted(idx)]
