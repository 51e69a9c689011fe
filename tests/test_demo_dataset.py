"""Properties of the bundled demo dataset (threephase_core/demo)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

DEMO = Path(__file__).parents[1] / "threephase_core" / "demo"
SPLITS = ("train", "validation", "test")


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            assert line.strip(), f"{path.name}:{lineno} is blank"
            obj = json.loads(line)
            assert isinstance(obj, dict), f"{path.name}:{lineno} is not an object"
            assert set(obj) == {"text", "label", "group"}, f"{path.name}:{lineno} has keys {sorted(obj)}"
            assert all(isinstance(obj[k], str) for k in obj), f"{path.name}:{lineno}"
            rows.append(obj)
    return pd.DataFrame(rows, columns=["text", "label", "group"])


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


@pytest.fixture(scope="module")
def splits() -> dict[str, pd.DataFrame]:
    return {name: _read_jsonl(DEMO / f"{name}.jsonl") for name in SPLITS}


@pytest.fixture(scope="module")
def labels() -> list[str]:
    data = json.loads((DEMO / "labels.json").read_text(encoding="utf-8"))
    assert isinstance(data, list) and all(isinstance(x, str) for x in data)
    return data


def test_each_intent_has_one_parent_group(splits):
    """The second label level: every intent sits under one group, and the groups are fewer."""
    rows = pd.concat(splits.values())
    parents = rows.groupby("label")["group"].nunique()
    assert (parents == 1).all(), parents[parents > 1]
    assert 2 <= rows["group"].nunique() < rows["label"].nunique()


def test_files_exist():
    for name in (*[f"{s}.jsonl" for s in SPLITS], "labels.json", "README.md"):
        assert (DEMO / name).is_file(), name


def test_total_and_split_sizes(splits):
    sizes = {name: len(df) for name, df in splits.items()}
    total = sum(sizes.values())
    assert 400 <= total <= 800, sizes
    # roughly 70/15/15
    assert 0.6 <= sizes["train"] / total <= 0.8, sizes
    for name in ("validation", "test"):
        assert 0.1 <= sizes[name] / total <= 0.2, sizes


def test_labels_json(labels):
    assert 6 <= len(labels) <= 8
    assert len(set(labels)) == len(labels), "duplicate class names"
    for name in labels:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", name), f"not snake_case: {name!r}"


def test_every_label_known_and_every_class_in_every_split(splits, labels):
    for name, df in splits.items():
        unknown = set(df["label"]) - set(labels)
        assert not unknown, f"{name}: labels not in labels.json: {unknown}"
        missing = set(labels) - set(df["label"])
        assert not missing, f"{name}: classes absent: {missing}"
    for name in ("validation", "test"):
        counts = splits[name]["label"].value_counts()
        assert counts.min() >= 2, f"{name}: {counts.to_dict()}"


def test_no_empty_or_odd_texts(splits):
    for name, df in splits.items():
        for text in df["text"]:
            assert text.strip(), f"{name}: empty text"
            assert text == text.strip(), f"{name}: untrimmed text {text!r}"
            assert "\n" not in text, f"{name}: multi-line text {text!r}"
            assert 3 <= len(text.split()) <= 40, f"{name}: odd length {text!r}"


def test_no_duplicates_within_or_across_splits(splits):
    seen: dict[str, str] = {}
    for name, df in splits.items():
        for text in df["text"]:
            key = _norm(text)
            assert key not in seen, f"duplicate text {text!r} in {name} (also in {seen[key]})"
            seen[key] = name


def test_imbalance(splits, labels):
    train = splits["train"]["label"].value_counts()
    overall = pd.concat(splits.values())["label"].value_counts()
    assert train.max() / train.min() >= 10, train.to_dict()
    assert overall.max() / overall.min() >= 10, overall.to_dict()
    assert overall.min() >= 12, overall.to_dict()


def test_imbalance_correction_changes_counts(splits):
    """With f(x) = 4 ln(M/x) / ln(M) >= 1.5 (M = largest train class), at least two
    classes must be oversampled, and at least one must not be the largest class only."""
    train = splits["train"]["label"].value_counts()
    largest = int(train.max())
    factors = {c: 4 * math.log(largest / n) / math.log(largest) for c, n in train.items()}
    oversampled = [c for c, f in factors.items() if f >= 1.5]
    assert len(oversampled) >= 2, factors
    assert len(oversampled) < len(train) - 1, "almost every class oversampled"


def test_labels_order_is_descending_train_size(splits, labels):
    counts = Counter(splits["train"]["label"])
    sizes = [counts[name] for name in labels]
    assert sizes == sorted(sizes, reverse=True), dict(zip(labels, sizes))
    assert len(set(sizes)) == len(sizes), "tied class sizes make the order ambiguous"


def test_texts_are_varied(splits, labels):
    """Not one template per class: no three-word opening covers more than ~20% of a class."""
    df = pd.concat(splits.values())
    for name in labels:
        texts = df.loc[df["label"] == name, "text"]
        openings = Counter(" ".join(_norm(t).split()[:3]) for t in texts)
        assert openings.most_common(1)[0][1] <= 2 + 0.2 * len(texts), (name, openings.most_common(3))
        assert len({_norm(t).split()[0] for t in texts}) >= min(5, len(texts) // 3), name
