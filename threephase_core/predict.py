"""Predictions of a finished run's classifier for new texts.

The command line's `predict` and the Results page's "Try it" tab both use this: find the
run's saved model (`model_folder`), read texts from a file (`read_texts`), and turn the
classifier's probabilities into a table with the runner-up classes (`predictions`), so a
user sees not only the label but how sure the model is and what it hesitated between.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from threephase_core.runstore import RunStore


class PredictError(ValueError):
    """Input `predict` cannot use (no such run, a run without a model, an unreadable file);
    the message says what to do instead."""


LATEST = "latest"  # the newest run with a saved model


def model_folder(run: str, runs_dir: str | Path | None = None) -> Path:
    """The saved model of `run`: a run id in the runs folder, "latest" (the newest run with a
    model), a run folder or its model folder. Raises PredictError naming what is missing."""
    store = RunStore(runs_dir)
    if run == LATEST:
        for r in store.list():
            if r.has_model():
                return r.model_dir
        raise PredictError(
            f"no run in {store.root} has a saved model yet; train one first (`python -m threephase_core run`)"
        )
    path = Path(run).expanduser()
    candidates = [store.root / run] if not path.is_absolute() else []
    candidates.append(path)
    for folder in candidates:
        if (folder / "classifier.json").is_file():
            return folder
        if (folder / "model" / "classifier.json").is_file():
            return folder / "model"
        if (folder / "config.json").is_file():  # a run folder without a (whole) model
            raise PredictError(f"run {run!r} has no saved model: it did not finish fine-tuning (see its status.json)")
    raise PredictError(
        f"no run {run!r} in {store.root} (give a run id, a run folder or {LATEST!r}; --runs-dir picks the runs folder)"
    )


def read_texts(path: str) -> list[str]:
    """The texts in a plain-text file, one per line (blank lines skipped); "-" reads standard input."""
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).expanduser().read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PredictError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise PredictError(f"{path} is a folder; give a text file with one text per line") from None
    except UnicodeDecodeError:
        raise PredictError(f"{path} is not UTF-8 text; give a text file with one text per line") from None
    except OSError as e:
        raise PredictError(f"cannot read {path}: {e.strerror or e}") from None
    return clean_texts(raw.splitlines())


def clean_texts(lines) -> list[str]:
    """The non-blank texts, stripped, in order."""
    return [t.strip() for t in lines if t and t.strip()]


def predictions(classifier, texts: list[str], top_k: int = 3) -> pd.DataFrame:
    """One row per text: the predicted label, its probability, and the next `top_k - 1`
    classes with theirs ("b 12.0%, c 3.1%")."""
    columns = ["text", "label", "confidence", "runners_up"]
    if not texts:
        return pd.DataFrame(columns=columns)
    proba = np.asarray(classifier.predict_proba(list(texts)))
    order = np.argsort(-proba, axis=1, kind="stable")
    names = classifier.label_names
    rows = []
    for text, p, idx in zip(texts, proba, order):
        rest = ", ".join(f"{names[j]} {p[j]:.1%}" for j in idx[1 : max(1, top_k)])
        rows.append({"text": text, "label": names[idx[0]], "confidence": float(p[idx[0]]), "runners_up": rest})
    return pd.DataFrame(rows, columns=columns)
