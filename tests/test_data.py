"""Dataset loading: every supported source, carving, caps, and each input error as DataError."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from threephase_core.carving import stratified_sample
from threephase_core.data import DataError, TextDataset, load_dataset


def _frame(counts: dict, prefix: str = "") -> pd.DataFrame:
    rows = [(f"{prefix}{label} example number {k}", label) for label, n in counts.items() for k in range(n)]
    return pd.DataFrame(rows, columns=["text", "label"])


def _labels_of(ds: TextDataset, split: str) -> list[str]:
    return [ds.label_names[i] for i in ds.split(split)["label"]]


def _assert_well_formed(ds: TextDataset):
    for split in ("train", "validation", "test"):
        df = ds.split(split)
        assert list(df.columns) == ["text", "label"]
        assert df["label"].dtype == "int64"
        assert df["text"].map(type).eq(str).all()
        assert list(df.index) == list(range(len(df)))
        assert df["label"].between(0, ds.num_classes - 1).all()


# ---- sources ---------------------------------------------------------------------------
def test_demo():
    ds = load_dataset("demo")
    _assert_well_formed(ds)
    assert ds.name == "demo" and ds.num_classes == 7
    assert all(len(ds.split(s)) > 0 for s in ("train", "validation", "test"))
    assert set(ds.train["label"]) == set(range(7))
    summary = ds.summary()
    assert summary["rows"]["train"] == len(ds.train)
    assert sum(summary["class_counts"]["train"].values()) == len(ds.train)
    assert not any("carved" in n for n in ds.notes)


def test_shared_folder_layout_parquet(tmp_path):
    folder = tmp_path / "intents"
    folder.mkdir()
    names = ["greet", "bye", "thanks"]
    (folder / "labels.json").write_text(json.dumps(names))
    _frame({0: 8, 1: 6, 2: 4}).to_parquet(folder / "train.parquet")
    _frame({0: 2, 1: 2, 2: 1}, "val ").to_parquet(folder / "validation.parquet")
    _frame({0: 3, 1: 1, 2: 1}, "test ").to_parquet(folder / "test.parquet")
    ds = load_dataset(str(folder))
    _assert_well_formed(ds)
    assert ds.name == "intents" and ds.label_names == names
    assert [len(ds.train), len(ds.validation), len(ds.test)] == [18, 5, 5]
    assert ds.class_counts("train") == {"greet": 8, "bye": 6, "thanks": 4}
    assert ds.class_counts("test") == {"greet": 3, "bye": 1, "thanks": 1}
    assert ds.train["text"].tolist() == _frame({0: 8, 1: 6, 2: 4})["text"].tolist()
    assert not any("carved" in n for n in ds.notes)


def test_folder_with_string_labels_and_labels_json_order(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "labels.json").write_text(json.dumps(["zeta", "alpha"]))
    _frame({"alpha": 5, "zeta": 5}).to_csv(folder / "train.csv", index=False)
    ds = load_dataset(str(folder))
    assert ds.label_names == ["zeta", "alpha"]  # labels.json order, not alphabetical
    assert all(t.startswith(n) for t, n in zip(ds.train["text"], _labels_of(ds, "train")))


def test_folder_label_not_in_labels_json(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "labels.json").write_text(json.dumps(["a", "b"]))
    _frame({"a": 5, "b": 5, "c": 5}).to_csv(folder / "train.csv", index=False)
    with pytest.raises(DataError, match="labels.json"):
        load_dataset(str(folder))


def test_folder_without_train(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    _frame({"a": 5, "b": 5}).to_csv(folder / "test.csv", index=False)
    with pytest.raises(DataError, match="no train file"):
        load_dataset(str(folder))


def test_csv_with_string_labels(tmp_path):
    f = tmp_path / "tickets.csv"
    df = _frame({"refund": 10, "delivery": 10, "account": 10})
    df.to_csv(f, index=False)
    ds = load_dataset(str(f), seed=0)
    _assert_well_formed(ds)
    assert ds.name == "tickets"
    assert ds.label_names == ["account", "delivery", "refund"]
    # every row keeps its own label name through the id mapping, in every split
    for split in ("train", "validation", "test"):
        for text, name in zip(ds.split(split)["text"], _labels_of(ds, split)):
            assert text.startswith(name + " ")
    assert sorted(pd.concat([ds.train, ds.validation, ds.test])["text"]) == sorted(df["text"])


def test_csv_custom_columns(tmp_path):
    f = tmp_path / "x.csv"
    pd.DataFrame({"sentence": [f"s {i}" for i in range(20)], "intent": ["a", "b"] * 10, "other": 1}).to_csv(
        f, index=False
    )
    ds = load_dataset(str(f), text_column="sentence", label_column="intent")
    assert ds.label_names == ["a", "b"] and len(ds.train) + len(ds.validation) + len(ds.test) == 20


def test_jsonl(tmp_path):
    f = tmp_path / "data.jsonl"
    rows = [{"text": f"text {i}", "label": i % 3} for i in range(30)]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    ds = load_dataset(str(f))
    _assert_well_formed(ds)
    assert ds.label_names == ["0", "1", "2"]
    assert len(ds.train) + len(ds.validation) + len(ds.test) == 30
    for split in ("train", "validation", "test"):
        for text, label in zip(ds.split(split)["text"], ds.split(split)["label"]):
            assert int(text.split()[1]) % 3 == label


def test_jsonl_keeps_unicode_line_separators_inside_texts(tmp_path):
    """pandas' to_json(force_ascii=False) leaves U+2028, U+0085 etc. unescaped in strings; a
    JSON-lines reader must split records at "\n" only (str.splitlines() cut them apart)."""
    f = tmp_path / "data.jsonl"
    texts = [f"line one\u2028line two {i}" if i % 2 else f"next\x85line\x0c{i}" for i in range(30)]
    pd.DataFrame({"text": texts, "label": [i % 3 for i in range(30)]}).to_json(
        f, orient="records", lines=True, force_ascii=False
    )
    assert "\u2028" in f.read_text(encoding="utf-8")  # written raw, the case that broke
    ds = load_dataset(str(f))
    got = sorted(pd.concat([ds.train, ds.validation, ds.test])["text"])
    assert got == sorted(texts)


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_jsonl_windows_and_old_mac_line_endings(tmp_path, newline):
    f = tmp_path / "data.jsonl"
    rows = [{"text": f"text {i}", "label": i % 2} for i in range(20)]
    f.write_bytes(newline.join(json.dumps(r) for r in rows).encode() + newline.encode())
    ds = load_dataset(str(f))
    assert len(ds.train) + len(ds.validation) + len(ds.test) == 20
    assert not any(t.endswith("\r") for t in ds.train["text"])


def test_json_array(tmp_path):
    f = tmp_path / "data.json"
    f.write_text(json.dumps([{"text": f"text {i}", "label": "ab"[i % 2]} for i in range(20)]))
    ds = load_dataset(str(f))
    assert ds.label_names == ["a", "b"]


def test_split_column(tmp_path):
    f = tmp_path / "all.csv"
    df = pd.concat(
        [
            _frame({"a": 6, "b": 6}).assign(split="train"),
            _frame({"a": 2, "b": 1}, "v ").assign(split="dev"),
            _frame({"a": 1, "b": 2}, "t ").assign(split="Test"),
        ]
    )
    df.to_csv(f, index=False)
    ds = load_dataset(str(f))
    assert [len(ds.train), len(ds.validation), len(ds.test)] == [12, 3, 3]
    assert all(t.startswith("v ") for t in ds.validation["text"])
    assert all(t.startswith("t ") for t in ds.test["text"])
    assert not any("carved" in n for n in ds.notes)


def test_split_column_with_only_train_and_test_carves_validation(tmp_path):
    f = tmp_path / "all.csv"
    pd.concat(
        [_frame({"a": 10, "b": 10}).assign(split="train"), _frame({"a": 2, "b": 2}, "t ").assign(split="test")]
    ).to_csv(f, index=False)
    ds = load_dataset(str(f))
    assert len(ds.test) == 4 and len(ds.validation) == 2
    assert [n for n in ds.notes if "carved" in n] == [n for n in ds.notes if n.startswith("validation split carved")]


def test_split_column_unknown_value_is_an_error(tmp_path):
    f = tmp_path / "all.csv"
    pd.concat(
        [_frame({"a": 4, "b": 4}).assign(split="train"), _frame({"a": 2, "b": 2}, "x ").assign(split="holdout")]
    ).to_csv(f, index=False)
    with pytest.raises(DataError, match="holdout"):
        load_dataset(str(f))


def test_split_column_without_train(tmp_path):
    f = tmp_path / "all.csv"
    _frame({"a": 4, "b": 4}).assign(split="test").to_csv(f, index=False)
    with pytest.raises(DataError, match="train"):
        load_dataset(str(f))


# ---- carving and caps ------------------------------------------------------------------
def test_carving_is_stratified_seeded_and_noted(tmp_path):
    f = tmp_path / "d.csv"
    df = _frame({"a": 100, "b": 50, "c": 20})
    df.to_csv(f, index=False)
    ds = load_dataset(str(f), seed=0, val_fraction=0.1, test_fraction=0.2)
    # test first: round(0.2 * n) per class; then validation from what is left
    assert ds.class_counts("test") == {"a": 20, "b": 10, "c": 4}
    assert ds.class_counts("validation") == {"a": 8, "b": 4, "c": 2}
    assert ds.class_counts("train") == {"a": 72, "b": 36, "c": 14}
    texts = [set(ds.split(s)["text"]) for s in ("train", "validation", "test")]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert set.union(*texts) == set(df["text"])
    assert any(n.startswith("test split carved from train: 34 rows") for n in ds.notes)
    assert any(n.startswith("validation split carved from train: 14 rows") for n in ds.notes)
    again = load_dataset(str(f), seed=0, val_fraction=0.1, test_fraction=0.2)
    other = load_dataset(str(f), seed=1, val_fraction=0.1, test_fraction=0.2)
    assert again.test["text"].tolist() == ds.test["text"].tolist()
    assert again.train["text"].tolist() == ds.train["text"].tolist()
    assert set(other.test["text"]) != set(ds.test["text"])


def test_small_class_keeps_a_training_row(tmp_path):
    f = tmp_path / "d.csv"
    _frame({"a": 30, "b": 2}).to_csv(f, index=False)
    ds = load_dataset(str(f))
    assert ds.class_counts("train")["b"] >= 1


def test_single_example_class_is_kept_in_train_and_noted(tmp_path):
    f = tmp_path / "d.csv"
    _frame({"a": 10, "b": 10, "lonely": 1}).to_csv(f, index=False)
    ds = load_dataset(str(f))
    assert ds.class_counts("train")["lonely"] == 1
    assert ds.class_counts("validation")["lonely"] == 0 and ds.class_counts("test")["lonely"] == 0
    assert any("single training example" in n and "lonely" in n for n in ds.notes)


def test_duplicates_are_counted_not_removed(tmp_path):
    f = tmp_path / "d.csv"
    df = _frame({"a": 5, "b": 5})
    df = pd.concat([df, df.iloc[[0, 0, 7]]])  # 3 duplicate rows
    df.to_csv(f, index=False)
    folder = tmp_path / "dup"
    folder.mkdir()
    df.to_csv(folder / "train.csv", index=False)
    _frame({"a": 1, "b": 1}, "v ").to_csv(folder / "validation.csv", index=False)
    _frame({"a": 1, "b": 1}, "t ").to_csv(folder / "test.csv", index=False)
    ds = load_dataset(str(folder))
    assert len(ds.train) == 13
    assert "3 duplicate text(s) in train (kept)" in ds.notes


def test_overlap_between_splits_is_noted(tmp_path):
    folder = tmp_path / "leak"
    folder.mkdir()
    train = _frame({"a": 5, "b": 5})
    train.to_csv(folder / "train.csv", index=False)
    train.iloc[:2].to_csv(folder / "validation.csv", index=False)
    _frame({"a": 1, "b": 1}, "t ").to_csv(folder / "test.csv", index=False)
    ds = load_dataset(str(folder))
    assert "2 validation text(s) also appear in train" in ds.notes


def test_max_train_rows(tmp_path):
    full = load_dataset("demo")
    capped = load_dataset("demo", max_train_rows=70, seed=0)
    assert abs(len(capped.train) - 70) <= full.num_classes
    assert set(capped.train["label"]) == set(full.train["label"])  # every class keeps a row
    assert set(capped.train["text"]) <= set(full.train["text"])
    assert capped.validation.equals(full.validation) and capped.test.equals(full.test)
    assert any("capped at 70" in n for n in capped.notes)
    # shares are kept
    share_full = full.train["label"].value_counts(normalize=True)
    share_cap = capped.train["label"].value_counts(normalize=True)
    assert (share_full - share_cap).abs().max() < 0.03
    assert load_dataset("demo", max_train_rows=70, seed=0).train.equals(capped.train)
    assert len(load_dataset("demo", max_train_rows=10_000).train) == len(full.train)


def test_stratified_sample_keeps_every_class():
    df = pd.DataFrame({"text": [str(i) for i in range(103)], "label": [0] * 100 + [1, 2, 3]})
    out = stratified_sample(df, 10, seed=0)
    assert set(out["label"]) == {0, 1, 2, 3}
    assert (out["label"] == 0).sum() == 10


# ---- errors ----------------------------------------------------------------------------
def _write(path: Path, content) -> str:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "name, content, fragments",
    [
        ("empty.csv", b"", ["empty"]),
        ("empty.jsonl", b"", ["empty"]),
        ("header_only.csv", "text,label\n", ["no rows"]),
        ("cols.csv", pd.DataFrame({"sentence": ["a", "b"], "label": [0, 1]}), ["'text'", "['sentence', 'label']"]),
        ("cols2.csv", pd.DataFrame({"text": ["a", "b"], "intent": [0, 1]}), ["'label'", "['text', 'intent']"]),
        ("emptytext.csv", "text,label\nhello there,a\n,b\nfine,b\n", ["empty text", "(line 3)"]),
        ("blanktext.csv", "text,label\nhello there,a\n   ,b\nfine,b\n", ["empty text"]),
        ("alltextempty.csv", "text,label\n,a\n,b\n", ["every text is empty"]),
        ("nolabel.csv", "text,label\nhello,a\nthere,\nfine,b\n", ["no label", "(line 3)"]),
        ("nolabel_num.csv", "text,label\nhello,0\nthere,\nfine,1\n", ["no label"]),
        ("single.csv", "text,label\nhello,a\nthere,a\nfine,a\n", ["single class", "'a'"]),
        ("utf16.csv", b"\xff\xfet\x00e\x00x\x00t\x00,\x00l\x00a\x00b\x00e\x00l\x00\n\x00", ["UTF-8"]),
        ("latin1.csv", "text,label\ncaf\xe9 ok,a\nother,b\n".encode("latin-1"), ["UTF-8"]),
        ("bad.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label"\n', ["could not be parsed"]),
        ("badutf.jsonl", b'{"text": "\xff\xfe", "label": 1}\n', ["UTF-8"]),
        ("neg.csv", "text,label\na,-1\nb,0\n", ["whole numbers"]),
        ("frac.csv", "text,label\na,0.5\nb,1\n", ["whole numbers"]),
        ("corrupt.parquet", b"this is not parquet at all", ["corrupt.parquet"]),
    ],
)
def test_bad_files_raise_data_error(tmp_path, name, content, fragments):
    with pytest.raises(DataError) as err:
        load_dataset(_write(tmp_path / name, content))
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_dataset(str(tmp_path / "nope.csv"))


def test_no_dataset_given():
    with pytest.raises(DataError):
        load_dataset("  ")


def test_unsupported_existing_file(tmp_path):
    with pytest.raises(DataError, match="unsupported"):
        load_dataset(_write(tmp_path / "data.txt", "hello\n"))


@pytest.mark.parametrize("label_kind", ["str", "int"])
def test_validation_label_not_in_train(tmp_path, label_kind):
    folder = tmp_path / "d"
    folder.mkdir()
    lab = (lambda x: x) if label_kind == "str" else (lambda x: "abc".index(x))
    _frame({lab("a"): 5, lab("b"): 5}).to_parquet(folder / "train.parquet")
    _frame({lab("a"): 1, lab("c"): 1}, "v ").to_parquet(folder / "validation.parquet")
    with pytest.raises(DataError) as err:
        load_dataset(str(folder))
    msg = str(err.value)
    assert "validation" in msg and "never occur in train" in msg
    assert ("'c'" if label_kind == "str" else "'2'") in msg


def test_test_label_not_in_train(tmp_path):
    f = tmp_path / "all.csv"
    pd.concat([_frame({"a": 4, "b": 4}).assign(split="train"), _frame({"z": 1}, "t ").assign(split="test")]).to_csv(
        f, index=False
    )
    with pytest.raises(DataError, match="test has label"):
        load_dataset(str(f))


def test_labels_json_may_name_classes_absent_from_the_data(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "labels.json").write_text(json.dumps(["a", "b", "unused"]))
    _frame({0: 5, 1: 5}).to_parquet(folder / "train.parquet")
    ds = load_dataset(str(folder))
    assert ds.num_classes == 3 and ds.class_counts()["unused"] == 0


@pytest.mark.parametrize("content", ['{"a": 1}', "[1, 2]", "not json"])
def test_bad_labels_json(tmp_path, content):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "labels.json").write_text(content)
    _frame({0: 5, 1: 5}).to_parquet(folder / "train.parquet")
    with pytest.raises(DataError, match="labels.json"):
        load_dataset(str(folder))


def test_labels_json_too_short_for_numeric_labels(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "labels.json").write_text(json.dumps(["a", "b"]))
    _frame({0: 5, 1: 5, 2: 5}).to_parquet(folder / "train.parquet")
    with pytest.raises(DataError, match="labels.json"):
        load_dataset(str(folder))


def test_hub_id_offline_is_a_data_error():
    with pytest.raises(DataError) as err:
        load_dataset("no-such-user/no-such-dataset-xyz")
    assert "no-such-user/no-such-dataset-xyz" in str(err.value)


def test_numeric_labels_without_names_are_mapped_to_the_values_that_occur(tmp_path):
    """Star ratings 1-5 make 5 classes named '1'..'5', not a phantom class '0'."""
    f = tmp_path / "stars.csv"
    rows = [f"text number {i} about stars,{1 + i % 5}" for i in range(100)]
    f.write_text("text,label\n" + "\n".join(rows) + "\n")
    ds = load_dataset(str(f))
    assert ds.label_names == ["1", "2", "3", "4", "5"]
    assert sorted(set(ds.train["label"])) == [0, 1, 2, 3, 4]


def test_duplicate_source_index_does_not_mix_up_carving(tmp_path):
    a = pd.DataFrame({"text": [f"alpha {i}" for i in range(50)], "label": ["a"] * 50})
    b = pd.DataFrame({"text": [f"beta {i}" for i in range(50)], "label": ["b"] * 50})
    pd.concat([a, b]).to_parquet(tmp_path / "train.parquet")  # index 0..49 twice
    ds = load_dataset(str(tmp_path))
    assert len(ds.test) == 10 and len(ds.validation) == 8 and len(ds.train) == 82  # 10% of 45 per class rounds to 4
    assert not set(ds.train["text"]) & set(ds.test["text"])


def test_too_little_data_to_carve_is_a_clear_error(tmp_path):
    f = tmp_path / "tiny.csv"
    f.write_text("text,label\nfirst text,a\nsecond text,b\nthird text,b\n")
    with pytest.raises(DataError, match="split is empty"):
        load_dataset(str(f))


def test_hub_class_label_keeps_the_datasets_own_class_ids(monkeypatch):
    """A ClassLabel's ids and names are kept (class 1 stays the dataset's class 1, which binary F1
    treats as positive), not re-sorted by name. `datasets.load_dataset` is stood in for (offline)."""
    import datasets

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["unacceptable", "acceptable"])}
    )

    def split(n):
        return datasets.Dataset.from_dict(
            {"text": [f"sentence {i} here" for i in range(n)], "label": [i % 2 for i in range(n)]}, features=features
        )

    monkeypatch.setattr(
        datasets,
        "load_dataset",
        lambda spec, *a, **k: datasets.DatasetDict(train=split(20), validation=split(6), test=split(6)),
    )
    ds = load_dataset("someone/cola-like")
    assert ds.label_names == ["unacceptable", "acceptable"]
    row0 = ds.train[ds.train["text"] == "sentence 0 here"]
    assert row0["label"].tolist() == [0]  # hub label 0 = unacceptable
    assert sorted(set(ds.test["label"])) == [0, 1]


# ---- bad-input review: JSON layouts, carving advice, row numbers, labels.json, cells -----
_TEXTS = ["where is my parcel", "track my order", "refund please", "money back", "cancel it", "stop the order"] * 2
_LABELS = ["order", "order", "refund", "refund", "cancel", "cancel"] * 2


def _pairs(ds: TextDataset) -> list[tuple[str, str]]:
    return sorted(
        (t, ds.label_names[i])
        for s in ("train", "validation", "test")
        for t, i in zip(ds.split(s)["text"], ds.split(s)["label"])
    )


@pytest.mark.parametrize(
    "name, write",
    [
        (
            "pandas_default.json",
            lambda f: pd.DataFrame({"text": _TEXTS, "label": _LABELS}).to_json(f),
        ),  # {"text": {"0": ..}}
        ("columns.json", lambda f: f.write_text(json.dumps({"text": _TEXTS, "label": _LABELS}))),
        (
            "bom.json",
            lambda f: f.write_bytes(
                b"\xef\xbb\xbf" + json.dumps([{"text": t, "label": lab} for t, lab in zip(_TEXTS, _LABELS)]).encode()
            ),
        ),
        (
            "bom.jsonl",
            lambda f: f.write_bytes(
                b"\xef\xbb\xbf"
                + "\n".join(json.dumps({"text": t, "label": lab}) for t, lab in zip(_TEXTS, _LABELS)).encode()
            ),
        ),
    ],
)
def test_json_layouts_and_byte_order_mark(tmp_path, name, write):
    """pandas' default to_json layout and a dict of lists are tables of columns (they were read as
    one row of dicts: a 'single class' error); a UTF-8 BOM is dropped, as for CSV."""
    f = tmp_path / name
    write(f)
    ds = load_dataset(str(f))
    _assert_well_formed(ds)
    assert ds.label_names == ["cancel", "order", "refund"]
    assert _pairs(ds) == sorted(zip(_TEXTS, _LABELS))


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("strings.json", json.dumps(["where is my parcel", "refund please"]), "a list whose item 0 is a string"),
        ("number.json", "42", "holds a number"),
        (
            "unequal.json",
            json.dumps({"text": ["a", "b"], "label": ["x"]}),
            "neither all objects nor all lists of one length",
        ),
        ("lists.jsonl", '{"text": "a", "label": "x"}\n\n[1, 2]\n', "line 3 is a list, not an object"),
    ],
)
def test_json_that_is_not_a_table_is_refused(tmp_path, name, content, fragment):
    with pytest.raises(DataError) as err:
        load_dataset(_write(tmp_path / name, content))
    assert fragment in str(err.value)
    if name.endswith(".json"):
        assert "expected a list of records, a dict of columns, or JSON lines" in str(err.value)


def test_broken_json_lines_name_the_line(tmp_path):
    f = _write(tmp_path / "d.jsonl", '{"text": "a", "label": "x"}\n\n{"text": "b", "label"\n')
    with pytest.raises(DataError, match="could not be parsed as JSON lines: line 3, column"):
        load_dataset(f)


def test_empty_carved_split_states_the_real_requirement(tmp_path):
    """Carving takes one row per class for test, then one for validation, and always leaves one
    in train: two rows per class are not enough (the old advice said they were)."""
    f = _write(tmp_path / "tiny4.csv", "text,label\nhello,a\nhi,a\nbye,b\nciao,b\n")
    with pytest.raises(DataError) as err:
        load_dataset(f)
    msg = str(err.value)
    assert "the validation split is empty" in msg
    assert "at least 3 rows" in msg and "largest class has 2 of the 4 training rows" in msg
    assert "train keeps 2 after carving" in msg
    assert "two rows" not in msg and "label column" not in msg
    # the rule holds: a third row in one class is enough
    f2 = _write(tmp_path / "tiny5.csv", "text,label\nhello,a\nhi,a\nhey,a\nbye,b\nciao,b\n")
    ds = load_dataset(f2)
    assert len(ds.validation) >= 1 and len(ds.test) >= 1


def test_empty_carved_split_with_a_given_test_split_needs_two_rows(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    _write(folder / "train.csv", "text,label\nhello,a\nbye,b\n")
    _write(folder / "test.csv", "text,label\nhi,a\n")
    with pytest.raises(DataError) as err:
        load_dataset(str(folder))
    assert "carving validation from train needs a class with at least 2 rows" in str(err.value)
    _write(folder / "train.csv", "text,label\nhello,a\nbye,b\nciao,b\n")
    assert len(load_dataset(str(folder)).validation) == 1  # b's 2 rows: one for validation, one kept


def test_swapped_text_and_label_columns_are_pointed_at(tmp_path):
    f = tmp_path / "good.csv"
    pd.DataFrame({"text": _TEXTS[:6], "label": _LABELS[:6]}).to_csv(f, index=False)
    with pytest.raises(DataError) as err:
        load_dataset(str(f), "label", "text")
    assert "every label occurs once: is the label column right (text='label', label='text')?" in str(err.value)


def test_same_text_and_label_column_is_refused(tmp_path):
    f = tmp_path / "good.csv"
    pd.DataFrame({"text": _TEXTS, "label": _LABELS}).to_csv(f, index=False)
    with pytest.raises(DataError, match="both 'text'; choose two different columns"):
        load_dataset(str(f), "text", "text")


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        # header line 1; a quoted text over lines 2-3; a blank line 4; the empty texts on lines 6 and 7
        (
            "multiline.csv",
            'text,label\n"two\nlines",a\n\nfine,b\n,a\n,b\nok,b\n',
            "2 row(s) have an empty text (lines 6, 7)",
        ),
        (
            "split.csv",
            "text,label,split\na,x,train\nb,y,train\nc,x,test\n,y,test\n",
            "1 row(s) have an empty text (line 5)",
        ),
        (
            "blank.jsonl",
            '{"text": "a", "label": "x"}\n\n{"text": "b", "label": null}\n',
            "1 row(s) have no label (line 3)",
        ),
        ("crlf.csv", b"\xef\xbb\xbftext,label\r\na,x\r\nb,\r\n", "1 row(s) have no label (line 3)"),
    ],
)
def test_bad_rows_are_named_by_their_file_line(tmp_path, name, content, fragment):
    with pytest.raises(DataError) as err:
        load_dataset(_write(tmp_path / name, content))
    assert fragment in str(err.value)
    assert str(err.value).startswith(name)


def test_bad_rows_in_parquet_are_named_by_row_counting_from_zero(tmp_path):
    f = tmp_path / "d.parquet"
    pd.DataFrame({"text": ["a", "b", None, "d"], "label": ["x", "y", "x", "y"]}).to_parquet(f)
    with pytest.raises(DataError, match=r"1 row\(s\) have an empty text \(row 2, counting from 0\)"):
        load_dataset(str(f))


def test_split_column_in_a_parquet_file_with_a_repeated_index(tmp_path):
    """The split mask is taken by position: a stored pandas index that repeats (two frames
    concatenated) made the old code fail with a pandas IndexingError."""
    a = pd.DataFrame(
        {"text": [f"t{i}" for i in range(20)], "label": ["a", "b"] * 10, "split": ["train"] * 16 + ["test"] * 4}
    )
    pd.concat([a, a.assign(text="u" + a["text"])]).to_parquet(tmp_path / "d.parquet")
    ds = load_dataset(str(tmp_path / "d.parquet"))
    assert sorted(ds.test["text"]) == sorted([f"t{i}" for i in range(16, 20)] + [f"ut{i}" for i in range(16, 20)])
    assert len(ds.train) + len(ds.validation) == 32


def test_labels_json_with_a_repeated_name_is_refused(tmp_path):
    """A repeated name would be a phantom class id that no row has."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "labels.json").write_text(json.dumps(["order", "order", "refund", "cancel"]))
    pd.DataFrame({"text": _TEXTS, "label": _LABELS}).to_csv(folder / "train.csv", index=False)
    with pytest.raises(DataError, match=r"names \['order'\] more than once"):
        load_dataset(str(folder))


