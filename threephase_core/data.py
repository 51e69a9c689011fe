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
Missing validation/test splits are carved from train, stratified, with a fixed seed, and the
dataset's ``notes`` record it. Duplicate texts, and texts with conflicting labels, are counted
and reported, not removed. Messages name bad rows by file line (CSV, JSON lines) or by row.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from threephase_core.data_root import data_root, resolve_dataset

DEMO_DIR = Path(__file__).parent / "demo"
SPLITS = ("train", "validation", "test")
FILE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")
JSON_LAYOUTS = "expected a list of records, a dict of columns, or JSON lines (one object per line)"
NESTED = (list, tuple, dict, set, np.ndarray)  # cells that are not one text or one label


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
    root: str | Path | None = None,
) -> TextDataset:
    """Load, check and split a dataset named by `spec` (see the module docstring); a bare name is
    looked up under the data root `root` (default: ``$THREEPHASE_DATA_ROOT`` or ``./data``)."""
    spec = resolve_dataset(str(spec), root)
    if not spec:
        raise DataError("no dataset given: use 'demo', a dataset folder, a data file or a hub id")
    if text_column == label_column:
        raise DataError(f"the text column and the label column are both {text_column!r}; choose two different columns")
    path = Path(spec).expanduser()
    columns = ("text", "label") if spec == "demo" else (text_column, label_column)
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
        (frames, names), source = _read_hub(spec, text_column, label_column, data_root(root)), f"hub:{spec}"
        name = spec.replace("/", "__")
    ds = _assemble(name, frames, names, seed, val_fraction, test_fraction, columns)
    ds.source = source
    total = len(ds.train)
    ds.train = capped_train(ds.train, max_train_rows, seed)
    if max_train_rows and total > max_train_rows:
        ds.notes.append(_cap_note(max_train_rows, len(ds.train), total, seed))
    return ds


