"""Datasets: load, check, split. Every problem with the input is one `DataError` with a
message a person understands.

Sources, tried in this order for a `spec` string:
  * ``demo``: the project's own demo dataset (``threephase_core/demo``);
  * a folder in the ``../shared/datasets`` layout: ``train``/``validation``/``test`` files
    (parquet, csv or jsonl) and an optional ``labels.json`` with the label names;
  * one CSV, JSONL/JSON or parquet file (an optional ``split`` column assigns rows to splits);
  * anything else is taken as a Hugging Face hub id (``datasets.load_dataset``), which needs
    a network connection.
Missing validation/test splits are carved from train, stratified, with a fixed seed, and the
dataset's ``notes`` record it. Duplicate texts are counted and reported, not removed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_DIR = Path(__file__).parent / "demo"
SPLITS = ("train", "validation", "test")
FILE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")
SHARED_CANDIDATES = ("../shared/datasets", "../../shared/datasets")


class DataError(ValueError):
    """Input data that cannot be used; the message says what is wrong and what to do."""


@dataclass
class TextDataset:
    """Three splits as DataFrames with columns ``text`` (str) and ``label`` (int 0..K-1)."""

    name: str
    label_names: list[str]
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def split(self, name: str) -> pd.DataFrame:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]

    def class_counts(self, split: str = "train") -> dict[str, int]:
        counts = self.split(split)["label"].value_counts()
        return {n: int(counts.get(i, 0)) for i, n in enumerate(self.label_names)}

    def summary(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "label_names": self.label_names,
            "rows": {s: len(self.split(s)) for s in SPLITS},
            "class_counts": {s: self.class_counts(s) for s in SPLITS},
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------
def load_dataset(
    spec: str,
    text_column: str = "text",
    label_column: str = "label",
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    max_train_rows: int = 0,
) -> TextDataset:
    """Load, check and split a dataset named by `spec` (see the module docstring)."""
    spec = str(spec).strip()
    if not spec:
        raise DataError("no dataset given: use 'demo', a dataset folder, a data file or a hub id")
    path = Path(spec).expanduser()
    if spec == "demo":
        frames, names, source = _read_folder(DEMO_DIR, "text", "label"), _read_names(DEMO_DIR), "bundled demo"
        name = "demo"
    elif path.is_dir():
        frames, names, source = _read_folder(path, text_column, label_column), _read_names(path), str(path)
        name = path.name
    elif path.suffix.lower() in FILE_SUFFIXES or path.exists():
        frames, names, source = _read_file(path, text_column, label_column), None, str(path)
        name = path.stem
    else:
        (frames, names), source = _read_hub(spec, text_column, label_column), f"hub:{spec}"
        name = spec.replace("/", "__")
    ds = _assemble(name, frames, names, seed, val_fraction, test_fraction)
    ds.source = source
    if max_train_rows and len(ds.train) > max_train_rows:
        ds.train = stratified_sample(ds.train, max_train_rows, seed)
        ds.notes.append(f"train capped at {max_train_rows} rows (stratified, seed {seed})")
    return ds


def available_datasets() -> list[tuple[str, str]]:
    """(spec, description) of the demo and of every folder under a ``shared/datasets`` nearby."""
    out = [("demo", "bundled demo: customer-support intents, imbalanced")]
    for root in shared_datasets_dirs():
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            if any((sub / f"train{s}").exists() for s in FILE_SUFFIXES):
                out.append((str(sub), f"dataset folder {sub.name}"))
    return out


def shared_datasets_dirs() -> list[Path]:
    seen, out = set(), []
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        for rel in SHARED_CANDIDATES:
            p = (base / rel).resolve()
            if p.is_dir() and p not in seen:
                seen.add(p)
                out.append(p)
    return out


def stratified_sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """About n rows keeping class shares; every class keeps at least one row."""
    frac = n / len(df)
    parts = [
        g.sample(n=max(1, int(round(len(g) * frac))), random_state=seed) for _, g in df.groupby("label", sort=True)
    ]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


# ---- reading --------------------------------------------------------------------------
def read_table(path: Path) -> pd.DataFrame:
    """Read one CSV, JSONL/JSON or parquet file; every failure is a DataError with a reason."""
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"file is empty: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path, encoding="utf-8", keep_default_na=False, na_values=[""])
        if suffix in (".jsonl", ".json"):
            text = path.read_bytes().decode("utf-8")
            if suffix == ".json" and text.lstrip().startswith("["):
                return pd.DataFrame(json.loads(text))
            # Records end at \n, \r\n or \r (JSON escapes those inside strings). Not
            # str.splitlines(): it also cuts at U+2028, U+0085 and the like, which JSON writers
            # may leave unescaped inside a string.
            return pd.DataFrame([json.loads(line) for line in re.split(r"[\r\n]+", text) if line.strip()])
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path.name} is not valid UTF-8 text (undecodable byte at position {e.start}); "
            "save it as UTF-8 and try again"
        ) from None
    except (json.JSONDecodeError, ValueError) as e:
        raise DataError(f"{path.name} could not be parsed as {suffix[1:]}: {str(e)[:200]}") from None
    except Exception as e:  # pyarrow/pandas raise many types for corrupt files
        raise DataError(f"{path.name} could not be read as {suffix[1:]}: {str(e)[:200]}") from None
    raise DataError(f"unsupported file type {suffix!r} for {path.name}; use .csv, .jsonl, .json or .parquet")


def _columns(df: pd.DataFrame, text_column: str, label_column: str, where: str) -> pd.DataFrame:
    if df.empty:
        raise DataError(f"{where} has no rows")
    missing = [c for c in (text_column, label_column) if c not in df.columns]
    if missing:
        raise DataError(
            f"{where} has no column {missing[0]!r}; its columns are {list(map(str, df.columns))}. "
            "Choose the text and label columns."
        )
    # A fresh 0..n-1 index: carving selects rows by index, so duplicates in the source would mix rows up.
    return pd.DataFrame({"text": df[text_column].to_numpy(), "label": df[label_column].to_numpy()})


def _read_folder(folder: Path, text_column: str, label_column: str) -> dict[str, pd.DataFrame]:
    frames = {}
    for split in SPLITS:
        for suffix in FILE_SUFFIXES:
            f = folder / f"{split}{suffix}"
            if f.exists():
                frames[split] = _columns(read_table(f), text_column, label_column, f"{folder.name}/{f.name}")
                break
    if "train" not in frames:
        raise DataError(f"folder {folder} has no train file (train.parquet, train.csv or train.jsonl)")
    return frames


def _read_names(folder: Path) -> list[str] | None:
    f = folder / "labels.json"
    if not f.exists():
        return None
    try:
        names = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{f} is not a JSON list of label names: {e}") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{f} must be a JSON list of label names")
    return names


def _read_file(path: Path, text_column: str, label_column: str) -> dict[str, pd.DataFrame]:
    df = read_table(path)
    frame = _columns(df, text_column, label_column, path.name)
    if "split" not in df.columns:
        return {"train": frame}
    split = df["split"].astype(str).str.strip().str.lower().replace({"dev": "validation", "valid": "validation", "val": "validation"})
    unknown = sorted(set(split) - set(SPLITS))
    if unknown:
        raise DataError(
            f"{path.name}: 'split' column has value(s) {unknown[:5]}; use train, validation (or dev/val/valid) or test"
        )
    frames = {s: frame[split == s].reset_index(drop=True) for s in SPLITS if (split == s).any()}
    if "train" not in frames:
        raise DataError(f"{path.name} has a 'split' column but no row with split 'train'")
    return frames


def _read_hub(spec: str, text_column: str, label_column: str) -> tuple[dict[str, pd.DataFrame], list[str] | None]:
    """The hub dataset's splits, and its class names when the label column is a ClassLabel
    (its ids are kept, so class 1 stays the dataset's class 1: binary F1's positive class)."""
    try:
        import datasets  # heavy import, only for hub datasets
    except ImportError:
        raise DataError("the 'datasets' package is needed to load hub datasets: pip install datasets") from None
    try:
        dd = datasets.load_dataset(spec)
    except Exception as e:  # offline, unknown id, gated repo...
        raise DataError(
            f"could not load {spec!r}: it is not a local file or folder, and loading it from the "
            f"Hugging Face hub failed ({type(e).__name__}: {str(e)[:160]}). Check the name and your "
            "network connection, or use a local file."
        ) from None
    frames, names = {}, None
    for split, hub_names in (("train", ("train",)), ("validation", ("validation", "dev", "valid")), ("test", ("test",))):
        for hub_name in hub_names:
            if hub_name in dd:
                table = dd[hub_name].to_pandas()
                frames[split] = _columns(table, text_column, label_column, f"{spec}[{hub_name}]")
                if pd.api.types.is_numeric_dtype(frames[split]["label"]) and (frames[split]["label"] < 0).all():
                    del frames[split]  # an unlabelled split (GLUE test sets use -1): carve one instead
                    break
                feature = dd[hub_name].features.get(label_column)
                if getattr(feature, "names", None):
                    names = names or [str(n) for n in feature.names]
                break
    if "train" not in frames:
        raise DataError(f"hub dataset {spec!r} has no train split (it has {list(dd)})")
    return frames, names


# ---- checking and splitting -----------------------------------------------------------
def _assemble(name, frames, names, seed, val_fraction, test_fraction) -> TextDataset:
    notes: list[str] = []
    for split, df in frames.items():
        _check_rows(df, f"{name}/{split}")
    label_names, frames = _encode_labels(frames, names, name)
    train = frames["train"]
    counts = train["label"].value_counts()
    if len(counts) < 2:
        raise DataError(
            f"{name}: the training data has a single class ({label_names[int(counts.index[0])]!r}); "
            "a classifier needs at least two classes"
        )
    singles = [label_names[int(i)] for i, c in counts.items() if c == 1]
    rng_state = seed
    for split, frac in (("test", test_fraction), ("validation", val_fraction)):
        if split not in frames:
            train, carved = _carve(train, frac, rng_state)
            frames[split] = carved
            notes.append(f"{split} split carved from train: {len(carved)} rows ({frac:.0%}, stratified, seed {seed})")
    for split in ("validation", "test"):
        if frames[split].empty:
            raise DataError(
                f"{name}: the {split} split is empty; with {len(frames['train'])} training rows nothing could be "
                "held out. Add data (at least two rows in some class) or provide the split."
            )
    if singles:
        notes.append(
            f"{len(singles)} class(es) have a single training example ({', '.join(singles[:5])}"
            f"{'...' if len(singles) > 5 else ''}): kept in train only, so they are not in carved splits"
        )
    dups = int(train["text"].duplicated().sum())
    if dups:
        notes.append(f"{dups} duplicate text(s) in train (kept)")
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
    )


def _check_rows(df: pd.DataFrame, where: str) -> None:
    missing = df["label"].isna()
    if missing.any():
        rows = np.flatnonzero(missing.to_numpy())[:5].tolist()
        raise DataError(f"{where}: {int(missing.sum())} row(s) have no label (first rows: {rows}); fill or remove them")
    text = df["text"]
    empty = text.isna() | (text.astype(str).str.strip() == "")
    if empty.all():
        raise DataError(f"{where}: every text is empty; is the text column right?")
    if empty.any():
        rows = np.flatnonzero(empty.to_numpy())[:5].tolist()
        raise DataError(f"{where}: {int(empty.sum())} row(s) have an empty text (first rows: {rows}); fill or remove them")
    if not all(isinstance(t, str) for t in text):
        df["text"] = text.astype(str)


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
            s: pd.DataFrame({"text": f["text"].astype(str), "label": (f["label"].astype("int64").map(remap) if remap else f["label"]).astype("int64")})
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
    out = {s: pd.DataFrame({"text": frames[s]["text"].astype(str), "label": as_str[s].map(index).astype("int64")}) for s in frames}
    return list(names), out


def _check_known_in_train(ids: dict[str, set[int]], names: list[str], where: str) -> None:
    """Every validation/test class must occur in train (a model cannot learn a class it never sees)."""
    for s in ("validation", "test"):
        extra = sorted(ids.get(s, set()) - ids["train"])
        if extra:
            raise DataError(f"{where}: {s} has label(s) {[names[i] for i in extra[:5]]} that never occur in train")


def _carve(train: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified hold-out; classes with one row stay in train."""
    rng = np.random.default_rng(seed)
    held = []
    for _, idx in train.groupby("label", sort=True).groups.items():
        idx = np.array(list(idx))
        if len(idx) < 2:
            continue
        n = int(round(len(idx) * fraction))
        n = min(max(n, 1), len(idx) - 1)
        held.extend(rng.choice(idx, size=n, replace=False).tolist())
    held_mask = train.index.isin(held)
    return train[~held_mask].reset_index(drop=True), train[held_mask].sample(frac=1.0, random_state=seed).reset_index(drop=True)
