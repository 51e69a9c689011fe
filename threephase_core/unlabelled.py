"""Unlabelled texts: texts without labels, for the label-free phases only.

The first phase (DAE), and CL with the unsupervised SimCLR loss, learn from texts alone, so they
can use texts nobody labelled; pairs, fine-tuning and every metric need labels and never see them.
A run gets unlabelled texts three ways, which add up:
  * a file (`unlabelled` setting, ``--unlabelled``): a .txt file with one text per line, or a
    table (CSV, JSON lines, parquet) whose text column is the run's `text_column` (or ``text``);
  * the dataset's own rows without a label (`unlabelled_rows`, ``--unlabelled-rows``), in any
    split: blank or missing label cells (a row with some of its levels and not others is refused);
  * a label budget (`labels_per_class` / `label_fraction`, label_budget.py): the training texts
    beyond the budget lose their labels.
`label_free_texts` is what a label-free phase trains on: the labelled training texts and then
the unlabelled ones. Validation and test keep their labels and are never trained on.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from threephase_core.data_files import FILE_SUFFIXES, DataError, no_label_mask, read_table
from threephase_core.label_budget import budget_text, labelled_subset


def take_unlabelled_rows(frames: dict[str, pd.DataFrame], where: str) -> tuple[dict, list[str], list[str]]:
    """(frames without the rows that have no label, those rows' texts, notes). A validation or
    test split left empty is dropped, so it is carved from train; DataError when train has no
    labelled row."""
    kept, texts, counts = {}, [], {}
    for split, frame in frames.items():
        mask = no_label_mask(frame)
        texts += frame.loc[mask, "text"].astype(str).tolist()
        counts[split] = int(mask.sum())
        if (~mask).any():
            kept[split] = frame[~mask].reset_index(drop=True)
    if "train" not in kept:
        raise DataError(f"{where}: no training row has a label; a classifier needs labelled texts to learn from")
    notes = []
    if texts:
        where_from = ", ".join(f"{n} in {s}" for s, n in counts.items() if n)
        notes.append(f"{len(texts)} row(s) without a label taken as unlabelled texts ({where_from})")
    return kept, texts, notes


def read_unlabelled(path: str | Path, text_column: str = "text") -> list[str]:
    """The texts of an unlabelled-text file: one per non-blank line of a .txt file, or the
    `text_column` (else ``text``) column of a table. DataError for a missing or unusable file."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise DataError(f"unlabelled texts: {path} is a folder; give a .txt file (one text per line) or a table")
    if not path.exists():
        raise DataError(f"unlabelled texts: file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in FILE_SUFFIXES:
        table = read_table(path)
        column = text_column if text_column in table.columns else "text"
        if column not in table.columns:
            raise DataError(
                f"unlabelled texts: {path.name} has no column {text_column!r} (nor 'text'); "
                f"its columns are {list(map(str, table.columns))}"
            )
        values = table[column].dropna().astype(str)
    else:
        try:
            values = pd.Series(path.read_text(encoding="utf-8-sig").splitlines())
        except UnicodeDecodeError:
            raise DataError(f"unlabelled texts: {path.name} is not UTF-8 text; save it as UTF-8") from None
    texts = [t for t in values.str.strip().tolist() if t]
    if not texts:
        raise DataError(f"unlabelled texts: {path.name} holds no text")
    return texts


def with_unlabelled_texts(
    ds, path: str = "", per_class: int = 0, fraction: float = 0.0, seed: int = 0, text_column: str = "text"
):
    """`ds` (a TextDataset) with the texts of the file at `path` and, with a label budget, the
    training texts beyond it added to its unlabelled texts (see the module docstring); notes say
    what was done. DataError for a file that cannot be read or a budget a class cannot meet."""
    unlabelled, notes = list(ds.unlabelled), list(ds.notes)
    if path:
        from_file = read_unlabelled(path, text_column)
        unlabelled += from_file
        notes.append(f"{len(from_file)} unlabelled text(s) from {Path(path).name}")
    train = ds.train
    if per_class or fraction:
        train, rest = labelled_subset(ds.train, per_class, fraction, seed, ds.label_names)
        unlabelled += rest["text"].tolist()
        notes.append(
            f"label budget ({budget_text(per_class, fraction)}, stratified, seed {seed}): {len(train)} of "
            f"{len(ds.train)} training texts keep their labels; the other {len(rest)} are unlabelled texts"
        )
    held_out = set(ds.validation["text"]) | set(ds.test["text"])
    overlap = sum(t in held_out for t in unlabelled[len(ds.unlabelled) :])
    if overlap:
        notes.append(f"{overlap} unlabelled text(s) also appear in validation or test (their labels stay unseen)")
    if len(unlabelled) == len(ds.unlabelled) and train is ds.train:
        return ds
    return replace(ds, train=train, unlabelled=unlabelled, notes=notes)


def label_free_texts(ds) -> list[str]:
    """What a label-free phase trains on: the labelled training texts, then the unlabelled ones."""
    return ds.train["text"].tolist() + list(ds.unlabelled)


def text_counts(ds) -> dict[str, int]:
    """{"labelled": training texts with labels, "unlabelled": texts without}: what a run records."""
    return {"labelled": len(ds.train), "unlabelled": len(ds.unlabelled)}