def capped_train(train: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """The training rows a run uses: all of them, or with `max_rows` > 0 below their number, a
    stratified sample of about `max_rows` (`stratified_sample`)."""
    return stratified_sample(train, max_rows, seed) if max_rows and len(train) > max_rows else train


def _cap_note(cap: int, kept: int, total: int, seed: int) -> str:
    """What the train cap did. stratified_sample rounds each class's share and keeps at least one
    row per class, so the rows kept can differ from the cap (7 classes keep 7 rows at a cap of 1)."""
    return (
        f"train capped at {cap} rows: kept {kept} of {total}, stratified (each class keeps its share, "
        f"rounded, and at least one row; seed {seed})"
    )


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
            # utf-8-sig drops a byte-order mark, as read_csv does for CSV files
            return _read_json(path.read_bytes().decode("utf-8-sig"), path)
    except DataError:
        raise
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


def _read_json(text: str, path: Path) -> pd.DataFrame:
    """A .jsonl file is JSON lines. A .json file is read as one JSON value when it parses as one
    (a list of records, or a dict of columns as pandas' default ``to_json`` writes), else as JSON lines."""
    if path.suffix.lower() == ".jsonl":
        return _read_json_lines(text, path.name)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        return _read_json_lines(text, path.name, not_one_value=e)
    return _json_table(doc, path.name)


def _json_table(doc, name: str) -> pd.DataFrame:
    """The table in one parsed JSON value; a DataError for any other layout (read as rows, a
    list of strings or a dict of unequal lists would give a table with the wrong columns)."""
    values = list(doc.values()) if isinstance(doc, dict) else []
    if isinstance(doc, list) and all(isinstance(r, dict) for r in doc):
        return pd.DataFrame(doc)
    if values and all(isinstance(c, dict) for c in values):  # {"text": {"0": ..}, "label": {"0": ..}}
        return pd.DataFrame(doc).reset_index(drop=True)
    if values and all(isinstance(c, list) for c in values) and len({len(c) for c in values}) == 1:
        return pd.DataFrame(doc)
    if isinstance(doc, dict) and not any(isinstance(v, (dict, list)) for v in values):
        return pd.DataFrame([doc])  # one record: a JSON-lines file of one line
    raise DataError(f"{name}: {JSON_LAYOUTS}; it holds {_json_layout(doc)}")


def _json_layout(doc) -> str:
    """What a JSON value that is not a table holds, for the error message."""
    if isinstance(doc, list):
        i = next(i for i, r in enumerate(doc) if not isinstance(r, dict))
        return f"a list whose item {i} is {_json_type(doc[i])}"
    if isinstance(doc, dict):
        return "a dict whose values are neither all objects nor all lists of one length"
    return _json_type(doc)


def _json_type(value) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _read_json_lines(text: str, name: str, not_one_value: json.JSONDecodeError | None = None) -> pd.DataFrame:
    """One JSON object per line. `not_one_value`: why a .json file did not parse as one JSON value,
    reported instead when its first line is not JSON either (a broken document, not JSON lines)."""
    records = []
    for number, line in _numbered_lines(text):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if not_one_value is not None and not records:
                raise DataError(f"{name} could not be parsed as JSON: {not_one_value}; {JSON_LAYOUTS}") from None
            raise DataError(
                f"{name} could not be parsed as JSON lines: line {number}, column {e.colno}: {e.msg}"
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{name}: line {number} is {_json_type(record)}, not an object; JSON lines need one object "
                'per line, like {"text": ..., "label": ...}'
            )
        records.append(record)
    return pd.DataFrame(records)


def _numbered_lines(text: str) -> list[tuple[int, str]]:
    """(line number from 1, line) of each non-blank line. Lines end at \\n, \\r\\n or \\r (JSON
    escapes those inside strings); not str.splitlines(), which also cuts at U+2028, U+0085 and the
    like, which JSON writers may leave unescaped inside a string."""
    return [(n, line) for n, line in enumerate(re.split(r"\r\n|\r|\n", text), 1) if line.strip()]


def _record_lines(path: Path | None) -> list[int] | None:
    """The file line each data record starts on, for CSV and JSON-lines files; None where records
    have no line of their own (parquet, a JSON document, a hub split) or the file cannot be re-read."""
    suffix = path.suffix.lower() if path is not None else ""
    try:
        if suffix == ".csv":
            return _csv_record_lines(path)
        if suffix in (".jsonl", ".json"):
            text = path.read_bytes().decode("utf-8-sig")
            if suffix == ".json" and _is_one_json_value(text):
                return None
            return [n for n, _ in _numbered_lines(text)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _is_one_json_value(text: str) -> bool:
    """Whether a .json file's text is one JSON value (read as a document, not as JSON lines)."""
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _csv_record_lines(path: Path) -> list[int]:
    """The line each CSV data record starts on, counted as read_csv reads the file: the header
    line is not a record, blank lines are skipped, a quoted text may span several lines."""
    starts, line = [], 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        for row in reader:
            if len(row) > 1 or (row and row[0].strip()):
                starts.append(line + 1)
            line = reader.line_num
    return starts[1:]


def _rows_text(positions: list[int], path: Path | None, n_records: int) -> str:
    """Record positions (from 0, in file order) as a person finds them: 'lines 14, 15' in a CSV or
    JSON-lines file, 'rows 12, 13, counting from 0' in a parquet file, a JSON document or a hub split."""
    shown, more = positions[:5], ", ..." if len(positions) > 5 else ""
    lines = _record_lines(path)
    if lines is not None and len(lines) == n_records:  # else the re-count disagrees: say rows
        return f"line{'s' if len(shown) > 1 else ''} {', '.join(str(lines[p]) for p in shown)}{more}"
    return f"row{'s' if len(shown) > 1 else ''} {', '.join(map(str, shown))}{more}, counting from 0"


def _columns(df: pd.DataFrame, text_column: str, label_column: str, where: str, path: Path | None) -> pd.DataFrame:
    """The text and label columns of one file (or hub split) as ``text``/``label``, rows checked
    (see _check_rows). `path`: the file, to name bad rows by line; None for a hub split."""
    if df.empty:
        raise DataError(f"{where} has no rows")
    missing = [c for c in (text_column, label_column) if c not in df.columns]
    if missing:
        raise DataError(
            f"{where} has no column {missing[0]!r}; its columns are {list(map(str, df.columns))}. "
            "Choose the text and label columns."
        )
    # A fresh 0..n-1 index, the row's position in the source: carving selects rows by index, so
    # duplicates in the source index would mix rows up.
    frame = pd.DataFrame({"text": df[text_column].to_numpy(), "label": df[label_column].to_numpy()})
    for column, source in zip(("text", "label"), (text_column, label_column)):
        frame[column] = _decoded(frame[column], f"{where}: column {source!r}", path)
    _check_rows(frame, where, path, (text_column, label_column))
    return frame


def _decoded(values: pd.Series, where: str, path: Path | None) -> pd.Series:
    """`values` with bytes cells (a parquet "binary" column) decoded as UTF-8, as pandas would do
    later anyway, but with a DataError naming the rows that are not UTF-8 (pandas raised a bare
    UnicodeDecodeError from deep inside `astype(str)`)."""
    is_bytes = np.fromiter((isinstance(v, (bytes, bytearray)) for v in values), bool, len(values))
    if not is_bytes.any():
        return values
    bad: list[int] = []
    out = values.to_numpy(dtype=object, copy=True)
    for i in np.flatnonzero(is_bytes):
        try:
            out[i] = bytes(out[i]).decode("utf-8")
        except UnicodeDecodeError:
            bad.append(int(i))
    if bad:
        raise DataError(
            f"{where} holds bytes that are not UTF-8 text ({len(bad)} row(s): {_rows_text(bad, path, len(values))}); "
            "re-save the file with the text as UTF-8 strings"
        )
    return pd.Series(out, index=values.index)


def _read_folder(folder: Path, text_column: str, label_column: str) -> dict[str, pd.DataFrame]:
    """The folder's train/validation/test files; two files for one split (train.csv and
    train.parquet) are refused, as either choice could silently be the wrong one."""
    frames = {}
    for split in SPLITS:
        found = [folder / f"{split}{suffix}" for suffix in FILE_SUFFIXES if (folder / f"{split}{suffix}").exists()]
        if len(found) > 1:
            raise DataError(
                f"folder {folder} has {len(found)} {split} files ({', '.join(f.name for f in found)}); "
                "it is unclear which to use: keep one"
            )
        if found:
            f = found[0]
            frames[split] = _columns(read_table(f), text_column, label_column, f"{folder.name}/{f.name}", f)
    if "train" not in frames:
        raise DataError(f"folder {folder} has no train file (train.parquet, train.csv or train.jsonl)")
    return frames


def _read_names(folder: Path) -> list[str] | None:
    f = folder / "labels.json"
    if not f.exists():
        return None
    try:
        names = json.loads(f.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{f} is not a JSON list of label names: {e}") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{f} must be a JSON list of label names")
    twice = sorted(n for n, c in Counter(names).items() if c > 1)
    if twice:  # a repeated name is a second class id that no row can have
        raise DataError(f"{f} names {twice} more than once; give each class one name")
    return names


def _read_file(path: Path, text_column: str, label_column: str) -> dict[str, pd.DataFrame]:
    df = read_table(path)
    frame = _columns(df, text_column, label_column, path.name, path)
    if "split" not in df.columns:
        return {"train": frame}
    split = (
        df["split"]
        .astype(str)
        .str.strip()
        .str.lower()
        .replace({"dev": "validation", "valid": "validation", "val": "validation"})
    )
    split = split.to_numpy()  # by position: the file's own index (parquet keeps one) may repeat
    unknown = sorted(set(split) - set(SPLITS))
    if unknown:
        raise DataError(
            f"{path.name}: 'split' column has value(s) {unknown[:5]}; use train, validation (or dev/val/valid) or test"
        )
    frames = {s: frame[split == s].reset_index(drop=True) for s in SPLITS if (split == s).any()}
    if "train" not in frames:
        raise DataError(f"{path.name} has a 'split' column but no row with split 'train'")
    return frames


def _read_hub(
    spec: str, text_column: str, label_column: str, root: Path
) -> tuple[dict[str, pd.DataFrame], list[str] | None]:
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
            f"could not load {spec!r}: it is not a local file or folder (nor a folder under the data root "
            f"{root}), and loading it from the Hugging Face hub failed ({type(e).__name__}: {str(e)[:160]}). "
            "Check the name and your network connection, or use a local file."
        ) from None
    frames, names = {}, None
    for split, hub_names in (
        ("train", ("train",)),
        ("validation", ("validation", "dev", "valid")),
        ("test", ("test",)),
    ):
        for hub_name in hub_names:
            if hub_name in dd:
                table = dd[hub_name].to_pandas()
                labels = table.get(label_column)
                if labels is not None and pd.api.types.is_numeric_dtype(labels) and (labels < 0).all():
                    break  # an unlabelled split (GLUE test sets use -1): carve one instead
                frames[split] = _columns(table, text_column, label_column, f"{spec}[{hub_name}]", None)
                feature = dd[hub_name].features.get(label_column)
                if getattr(feature, "names", None):
                    names = names or [str(n) for n in feature.names]
                break
    if "train" not in frames:
        raise DataError(f"hub dataset {spec!r} has no train split (it has {list(dd)})")
    return frames, names


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
        train, frames[split] = _carve(train, frac, seed)
        if frames[split].empty:
            raise DataError(_empty_split_message(name, split, to_carve, counts, len(train), columns))
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
    )


