"""Labels with levels: both ways of giving them, the hierarchy they make, clear errors for a bad
level spec, the phase-2 pair scores and the per-level metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from threephase_core.data import DataError, load_dataset
from threephase_core.label_levels import LabelHierarchy, parse_label_spec
from threephase_core.metrics import level_metrics

ROWS = [  # (text, coarse, fine): "other" sits under two coarse classes
    ("who wrote hamlet", "HUM", "ind"),
    ("who was the first pope", "HUM", "ind"),
    ("which company makes the beetle", "HUM", "gr"),
    ("what group sang yesterday", "HUM", "gr"),
    ("where is the eiffel tower", "LOC", "city"),
    ("what city hosts the louvre", "LOC", "city"),
    ("name a mountain in nepal", "LOC", "other"),
    ("where do penguins live", "LOC", "other"),
    ("what is a group of crows called", "ENTY", "other"),
    ("what colour is a ruby", "ENTY", "other"),
]


def _frame(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["question", "coarse", "fine"])


def _as_columns(tmp_path, rows=ROWS):
    path = tmp_path / "columns.csv"
    df = _frame(rows)
    df["split"] = "train"
    pd.concat([df, df.assign(split="validation"), df.assign(split="test")]).to_csv(path, index=False)
    return path


def _as_separator(tmp_path, rows=ROWS, sep=":"):
    path = tmp_path / "sep.csv"
    df = _frame(rows)
    df = pd.DataFrame({"question": df["question"], "label": df["coarse"] + sep + df["fine"], "split": "train"})
    pd.concat([df, df.assign(split="validation"), df.assign(split="test")]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "column, sep, columns",
    [("coarse,fine", "", ("coarse", "fine")), (" coarse , fine ", "", ("coarse", "fine")), ("label", ":", ("label",))],
)
def test_both_forms_parse(column, sep, columns):
    spec = parse_label_spec(column, sep)
    assert spec.columns == columns and spec.sep == sep and spec.hierarchical


def test_one_column_without_a_separator_has_no_levels():
    assert not parse_label_spec("label").hierarchical


@pytest.mark.parametrize(
    "column, sep, message",
    [
        ("coarse,,fine", "", "a column name is empty"),
        ("coarse,coarse", "", "name 'coarse' twice"),
        ("coarse,fine", ":", "use one column with a separator, or one column per level"),
        ("", "", "no label column given"),
    ],
)
def test_a_bad_spec_is_refused_by_name(column, sep, message):
    with pytest.raises(DataError, match=message):
        parse_label_spec(column, sep)


def test_columns_and_separator_give_the_same_tree(tmp_path):
    by_columns = load_dataset(str(_as_columns(tmp_path)), "question", "coarse,fine")
    by_sep = load_dataset(str(_as_separator(tmp_path)), "question", "label", label_sep=":")
    for ds in (by_columns, by_sep):
        assert ds.hierarchy.n_levels == 2 and ds.num_classes == 5
        assert sorted(ds.hierarchy.names[0]) == ["ENTY", "HUM", "LOC"]
    # The separator form keeps the labels as written; columns name a fine class by its value, or by
    # its path when the value sits under two parents ("other" under LOC and ENTY).
    assert sorted(by_sep.label_names) == ["ENTY:other", "HUM:gr", "HUM:ind", "LOC:city", "LOC:other"]
    assert sorted(by_columns.label_names) == ["ENTY / other", "HUM / gr", "HUM / ind", "LOC / city", "LOC / other"]
    assert any("named by their path" in n for n in by_columns.notes)
    # Each row's coarse class is the parent of its fine class, in both forms.
    for ds in (by_columns, by_sep):
        coarse = ds.hierarchy.at_level(ds.train["label"], 1)
        got = [ds.hierarchy.names[0][c] for c in coarse]
        assert got == [r[1] for r in ROWS]


def test_unique_fine_values_keep_their_own_names(tmp_path):
    rows = [r for r in ROWS if r[2] != "other"]
    ds = load_dataset(str(_as_columns(tmp_path, rows)), "question", "coarse,fine")
    assert sorted(ds.label_names) == ["city", "gr", "ind"]


def test_an_unknown_level_column_is_named(tmp_path):
    with pytest.raises(DataError, match="has no column 'subtype'"):
        load_dataset(str(_as_columns(tmp_path)), "question", "coarse,subtype")


def test_a_separator_that_splits_rows_into_different_depths_is_refused(tmp_path):
    rows = [*ROWS[:-1], ("what colour is a ruby", "ENTY", "colour:gem")]
    path = _as_separator(tmp_path, rows)
    with pytest.raises(DataError, match="different numbers of levels: 'HUM:ind' has 2, 'ENTY:colour:gem' has 3"):
        load_dataset(str(path), "question", "label", label_sep=":")


def test_a_separator_the_labels_do_not_use_is_refused(tmp_path):
    with pytest.raises(DataError, match="the separator '/' occurs in none of the labels"):
        load_dataset(str(_as_separator(tmp_path)), "question", "label", label_sep="/")


def test_a_missing_value_at_one_level_is_refused(tmp_path):
    path = tmp_path / "gap.csv"
    df = _frame()
    df.loc[3, "coarse"] = None
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"1 row\(s\) have no label in column 'coarse' \(line 5\)"):
        load_dataset(str(path), "question", "coarse,fine")


def test_demo_has_two_levels_and_keeps_its_default():
    flat = load_dataset("demo")
    two = load_dataset("demo", label_column="group,label")
    assert flat.hierarchy is None
    assert two.label_names == flat.label_names  # same classes, same ids, same splits
    assert two.train["label"].tolist() == flat.train["label"].tolist()
    assert two.hierarchy.level_names == ["group", "label"]
    assert two.hierarchy.class_counts(two.train["label"], 1) == {
        "orders": 202,
        "billing": 69,
        "tech_support": 55,
        "pre_sales": 28,
    }
    with pytest.raises(DataError, match="the demo has no column 'intent'"):
        load_dataset("demo", label_column="group,intent")


def test_at_level_relabels_every_split():
    ds = load_dataset("demo", label_column="group,label")
    top = ds.at_level(1)
    assert top.label_names == ["orders", "billing", "tech_support", "pre_sales"]
    for split in ("train", "validation", "test"):
        expected = ds.hierarchy.at_level(ds.split(split)["label"], 1)
        assert top.split(split)["label"].tolist() == expected.tolist()
    assert top.hierarchy.n_levels == 1 and ds.at_level(0) is ds and ds.at_level(2) is ds


def test_at_level_refuses_a_level_the_labels_lack():
    from threephase_core.config import ConfigError

    with pytest.raises(ConfigError, match="ft.level=3, but the labels have 2 levels"):
        load_dataset("demo", label_column="group,label").at_level(3)
    with pytest.raises(ConfigError, match="the labels have one level"):
        load_dataset("demo").at_level(2)


def test_hierarchy_survives_its_json_form():
    ds = load_dataset("demo", label_column="group,label")
    again = LabelHierarchy.from_dict(ds.summary()["levels"])
    assert again.level_names == ds.hierarchy.level_names and again.names == ds.hierarchy.names
    assert np.array_equal(again.paths, ds.hierarchy.paths)
    with pytest.raises(ValueError):
        LabelHierarchy.from_dict({**ds.summary()["levels"], "paths": [[0, 9]]})


def test_demo_pairs_score_the_levels_they_share():
    """0.5 exactly for pairs in one group with different intents, 1 for one intent, 0 otherwise;
    and the imbalance correction counts the intents (the finest level)."""
    from threephase_core.config import CLConfig
    from threephase_core.phases.contrastive import prepare_pairs

    ds = load_dataset("demo", label_column="group,label")
    rows = ds.hierarchy.rows(ds.train["label"])
    pairs = prepare_pairs(ds.train["text"].tolist(), rows, ds.num_classes, CLConfig(), seed=0)
    path_of = dict(zip(pairs["texts"], map(tuple, pairs["labels"].tolist())))
    expected = [
        1.0 if path_of[a] == path_of[b] else 0.5 if path_of[a][0] == path_of[b][0] else 0.0
        for a, b in zip(pairs["a"], pairs["b"])
    ]
    assert pairs["scores"].tolist() == expected
    assert (pairs["scores"] == 0.5).sum() > 0
    names = ds.hierarchy.name_of_path()
    after = {names[p]: n for p, n in pairs["counts_after"].items()}
    assert after["cancel_subscription"] == 20 and after["technical_issue"] == 36  # demo README's worked values


def test_level_metrics_score_parents_of_the_fine_predictions():
    h = LabelHierarchy(["coarse", "fine"], [["A", "B"], ["a1", "a2", "b1"]], np.array([[0, 0], [0, 1], [1, 2]]))
    truth = {"test": np.array([0, 1, 2, 2])}
    predicted = {"test": np.array([1, 1, 0, 2])}  # a1->a2 wrong but right parent; b1->a1 wrong parent
    out = level_metrics(h, truth, predicted)
    assert list(out) == ["coarse", "fine"]
    assert out["fine"]["test"]["accuracy"] == 0.5
    assert out["coarse"]["test"]["accuracy"] == 0.75
    assert out["coarse"]["level"] == 1 and out["coarse"]["classes"] == 2


def test_tree_table_lists_each_class_under_its_parent_with_counts():
    from threephase_core.label_levels import tree_table

    ds = load_dataset("demo", label_column="group,label")
    rows = tree_table(ds.hierarchy, {s: ds.split(s)["label"] for s in ("train", "validation", "test")})
    assert [(r["level"], r["name"]) for r in rows[:3]] == [(1, "orders"), (2, "order_status"), (2, "returns_refunds")]
    for row in rows:
        if row["level"] == 1:  # a group holds the rows of its intents, in every split
            kids = [r for r in rows if r["parent"] == row["name"]]
            assert kids and all(row[s] == sum(k[s] for k in kids) for s in ("train", "validation", "test"))
    assert sum(r["train"] for r in rows if r["level"] == 2) == len(ds.train)


def test_levels_of_reads_a_summary_and_ignores_damage():
    from threephase_core.label_levels import levels_of

    assert levels_of(load_dataset("demo", label_column="group,label").summary()).n_levels == 2
    assert levels_of(load_dataset("demo").summary()) is None
    assert levels_of({"levels": {"level_names": ["a"], "names": [["x"]], "paths": "bad"}}) is None
