"""Datasets: load, check, split. Every problem with the input is one `DataError` with a
message a person understands.

Sources, tried in this order for a `spec` string:
  * ``demo``: the project's own demo dataset (``threephase_core/demo``);
  * a dataset folder: ``train``/``validation``/``test`` files (parquet, csv or jsonl) and an
    optional ``labels.json`` with the label names; a bare name is a folder under the data root
    (``data_root.py``: ``--data-root``, ``$THREEPHASE_DATA_ROOT`` or ``./data``);
  * one CSV, JSONL/JSON or parquet file (an optional ``split`` column assigns rows to splits);
  * anything else is taken as a Hugging Face hub id (``datasets.load_dataset``), which needs
    a network connection.
Reading the files is data_files.py's job; labels with levels (several label columns, or one
with a separator) are label_levels.py's: a row's class is then its finest level. Missing
validation/test splits are carved from train, stratified, with a fixed seed (carving.py), and
the dataset's ``notes`` record it. Duplicate texts, and texts with conflicting labels, are counted and
reported, not removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from threephase_core.carving import cap_note, capped_train, carve, empty_split_message
from threephase_core.data_files import (
    FILE_SUFFIXES,
    SPLITS,
    DataError,
    read_file,
    read_folder,
    read_hub,
    read_label_names,
)
from threephase_core.data_root import data_root, resolve_dataset
from threephase_core.label_levels import LabelHierarchy, LabelSpec, build_hierarchy, parse_label_spec, split_paths
from threephase_core.unlabelled import take_unlabelled_rows, with_unlabelled_texts

DEMO_DIR = Path(__file__).parent / "demo"
# The demo's label columns: `label` (the intent, its default) and `group` (the intent's parent
# group, a second level: `label_column="group,label"`).
DEMO_LABEL_COLUMNS = ("label", "group")


@dataclass
class TextDataset:
    """Three splits as DataFrames with columns ``text`` (str) and ``label`` (int 0..K-1).
    `hierarchy`: the label levels when the labels have them (``label`` is then the finest
    level's class), else None. `unlabelled`: texts without labels, for the label-free phases
    only (see unlabelled.py)."""

    name: str
    label_names: list[str]
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    source: str = ""
    notes: list[str] = field(default_factory=list)
    hierarchy: LabelHierarchy | None = None
    carved: list[str] = field(default_factory=list)  # splits carved from train (their fractions apply)
    unlabelled: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def split(self, name: str) -> pd.DataFrame:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]

    def class_counts(self, split: str = "train") -> dict[str, int]:
        counts = self.split(split)["label"].value_counts()
        return {n: int(counts.get(i, 0)) for i, n in enumerate(self.label_names)}

    def summary(self) -> dict:
        out = {
            "name": self.name,
            "source": self.source,
            "label_names": self.label_names,
            "rows": {s: len(self.split(s)) for s in SPLITS},
            "texts": {"labelled": len(self.train), "unlabelled": len(self.unlabelled)},
            "class_counts": {s: self.class_counts(s) for s in SPLITS},
            "notes": list(self.notes),
        }
        if self.hierarchy is not None:
            out["levels"] = self.hierarchy.to_dict()
        return out

    def at_level(self, level: int) -> TextDataset:
        """The dataset with the classes of label level `level` (1 = top; 0 = the finest) as its
        labels: what FT predicts with ``ft.level``. ConfigError for a level the labels lack."""
        from threephase_core.config import ConfigError

        levels = self.hierarchy.n_levels if self.hierarchy is not None else 1
        if level > levels:
            have = f"{levels} levels ({', '.join(self.hierarchy.level_names)})" if self.hierarchy else "one level"
            raise ConfigError(f"ft.level={level}, but the labels have {have}; 0 predicts the finest")
        if level in (0, levels):
            return self
        hierarchy, to_level = self.hierarchy.truncated(level)

        def relabel(df: pd.DataFrame) -> pd.DataFrame:
            return df.assign(label=to_level[df["label"].to_numpy()])

        return replace(
            self,
            label_names=list(hierarchy.names[-1]),
            train=relabel(self.train),
            validation=relabel(self.validation),
            test=relabel(self.test),
            hierarchy=hierarchy,
        )


# ---------------------------------------------------------------------------------------
def load_dataset(
    spec: str,
    text_column: str = "text",
    label_column: str = "label",
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    max_train_rows: int = 0,
    root: str | Path | None = None,
    label_sep: str = "",
    unlabelled_rows: bool = False,
) -> TextDataset:
    """Load, check and split a dataset named by `spec` (see the module docstring); a bare name is
    looked up under the data root `root` (default: ``$THREEPHASE_DATA_ROOT`` or ``./data``).
    Labels with levels: several `label_column` names joined by commas (top level first), or
    one column whose labels hold the levels joined by `label_sep` (see label_levels.py).
    `unlabelled_rows`: rows without a label become the dataset's unlabelled texts (unlabelled.py)."""
    spec = resolve_dataset(str(spec), root)
    if not spec:
        raise DataError("no dataset given: use 'demo', a dataset folder, a data file or a hub id")
    labels = parse_label_spec(label_column, label_sep)
    if text_column in labels.columns:
        raise DataError(f"the text column and the label column are both {text_column!r}; choose two different columns")
    path = Path(spec).expanduser()
    if spec == "demo":  # its own columns; one label column it does not have means the default one
        text_column = "text"
        unknown = [c for c in labels.columns if c not in DEMO_LABEL_COLUMNS]
        if unknown and len(labels.columns) > 1:
            raise DataError(
                f"the demo has no column {unknown[0]!r}; its label columns are {', '.join(DEMO_LABEL_COLUMNS)} "
                "(two levels: group,label)"
            )
        labels = LabelSpec(("label",), labels.sep) if unknown else labels
    columns = (text_column, ",".join(labels.columns))
    read_as = labels.columns[0] if len(labels.columns) == 1 else labels.columns
    if spec == "demo":
        frames, names, source = read_folder(DEMO_DIR, "text", read_as), read_label_names(DEMO_DIR), "bundled demo"
        name = "demo"
    elif path.is_dir():
        frames, names = read_folder(path, text_column, read_as, unlabelled_rows), read_label_names(path)
        source = str(path)
        name = path.name
    elif path.suffix.lower() in FILE_SUFFIXES or path.exists():
        frames, names, source = read_file(path, text_column, read_as, unlabelled_rows), None, str(path)
        name = path.stem
    else:
        (frames, names), source = read_hub(spec, text_column, read_as, data_root(root), unlabelled_rows), f"hub:{spec}"
        name = spec.replace("/", "__")
    frames, unlabelled, level_notes = take_unlabelled_rows(frames, name) if unlabelled_rows else (frames, [], [])
    hierarchy = None
    if labels.hierarchical:
        hierarchy, frames, names, notes = _label_levels(frames, names, labels, name)
        level_notes += notes
    ds = _assemble(name, frames, names, seed, val_fraction, test_fraction, columns)
    ds.hierarchy, ds.unlabelled = hierarchy, unlabelled
    ds.notes[:0] = level_notes
    ds.source = source
    total = len(ds.train)
    ds.train = capped_train(ds.train, max_train_rows, seed)
    if max_train_rows and total > max_train_rows:
        ds.notes.append(cap_note(max_train_rows, len(ds.train), total, seed))
    return ds


def dataset_for(cfg, root: str | Path | None = None) -> TextDataset:
    """The dataset a run's config names (a `RunConfig`: dataset, columns, seed, split fractions,
    row cap), loaded and split as `load_dataset` does, with its unlabelled texts and label budget
    (`unlabelled.with_unlabelled_texts`)."""
    ds = load_dataset(
        cfg.dataset,
        cfg.text_column,
        cfg.label_column,
        cfg.seed,
        cfg.val_fraction,
        cfg.test_fraction,
        cfg.max_train_rows,
        root=root,
        label_sep=cfg.label_sep,
        unlabelled_rows=cfg.unlabelled_rows,
    )
    budget = (cfg.labels_per_class, cfg.label_fraction)  # label_budget.py
    return with_unlabelled_texts(ds, cfg.unlabelled, *budget, cfg.seed, cfg.text_column)


def _label_levels(frames: dict[str, pd.DataFrame], names: list[str] | None, labels: LabelSpec, where: str):
    """Frames whose ``label`` is each row's finest class (its path's name), with the hierarchy,
    the finest class names in order and notes. `names`: labels.json's names, or a hub label's
    class names (which the separator then splits)."""
    if labels.sep and names is not None:
        frames = {
            s: f.assign(label=[names[int(v)] for v in f["label"]]) if pd.api.types.is_integer_dtype(f["label"]) else f
            for s, f in frames.items()
        }
    level_columns = [c for c in next(iter(frames.values())).columns if c != "text"]

    def cells(f: pd.DataFrame):
        return f["label"].tolist() if len(level_columns) == 1 else list(zip(*(f[c].tolist() for c in level_columns)))

    paths = {s: split_paths(cells(f), labels, f"{where} ({s})") for s, f in frames.items()}
    hierarchy, finest, notes = build_hierarchy(paths, labels, names)
    frames = {s: pd.DataFrame({"text": f["text"], "label": finest[s]}) for s, f in frames.items()}
    return hierarchy, frames, list(hierarchy.names[-1]), notes


def available_datasets(root: str | Path | None = None) -> list[tuple[str, str]]:
    """(spec, description) of the demo and of every dataset folder (one with a train file) under
    the data root `root` (see data_root.py); none of the latter when the root cannot be listed."""
    out = [("demo", "bundled demo: customer-support intents, imbalanced")]
    try:
        folders = sorted(p for p in data_root(root).iterdir() if p.is_dir())
    except OSError:  # missing, a file, unreadable: data_root.root_problem says which
        return out
    for sub in folders:
        if any((sub / f"train{s}").exists() for s in FILE_SUFFIXES):
            out.append((str(sub), f"dataset folder {sub.name}"))
    return out


# ---- checking and splitting -----------------------------------------------------------
def _assemble(name, frames, names, seed, val_fraction, test_fraction, columns) -> TextDataset:
    """Encode labels, carve missing splits and note what a person should know about the data.
    `columns`: the (text, label) column names, to point at them when the labels look wrong."""
    notes: list[str] = []
    label_names, frames = _encode_labels(frames, names, name)
    train = frames["train"]
    counts = train["label"].value_counts()
    if len(counts) < 2:
        raise DataError(
            f"{name}: the training data has a single class ({label_names[int(counts.index[0])]!r}); "
            "a classifier needs at least two classes"
        )
    singles = [label_names[int(i)] for i, c in counts.items() if c == 1]
    conflict = _conflict_note(frames, label_names)  # before carving moves one copy to another split
    to_carve = [
        (split, frac) for split, frac in (("test", test_fraction), ("validation", val_fraction)) if split not in frames
    ]
    for split, frac in to_carve:
        train, frames[split] = carve(train, frac, seed)
        if frames[split].empty:
            raise DataError(empty_split_message(name, split, to_carve, counts, len(train), columns))
        notes.append(
            f"{split} split carved from train: {len(frames[split])} rows ({frac:.0%}, stratified, seed {seed})"
        )
    if singles:
        notes.append(
            f"{len(singles)} class(es) have a single training example ({', '.join(singles[:5])}"
            f"{'...' if len(singles) > 5 else ''}): kept in train only, so they are not in carved splits"
        )
    dups = int(train["text"].duplicated().sum())
    if dups:
        notes.append(f"{dups} duplicate text(s) in train (kept)")
    if conflict:
        notes.append(conflict)
    seen = set(train["text"])
    leak = {s: int(frames[s]["text"].isin(seen).sum()) for s in ("validation", "test")}
    for s, n in leak.items():
        if n:
            notes.append(f"{n} {s} text(s) also appear in train")
    return TextDataset(
        name=name,
        label_names=label_names,
        train=train.reset_index(drop=True),
        validation=frames["validation"].reset_index(drop=True),
        test=frames["test"].reset_index(drop=True),
        notes=notes,
        carved=[split for split, _ in to_carve],
    )


def _conflict_note(frames: dict[str, pd.DataFrame], label_names: list[str]) -> str | None:
    """A note on texts that occur with different labels (in any split): kept, but no model can
    fit both labels, so they cap the reachable score. None when there are none."""
    # Vectorised (a groupby-unique per text took seconds on SST-2's 70k texts): distinct
    # (text, label) pairs, then texts that occur in more than one of them.
    pairs = pd.concat([f[["text", "label"]] for f in frames.values()]).drop_duplicates()
    conflicts = pairs[pairs["text"].duplicated(keep=False)]
    if conflicts.empty:
        return None
    text = conflicts["text"].iloc[0]
    ids = sorted(conflicts.loc[conflicts["text"] == text, "label"].tolist())
    example = f"{text[:60]!r} is labelled {', '.join(label_names[int(i)] for i in ids)}"
    return f"{conflicts['text'].nunique()} text(s) occur with conflicting labels (kept; e.g. {example})"


def _encode_labels(frames, names, where) -> tuple[list[str], dict[str, pd.DataFrame]]:
    all_labels = pd.concat([f["label"] for f in frames.values()])
    numeric = pd.api.types.is_numeric_dtype(all_labels) and not pd.api.types.is_bool_dtype(all_labels)
    if numeric:
        values = all_labels.to_numpy()
        if not np.all(np.equal(np.mod(values, 1), 0)) or values.min() < 0:
            raise DataError(f"{where}: numeric labels must be whole numbers >= 0")
        k = int(values.max()) + 1
        if names is not None and len(names) < k:
            raise DataError(f"{where}: labels.json names {len(names)} classes but labels go up to {k - 1}")
        remap = None
        if names is None:
            # Without labels.json, ids are whatever values occur (e.g. stars 1-5): map them to
            # 0..K-1 in sorted order, so no class without rows is invented.
            used = sorted(set(int(v) for v in values))
            names = [str(v) for v in used]
            remap = {v: i for i, v in enumerate(used)}
        out = {
            s: pd.DataFrame(
                {
                    "text": f["text"].astype(str),
                    "label": (f["label"].astype("int64").map(remap) if remap else f["label"]).astype("int64"),
                }
            )
            for s, f in frames.items()
        }
        _check_known_in_train({s: set(f["label"].tolist()) for s, f in out.items()}, names, where)
        return list(names), out
    as_str = {s: f["label"].astype(str).str.strip() for s, f in frames.items()}
    seen = sorted(set(pd.concat(as_str.values())))
    if names is None:
        names = seen
    unknown = sorted(set(seen) - set(names))
    if unknown:
        raise DataError(f"{where}: label(s) {unknown[:5]} are not in labels.json")
    index = {n: i for i, n in enumerate(names)}
    _check_known_in_train({s: {index[v] for v in a} for s, a in as_str.items()}, names, where)
    out = {
        s: pd.DataFrame({"text": frames[s]["text"].astype(str), "label": as_str[s].map(index).astype("int64")})
        for s in frames
    }
    return list(names), out


def _check_known_in_train(ids: dict[str, set[int]], names: list[str], where: str) -> None:
    """Every validation/test class must occur in train (a model cannot learn a class it never sees)."""
    for s in ("validation", "test"):
        extra = sorted(ids.get(s, set()) - ids["train"])
        if extra:
            raise DataError(f"{where}: {s} has label(s) {[names[i] for i in extra[:5]]} that never occur in train")