def _empty_split_message(name: str, split: str, to_carve, counts: pd.Series, train_left: int, columns) -> str:
    """Why carving left `split` empty, and what would fix it. `to_carve`: every (split, fraction)
    carved, in carving order (the rule covers them all, so adding rows fixes the next one too);
    `counts`: rows per class before carving; `train_left`: train rows after carving."""
    need = _rows_needed([frac for _, frac in to_carve])
    rule = (
        f"needs a class with at least {need} rows, so that each carved split gets one and train keeps one"
        if need
        else "cannot hold out a row for each carved split with these fractions"
    )
    singles, k = int((counts == 1).sum()), len(counts)
    hint = ""
    if singles > k / 2:  # most likely a text-like column taken as the label
        which = "every label occurs once" if singles == k else f"{singles} of {k} labels occur once"
        hint = f"{which}: is the label column right (text={columns[0]!r}, label={columns[1]!r})? If it is: "
    return (
        f"{name}: the {split} split is empty: {hint}carving {' and '.join(s for s, _ in to_carve)} from train "
        f"{rule}; the largest class has {int(counts.max())} of the {int(counts.sum())} training rows, and train "
        f"keeps {train_left} after carving. Add rows, or provide a {split} split."
    )


def _rows_needed(fractions: list[float]) -> int | None:
    """Fewest rows a class needs for carving, one split after the other with these fractions, to
    hold out at least one row for each (_carve's rule tried on growing class sizes); None if none do."""
    for n in range(2, 10_000):
        left = n
        for frac in fractions:
            held = _held_count(left, frac)
            if not held:
                break
            left -= held
        else:
            return n
    return None


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