@pytest.mark.parametrize(
    "name, write, fragment",
    [
        (
            "list.parquet",
            lambda f: pd.DataFrame({"text": [[t] for t in _TEXTS], "label": _LABELS}).to_parquet(f),
            "column 'text' holds lists or objects",
        ),
        (
            "dict.jsonl",
            lambda f: f.write_text(
                "\n".join(
                    json.dumps({"text": t, "label": {"a": 1} if i == 3 else lab})
                    for i, (t, lab) in enumerate(zip(_TEXTS, _LABELS))
                )
            ),
            "column 'label' holds lists or objects, not one label per row (1 row(s): line 4)",
        ),
    ],
)
def test_list_or_object_cells_are_refused(tmp_path, name, write, fragment):
    """They used to become texts like "['where is my parcel']" or a class "{'a': 1}"."""
    f = tmp_path / name
    write(f)
    with pytest.raises(DataError) as err:
        load_dataset(str(f))
    assert fragment in str(err.value)


def test_cap_note_says_how_many_rows_were_kept():
    """Every class keeps a row, so a cap of 1 keeps one row per class: the note says so."""
    full = load_dataset("demo")
    capped = load_dataset("demo", max_train_rows=1)
    assert len(capped.train) == full.num_classes
    note = next(n for n in capped.notes if "capped" in n)
    assert f"kept {full.num_classes} of {len(full.train)}" in note and "at least one row" in note


