"""The datasets the pages show, read once per file version and kept in Streamlit's cache: the
chosen dataset with the Data page's unlabelled texts and label budget (as a seed-0 run would
have it), a data file's first rows, and the Imbalance page's pair counts."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages._parts.ui import DEFAULTS
from threephase_core.workbench import datasets, previews
from threephase_core.workbench.datasets import source_stamp


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=6)
def _load(
    spec: str,
    text_column: str,
    label_column: str,
    stamp: float,
    label_sep: str = "",
    fractions: tuple[float, float] = (0.1, 0.1),
    rows: bool = False,
):
    from threephase_core.data import load_dataset

    val_fraction, test_fraction = fractions
    return load_dataset(
        spec,
        text_column,
        label_column,
        seed=0,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        label_sep=label_sep,
        unlabelled_rows=rows,
    )


def split_fractions() -> tuple[float, float]:
    """(validation, test) fractions carved from train when a dataset has no such split: the Data
    page's split sizes, the defaults until they are set."""
    ss = st.session_state
    return (
        float(ss.get("wb.val_fraction", DEFAULTS["wb.val_fraction"])),
        float(ss.get("wb.test_fraction", DEFAULTS["wb.test_fraction"])),
    )


@st.cache_resource(show_spinner="Reading the unlabelled texts…", max_entries=6)
def _with_texts(dataset_key: tuple, unlabelled: str, stamp: float, per_class: int, fraction: float):
    from threephase_core.unlabelled import with_unlabelled_texts

    ds = _load(*dataset_key)
    return with_unlabelled_texts(ds, unlabelled, per_class, fraction, 0, dataset_key[1])


@st.cache_data(show_spinner="Reading the file…", max_entries=32)
def _peek(path: str, stamp: tuple) -> object:
    return datasets.peek_table(path)


def peek_table(path) -> object:
    """The first rows of a data file, read once per file version (a big file is not re-parsed on
    every click of the Data page); DataError as `workbench.datasets.peek_table`."""
    st_ = Path(path).stat()
    return _peek(str(path), (st_.st_mtime_ns, st_.st_size))


def load_dataset(choice: dict):
    """The dataset of a choice {spec, text_column, label_column, label_sep}; DataError on bad input."""
    spec = choice["spec"]
    text, label, sep = (
        choice.get("text_column", "text"),
        choice.get("label_column", "label"),
        choice.get("label_sep", ""),
    )
    rows = bool(st.session_state.get("wb.unlabelled_rows"))
    return _load(spec, text, label, source_stamp(spec), sep, split_fractions(), rows)


def text_settings() -> tuple[str, bool, int, float]:
    """The Data page's unlabelled-text file, rows-without-a-label switch and label budget."""
    ss = st.session_state
    path = str(ss.get("wb.unlabelled") or "").strip()
    return (
        path,
        bool(ss.get("wb.unlabelled_rows")),
        int(ss.get("wb.labels_per_class") or 0),
        float(ss.get("wb.label_fraction") or 0.0),
    )


def dataset_with_texts(choice: dict):
    """The dataset of a choice with the Data page's unlabelled texts and label budget, as a run of
    seed 0 would have it (`unlabelled.with_unlabelled_texts`); DataError on bad input."""
    path, rows, per_class, fraction = text_settings()
    key = (
        choice["spec"],
        choice.get("text_column", "text"),
        choice.get("label_column", "label"),
        source_stamp(choice["spec"]),
        choice.get("label_sep", ""),
        split_fractions(),
        rows,
    )
    return _with_texts(key, path, source_stamp(path) if path else 0.0, per_class, fraction)


def current_dataset():
    """(choice, dataset or None, error message or None) for the dataset in use."""
    from threephase_core.data import DataError

    choice = st.session_state.get("wb.dataset") or dict(DEFAULTS["wb.dataset"])
    try:
        return choice, dataset_with_texts(choice), None
    except DataError as exc:
        return choice, None, str(exc)
    # The loader makes its own read errors DataError; this is the rest (a folder gone unreadable).
    except OSError as exc:
        return choice, None, f"cannot read {choice.get('spec')}: {exc.strerror or exc}"


@st.cache_data(show_spinner="Counting pairs…", max_entries=256)
def pair_stats(
    spec: str,
    text_column: str,
    label_column: str,
    stamp: float,
    r_min: float,
    r_max: float,
    augmentation: int,
    max_train_rows: int = 0,
    fractions: tuple[float, float] = (0.1, 0.1),
    label_sep: str = "",
    texts: tuple = ("", False, 0, 0.0),
) -> dict:
    """Phase 2's rows and pairs for these settings, on the training rows a seed-0 run would use
    (`fractions`: the validation and test fractions carved from train, `split_fractions`; `texts`:
    the unlabelled texts and label budget, `text_settings`)."""
    from threephase_core.carving import capped_train
    from threephase_core.unlabelled import with_unlabelled_texts

    path, rows, per_class, fraction = texts
    ds = _load(spec, text_column, label_column, stamp, label_sep, tuple(fractions), rows)
    ds = with_unlabelled_texts(ds, path, per_class, fraction, 0, text_column)
    train = capped_train(ds.train, max_train_rows, 0)
    labels = train["label"].to_numpy()
    if ds.hierarchy is not None:  # a run pairs the label paths: pairs score by the levels they share
        labels = ds.hierarchy.rows(labels)
    return previews.pair_stats(train["text"].tolist(), labels, ds.num_classes, r_min, r_max, augmentation)
