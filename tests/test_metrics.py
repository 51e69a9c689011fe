"""Classification metrics against values computed by hand."""
from __future__ import annotations

import json

import pytest

from threephase_core.metrics import classification_metrics

NAMES = ["a", "b", "c"]
Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0]
# class a: predicted at rows 0 and 5, right once -> P 1/2, R 1/2, F 1/2
# class b: predicted at rows 1, 2, 3, right twice -> P 2/3, R 1,   F 4/5
# class c: predicted at row 4, right            -> P 1,   R 1/2, F 2/3


def test_multiclass_by_hand():
    m = classification_metrics(Y_TRUE, Y_PRED, NAMES)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["recall_macro"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["f1_macro"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert m["n"] == 6
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]  # rows: true, columns: predicted
    assert set(m["per_class"]) == set(NAMES)
    assert m["per_class"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1-score": 0.8, "support": 2.0})
    assert m["per_class"]["c"]["f1-score"] == pytest.approx(2 / 3)
    assert "f1_binary" not in m
    json.dumps(m)  # plain JSON values only
    assert all(type(m[k]) is float for k in ("accuracy", "precision_macro", "recall_macro", "f1_macro"))


def test_perfect_and_all_wrong():
    assert classification_metrics([0, 1, 2], [0, 1, 2], NAMES)["f1_macro"] == 1.0
    wrong = classification_metrics([0, 1, 2], [1, 2, 0], NAMES)
    assert wrong["accuracy"] == 0.0 and wrong["f1_macro"] == 0.0


def test_binary_adds_f1_binary():
    # positive class 1: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 0.8
    # class 0: TP 2, FP 1, FN 0 -> P 2/3, R 1, F1 0.8
    m = classification_metrics([0, 1, 1, 0, 1], [0, 1, 0, 0, 1], ["neg", "pos"])
    assert m["f1_binary"] == pytest.approx(0.8)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["f1_macro"] == pytest.approx(0.8)
    assert m["confusion_matrix"] == [[2, 0], [1, 2]]


def test_binary_f1_is_about_class_one():
    m = classification_metrics([0, 0, 0, 1], [0, 0, 0, 0], ["neg", "pos"])
    assert m["f1_binary"] == 0.0
    assert m["accuracy"] == 0.75


def test_confusion_matrix_covers_every_named_class():
    m = classification_metrics([0, 0], [0, 0], ["a", "b", "c", "d"])
    assert m["confusion_matrix"] == [[2, 0, 0, 0]] + [[0, 0, 0, 0]] * 3
    assert set(m["per_class"]) == {"a", "b", "c", "d"}
