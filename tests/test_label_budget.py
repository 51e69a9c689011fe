"""The label budget and unlabelled texts as data: which texts keep their labels, which become
unlabelled, and the refusals (label_budget.py, unlabelled.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from threephase_core.config import ConfigError
from threephase_core.data import DataError, dataset_for, load_dataset
from threephase_core.label_budget import labelled_subset
from threephase_core.recipes import build_config
from threephase_core.unlabelled import label_free_texts, read_unlabelled


def _train(sizes: dict[int, int]) -> pd.DataFrame:
    rows = [(f"class {c} text {i}", c) for c, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["text", "label"])


def test_per_class_budget_is_stratified_seeded_and_keeps_the_rest():
    train = _train({0: 40, 1: 12, 2: 25})
    kept, rest = labelled_subset(train, per_class=8, seed=3)
    assert kept["label"].value_counts().to_dict() == {0: 8, 1: 8, 2: 8}
    assert len(rest) == len(train) - 24
    assert set(kept["text"]).isdisjoint(rest["text"]) and set(kept["text"]) | set(rest["text"]) == set(train["text"])
    again, _ = labelled_subset(train, per_class=8, seed=3)
    other, _ = labelled_subset(train, per_class=8, seed=4)
    assert sorted(again["text"]) == sorted(kept["text"])  # same seed, same subset
    assert sorted(other["text"]) != sorted(kept["text"])  # another seed, another subset
    assert other["label"].value_counts().to_dict() == {0: 8, 1: 8, 2: 8}


def test_fraction_budget_keeps_each_class_share():
    train = _train({0: 100, 1: 40, 2: 3})
    kept, rest = labelled_subset(train, fraction=0.25, seed=0)
    assert kept["label"].value_counts().to_dict() == {0: 25, 1: 10, 2: 1}  # rounded, at least one
    assert len(rest) == 143 - 36


def test_budget_beyond_a_class_is_refused_naming_it():
    train = _train({0: 40, 1: 5})
    with pytest.raises(DataError, match=r"labels_per_class=8 .* 1 class\(es\) have fewer training texts \('b' has 5"):
        labelled_subset(train, per_class=8, seed=0, label_names=["a", "b"])


def test_run_config_budget_makes_the_rest_of_train_unlabelled():
    full = dataset_for(build_config("ft"))
    ds = dataset_for(build_config("ft", {"labels_per_class": 4, "seed": 1}))
    assert set(ds.train["label"].value_counts()) == {4} and len(ds.train) == 4 * ds.num_classes
    assert sorted(ds.unlabelled + ds.train["text"].tolist()) == sorted(full.train["text"])
    assert len(ds.validation) == len(full.validation) and len(ds.test) == len(full.test)  # untouched
    assert ds.summary()["texts"] == {"labelled": len(ds.train), "unlabelled": len(full.train) - len(ds.train)}
    assert label_free_texts(ds)[: len(ds.train)] == ds.train["text"].tolist()


def test_both_budgets_at_once_are_refused():
    with pytest.raises(ConfigError, match="labels_per_class=8 and label_fraction=0.5 are both set"):
        build_config("ft", {"labels_per_class": 8, "label_fraction": 0.5})


def test_unlabelled_file_and_rows_without_a_label(tmp_path):
    (tmp_path / "more.txt").write_text("first extra text\n\n  second extra text \n", encoding="utf-8")
    assert read_unlabelled(tmp_path / "more.txt") == ["first extra text", "second extra text"]
    table = tmp_path / "data.csv"
    rows = [f"{'pos' if i % 2 else 'neg'} text {i},{'pos' if i % 2 else 'neg'}" for i in range(40)]
    table.write_text("text,label\n" + "\n".join(rows + ["no label here,", "nor here,  "]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"1 row\(s\) have no label \(line 42\).*unlabelled_rows"):
        load_dataset(str(table))
    ds = load_dataset(str(table), unlabelled_rows=True)
    assert sorted(ds.unlabelled) == ["no label here", "nor here"]
    assert ds.label_names == ["neg", "pos"]  # an empty label is no class
    more = str(tmp_path / "more.txt")
    cfg = build_config("ft", {"dataset": str(table), "unlabelled_rows": True, "unlabelled": more})
    both = dataset_for(cfg)
    assert sorted(both.unlabelled) == sorted(["no label here", "nor here", "first extra text", "second extra text"])
    with pytest.raises(DataError, match="unlabelled texts: file not found"):
        dataset_for(build_config("ft", {"unlabelled": str(tmp_path / "missing.txt")}))