def _check_rows(df: pd.DataFrame, where: str, path: Path | None, columns: tuple[str, str]) -> None:
    """Refuse rows a classifier cannot use (no label, an empty text, a list or object in a cell,
    which would silently become a text like "['a']"), naming them as the file does: by line."""

    def rows(mask: np.ndarray) -> str:
        return _rows_text(np.flatnonzero(mask).tolist(), path, len(df))

    for column, source in zip(("text", "label"), columns):
        nested = np.fromiter((isinstance(v, NESTED) for v in df[column]), bool, len(df))
        if nested.any():
            raise DataError(
                f"{where}: column {source!r} holds lists or objects, not one {column} per row "
                f"({int(nested.sum())} row(s): {rows(nested)}); choose a column of plain values"
            )
    missing = df["label"].isna().to_numpy()
    if missing.any():
        raise DataError(f"{where}: {int(missing.sum())} row(s) have no label ({rows(missing)}); fill or remove them")
    text = df["text"]
    empty = (text.isna() | (text.astype(str).str.strip() == "")).to_numpy()
    if empty.all():
        raise DataError(f"{where}: every text is empty; is the text column right?")
    if empty.any():
        raise DataError(f"{where}: {int(empty.sum())} row(s) have an empty text ({rows(empty)}); fill or remove them")


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


def _held_count(n: int, fraction: float) -> int:
    """Rows _carve holds out of a class of n rows: its share, at least one, never all; a class of
    one row stays in train."""
    if n < 2:
        return 0
    return min(max(int(round(n * fraction)), 1), n - 1)


def _carve(train: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified hold-out of `fraction` of each class (see _held_count)."""
    rng = np.random.default_rng(seed)
    held = []
    for _, idx in train.groupby("label", sort=True).groups.items():
        idx = np.array(list(idx))
        n = _held_count(len(idx), fraction)
        if n:
            held.extend(rng.choice(idx, size=n, replace=False).tolist())
    held_mask = train.index.isin(held)
    return train[~held_mask].reset_index(drop=True), train[held_mask].sample(frac=1.0, random_state=seed).reset_index(
        drop=True
    )