def test_folder_with_two_train_files_is_refused(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    pd.DataFrame({"text": _TEXTS, "label": _LABELS}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"text": _TEXTS[:4], "label": _LABELS[:4]}).to_parquet(folder / "train.parquet")
    with pytest.raises(DataError) as err:
        load_dataset(str(folder))
    assert "train.parquet" in str(err.value) and "train.csv" in str(err.value)


def test_same_text_with_different_labels_is_noted(tmp_path):
    f = tmp_path / "d.csv"
    pd.DataFrame({"text": _TEXTS + ["where is my parcel"], "label": _LABELS + ["refund"]}).to_csv(f, index=False)
    ds = load_dataset(str(f))
    assert (
        "1 text(s) occur with conflicting labels (kept; e.g. 'where is my parcel' is labelled order, refund)"
        in ds.notes
    )
    plain = load_dataset(_write(tmp_path / "p.csv", pd.DataFrame({"text": _TEXTS, "label": _LABELS})))
    assert not any("conflicting" in n for n in plain.notes)  # duplicates with one label are not conflicts


def test_hub_rows_are_named_counting_from_zero_and_unlabelled_splits_skipped(monkeypatch):
    import datasets

    train = datasets.Dataset.from_dict({"text": ["a b", "c d", "", "e f"], "label": [0, 1, 0, 1]})
    monkeypatch.setattr(datasets, "load_dataset", lambda spec, *a, **k: datasets.DatasetDict(train=train))
    with pytest.raises(
        DataError, match=r"someone/x\[train\]: 1 row\(s\) have an empty text \(row 2, counting from 0\)"
    ):
        load_dataset("someone/x")
    train = datasets.Dataset.from_dict({"text": [f"text {i}" for i in range(20)], "label": [i % 2 for i in range(20)]})
    test = datasets.Dataset.from_dict({"text": [None, "x"], "label": [-1, -1]})  # GLUE-style: no labels
    monkeypatch.setattr(datasets, "load_dataset", lambda spec, *a, **k: datasets.DatasetDict(train=train, test=test))
    ds = load_dataset("someone/x")
    assert any(n.startswith("test split carved") for n in ds.notes)


def test_bytes_cells_are_decoded_and_non_utf8_ones_named(tmp_path):
    """A parquet "binary" column loads as text; bytes that are not UTF-8 get a DataError naming the
    rows (pandas raised a bare UnicodeDecodeError)."""
    folder = tmp_path / "binary"
    folder.mkdir()
    texts = [b"hello world", b"good day", "caf\u00e9".encode()] * 4
    pd.DataFrame({"text": texts, "label": [b"a", b"b", b"a"] * 4}).to_parquet(folder / "train.parquet")
    ds = load_dataset(str(folder))
    assert ds.label_names == ["a", "b"]
    assert set(pd.concat([ds.train, ds.validation, ds.test])["text"]) == {"hello world", "good day", "caf\u00e9"}
    pd.DataFrame(
        {"text": texts[:2] + ["caf\u00e9".encode("latin-1")] + texts[3:], "label": ["a", "b", "a"] * 4}
    ).to_parquet(folder / "train.parquet")
    with pytest.raises(
        DataError, match=r"column 'text' holds bytes that are not UTF-8 text \(1 row\(s\): row 2, counting from 0\)"
    ):
        load_dataset(str(folder))
