"""The small-split warnings (thresholds, the per-class case), the accuracy interval and the
display strings of the Results page."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest

from threephase_core.split_size import (
    MIN_CLASS_TEXTS,
    MIN_SPLIT_TEXTS,
    accuracy_interval,
    interval_text,
    split_size_warnings,
    spread_text,
)


def counts(val: dict, test: dict, train: dict | None = None) -> dict:
    return {"train": train or {k: 50 for k in val}, "validation": val, "test": test}


def test_thresholds_are_the_documented_ones():
    assert (MIN_SPLIT_TEXTS, MIN_CLASS_TEXTS) == (30, 3)


def test_large_splits_give_no_warning():
    assert split_size_warnings(counts({"a": 15, "b": 15}, {"a": 20, "b": 10})) == []


@pytest.mark.parametrize(("total", "warned"), [(29, True), (30, False)])
def test_a_split_below_30_texts_is_named_with_its_step(total, warned):
    val = {"a": total - 10, "b": 10}
    out = split_size_warnings(counts(val, {"a": 20, "b": 20}))
    assert bool(out) is warned
    if warned:
        assert len(out) == 1 and out[0].startswith(f"The validation split has only {total} texts")
        assert f"{100 / total:.1f} points" in out[0]


def test_the_upload_of_the_report_warns_on_both_splits_and_the_single_class():
    """120 rows gave 11 validation and 12 test texts, one class with one of each."""
    val = {"a": 5, "b": 5, "c": 1}
    test = {"a": 5, "b": 6, "c": 1}
    out = split_size_warnings(counts(val, test))
    assert [m.split(":")[0] for m in out] == [
        "The validation split has only 11 texts",
        "In the validation split 1 class has fewer than 3 texts (c",
        "The test split has only 12 texts",
        "In the test split 1 class has fewer than 3 texts (c",
    ]
    assert "9.1 points" in out[0] and "(c: 1)" in out[1]


@pytest.mark.parametrize(("n", "warned"), [(2, True), (3, False)])
def test_a_class_below_3_texts_is_named_even_in_a_large_split(n, warned):
    out = split_size_warnings(counts({"a": 40, "b": n}, {"a": 40, "b": 40}))
    assert bool(out) is warned
    if warned:
        assert out == [
            f"In the validation split 1 class has fewer than 3 texts (b: {n}): per-class scores and the macro F1 "
            "rest on one or two texts."
        ]


def test_a_class_missing_from_a_split_counts_as_zero():
    out = split_size_warnings(counts({"a": 40}, {"a": 40, "b": 40}, train={"a": 50, "b": 50}))
    assert out and "(b: 0)" in out[0] and out[0].startswith("In the validation split 1 class")


def test_many_small_classes_are_listed_shortly():
    val = {f"c{i}": 1 for i in range(8)} | {"big": 40}
    out = split_size_warnings(counts(val, {k: 5 for k in val}))
    assert "8 classes have fewer than 3 texts" in out[0] and out[0].count(": 1") == 6 and "…" in out[0]


@pytest.mark.parametrize("damaged", [None, [], {"validation": "x"}, {"validation": {"a": "x", "b": -1}}])
def test_damaged_counts_give_no_warning_and_no_error(damaged):
    assert split_size_warnings(damaged) == []


def test_accuracy_interval_is_scipys_wilson_interval():
    low, high = accuracy_interval(9 / 11, 11)
    ci = binomtest(9, 11).proportion_ci(0.95, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high))
    assert low < 9 / 11 < high and high - low > 0.4  # 11 texts: a very wide interval
    narrow = accuracy_interval(0.9, 1000)
    assert narrow[1] - narrow[0] < 0.05


@pytest.mark.parametrize(
    ("acc", "n"), [(None, 10), (float("nan"), 10), (0.5, 0), (0.5, None), (0.5, float("nan")), ("x", 5)]
)
def test_accuracy_interval_unknown(acc, n):
    assert all(math.isnan(v) for v in accuracy_interval(acc, n))
    assert interval_text(*accuracy_interval(acc, n)) == ""


def test_interval_text():
    assert interval_text(0.523, 0.949) == "95% CI 52%–95%"


@pytest.mark.parametrize(
    ("mean", "std", "seeds", "text"),
    [
        (0.818, 0.0, 1, "81.8% (1 seed)"),
        (0.818, 0.021, 3, "81.8% ± 2.1% (3 seeds)"),
        (0.818, 0.0, 2, "81.8% ± 0.0% (2 seeds)"),
        (float("nan"), 0.0, 1, "–"),
    ],
)
def test_spread_text_says_one_seed_instead_of_zero_spread(mean, std, seeds, text):
    assert spread_text(mean, std, seeds) == text
