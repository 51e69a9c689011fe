"""Reading texts and labels: one table file (CSV, JSON/JSON lines, parquet), a folder of split
files, or a Hugging Face hub dataset, into ``text``/``label`` frames.

Every problem is a `DataError` whose message names the file and the bad rows (by file line for
CSV and JSON lines, else by row). What the rows mean (label ids, splits) is data.py's; carving
missing splits from train is carving.py's.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")
FILE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")
JSON_LAYOUTS = "expected a list of records, a dict of columns, or JSON lines (one object per line)"
NESTED = (list, tuple, dict, set, np.ndarray)  # cells that are not one text or one label


class DataError(ValueError):
    """Input data that cannot be used; the message says what is wrong and what to do."""


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


def label_frame_columns(n_levels: int) -> list[str]:
    """The frame columns the label cells are read into: ``label``, or ``level1``.. with several label columns."""
    return ["label"] if n_levels == 1 else [f"level{k + 1}" for k in range(n_levels)]


def _columns(
    df: pd.DataFrame,
    text_column: str,
    label_column: str | tuple[str, ...],
    where: str,
    path: Path | None,
    unlabelled_rows: bool = False,
) -> pd.DataFrame:
    """The text and label columns of one file (or hub split) as ``text``/``label`` (several label
    columns, one per level: ``level1``, ``level2``, ...), rows checked (see _check_rows). `path`:
    the file, to name bad rows by line; None for a hub split. `unlabelled_rows`: rows without any
    label are kept (`no_label_mask` finds them) instead of refused."""
    if df.empty:
        raise DataError(f"{where} has no rows")
    labels = (label_column,) if isinstance(label_column, str) else tuple(label_column)
    missing = [c for c in (text_column, *labels) if c not in df.columns]
    if missing:
        raise DataError(
            f"{where} has no column {missing[0]!r}; its columns are {list(map(str, df.columns))}. "
            "Choose the text and label columns."
        )
    # A fresh 0..n-1 index, the row's position in the source: carving selects rows by index, so
    # duplicates in the source index would mix rows up.
    names = ("text", *label_frame_columns(len(labels)))
    sources = (text_column, *labels)
    frame = pd.DataFrame({name: df[source].to_numpy() for name, source in zip(names, sources)})
    for column, source in zip(names, sources):
        frame[column] = _decoded(frame[column], f"{where}: column {source!r}", path)
    _check_rows(frame, where, path, sources, unlabelled_rows)
    return frame


def no_label_mask(frame: pd.DataFrame) -> np.ndarray:
    """Rows of a ``_columns`` frame without any label: every label cell missing or blank."""
    cells = frame.drop(columns="text")
    blank = cells.isna() | cells.apply(lambda c: c.astype(str).str.strip() == "")
    return blank.all(axis=1).to_numpy()


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


def read_folder(
    folder: Path, text_column: str, label_column: str | tuple[str, ...], unlabelled_rows: bool = False
) -> dict[str, pd.DataFrame]:
    """The folder's train/validation/test files; two files for one split (train.csv and
    train.parquet) are refused, as either choice could quietly be the wrong one. `unlabelled_rows`:
    see `_columns`."""
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
            frames[split] = _columns(
                read_table(f), text_column, label_column, f"{folder.name}/{f.name}", f, unlabelled_rows
            )
    if "train" not in frames:
        raise DataError(f"folder {folder} has no train file (train.parquet, train.csv or train.jsonl)")
    return frames


def read_label_names(folder: Path) -> list[str] | None:
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


def read_file(
    path: Path, text_column: str, label_column: str | tuple[str, ...], unlabelled_rows: bool = False
) -> dict[str, pd.DataFrame]:
    df = read_table(path)
    frame = _columns(df, text_column, label_column, path.name, path, unlabelled_rows)
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


def read_hub(
    spec: str, text_column: str, label_column: str | tuple[str, ...], root: Path, unlabelled_rows: bool = False
) -> tuple[dict[str, pd.DataFrame], list[str] | None]:
    """The hub dataset's splits, and its class names when the label column is a ClassLabel
    (its ids are kept, so class 1 stays the dataset's class 1: binary F1's positive class).
    With several label columns (levels) each ClassLabel column is read as its class names."""
    levels = (label_column,) if isinstance(label_column, str) else tuple(label_column)
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
                labels = table.get(levels[0])
                if labels is not None and pd.api.types.is_numeric_dtype(labels) and (labels < 0).all():
                    break  # an unlabelled split (GLUE test sets use -1): carve one instead
                features = [getattr(dd[hub_name].features.get(c), "names", None) for c in levels]
                if len(levels) > 1:
                    for column, class_names in zip(levels, features):
                        if class_names and column in table:
                            table[column] = [class_names[int(i)] for i in table[column]]
                elif features[0]:
                    names = names or [str(n) for n in features[0]]
                frames[split] = _columns(
                    table, text_column, label_column, f"{spec}[{hub_name}]", None, unlabelled_rows
                )
                break
    if "train" not in frames:
        raise DataError(f"hub dataset {spec!r} has no train split (it has {list(dd)})")
    return frames, names


def _check_rows(
    df: pd.DataFrame, where: str, path: Path | None, columns: tuple[str, ...], unlabelled_rows: bool = False
) -> None:
    """Refuse rows a classifier cannot use (no label, an empty text, a list or object in a cell,
    which would quietly become a text like "['a']"), naming them as the file does: by line.
    `columns`: the source names of `df`'s columns (text first, then the label column or columns).
    `unlabelled_rows`: rows without any label are allowed (unlabelled texts); a row with some of
    its levels and not others is still refused."""

    def rows(mask: np.ndarray) -> str:
        return _rows_text(np.flatnonzero(mask).tolist(), path, len(df))

    for column, source in zip(df.columns, columns):
        what = "text" if column == "text" else "label"
        nested = np.fromiter((isinstance(v, NESTED) for v in df[column]), bool, len(df))
        if nested.any():
            raise DataError(
                f"{where}: column {source!r} holds lists or objects, not one {what} per row "
                f"({int(nested.sum())} row(s): {rows(nested)}); choose a column of plain values"
            )
    unlabelled = no_label_mask(df) if unlabelled_rows else np.zeros(len(df), bool)
    for column, source in list(zip(df.columns, columns))[1:]:
        missing = df[column].isna().to_numpy() & ~unlabelled
        if missing.any():
            named = "" if len(columns) == 2 else f" in column {source!r}"
            hint = "" if unlabelled_rows else ", or take rows without a label as unlabelled texts (unlabelled_rows)"
            raise DataError(
                f"{where}: {int(missing.sum())} row(s) have no label{named} ({rows(missing)}); "
                f"fill or remove them{hint}"
            )
    text = df["text"]
    empty = (text.isna() | (text.astype(str).str.strip() == "")).to_numpy()
    if empty.all():
        raise DataError(f"{where}: every text is empty; is the text column right?")
    if empty.any():
        raise DataError(f"{where}: {int(empty.sum())} row(s) have an empty text ({rows(empty)}); fill or remove them")
