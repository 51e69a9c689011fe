"""label_issues.py: flipped labels in well-separated clusters are found; the probabilities are
out of sample; the table maps back to the given rows and names."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.filter import find_label_issues

from threephase_core import label_issues as li

NAMES = ["weather", "music", "alarm", "unused"]


@pytest.fixture
def clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 4
    y = np.repeat(np.arange(3), 40)
    x = centres[y] + rng.normal(size=(120, 16))
    given = y.copy()
    flipped = np.array([3, 45, 90, 100])
    given[flipped] = (y[flipped] + 1) % 3
    texts = np.array([f"text {i}" for i in range(120)])
    return x, y, given, flipped, texts


def test_flipped_labels_are_found_first(clusters):
    x, _, given, flipped, texts = clusters
    table = li.find_suspects(x, given, texts, NAMES)
    assert list(table.columns) == li.COLUMNS
    assert set(flipped) <= set(table["row"])
    assert set(table["row"][: len(flipped)]) == set(flipped)  # worst first
    row = table.set_index("row").loc[45]
    assert row["text"] == "text 45" and row["given"] == "alarm" and row["suggested"] == "music"
    assert row["p_suggested"] > row["p_given"]
    assert table["label_quality"].is_monotonic_increasing


def test_probabilities_are_out_of_sample(clusters):
    x, _, given, flipped, _ = clusters
    proba = li.out_of_sample_proba(x, given)
    assert proba.shape == (120, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    # A model that saw the flipped labels would back them; out of sample it does not.
    assert (proba[flipped, given[flipped]] < 0.5).all()


def test_table_is_cleanlab_on_the_given_probabilities(clusters):
    x, _, given, _, texts = clusters
    proba = li.out_of_sample_proba(x, given)
    want = find_label_issues(given, proba, return_indices_ranked_by="self_confidence")
    assert li.suspect_labels(given, proba, texts, NAMES)["row"].tolist() == want.tolist()


def test_classes_with_no_text_are_left_out(clusters):
    x, _, given, flipped, texts = clusters
    relabelled = np.where(given == 2, 3, given)  # classes 0, 1, 3: class 2 has no text
    proba = li.out_of_sample_proba(x, relabelled)
    assert proba.shape == (120, 4) and (proba[:, 2] == 0).all()
    table = li.suspect_labels(relabelled, proba, texts, NAMES)
    assert set(flipped) <= set(table["row"])
    assert "alarm" not in set(table["given"]) | set(table["suggested"])


def test_too_few_texts_is_a_clear_message():
    x = np.random.default_rng(0).normal(size=(5, 4))
    with pytest.raises(li.NotEnoughData, match="at least two classes"):
        li.out_of_sample_proba(x, np.array([0, 0, 0, 0, 1]))
    with pytest.raises(li.NotEnoughData, match="1 class"):
        li.out_of_sample_proba(x, np.zeros(5, int))
