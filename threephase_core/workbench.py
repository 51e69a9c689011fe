"""What the workbench pages need from the engine, with no Streamlit in it.

The pages (``app.py``, ``views/*.py``) are views: everything they compute lives here or in
the engine, so it can be tested without a browser.

* datasets: uploads saved where the worker thread can read them, column peeking/guessing;
* imbalance preview: the f(x) curve, per-class repeat factors, the pair count, noise previews;
* models: a quick check of a model choice before a job is queued (so a typo fails at once);
* runs: one table row per run folder, the recipe comparison (mean ± std over seeds),
  per-class frames, loss curves rebuilt from the event log, a zip of the trained model;
* projections: 2-D maps of every phase's embeddings, cached in the run folder as
  ``projections/<method>.npz`` so a restart shows them at once; UMAP runs in a background
  thread (one at a time) while the page shows PCA;
* job managers: a registry, so tests and shutdown hooks can stop every worker thread.

Deliberately not here: training, metrics and projection maths (the engine's), and plotting
(the pages' ``_charts.py``).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import threading
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from threephase_core.config import IMBALANCE_PRESETS, CLConfig, RunConfig
from threephase_core.data import FILE_SUFFIXES, DataError
from threephase_core.imbalance import corrected_counts, imbalance_factor, oversample_factor
from threephase_core.metrics import paired_p
from threephase_core.runstore import Run, RunStore, default_runs_dir, owner_alive

PHASE_TITLES = {"base": "Base encoder", "dae": "After DAE", "cl": "After CL", "joint": "After Joint", "ft": "After FT"}
ACTIVE_STATES = ("queued", "running")
UPLOAD_DIR = "_uploads"  # inside the runs folder; RunStore.list() skips it (no config.json)


# ---- job managers ---------------------------------------------------------------------
_managers: list = []
_managers_lock = threading.RLock()


def open_manager(runs_dir: str | Path | None = None):
    """A new JobManager on `runs_dir` (default: $THREEPHASE_RUNS_DIR or ./runs), registered
    so that `shutdown_managers` can stop its worker thread."""
    from threephase_core.jobs import JobManager

    manager = JobManager(runs_dir or default_runs_dir())
    with _managers_lock:
        _managers.append(manager)
    return manager


def manager_for(runs_dir: str | Path | None = None):
    """The process's JobManager for `runs_dir`: the live one if there is one, else a new one.
    One worker per runs folder and process, whatever happens to the caller's caches."""
    root = Path(runs_dir or default_runs_dir()).resolve()
    with _managers_lock:  # check and create under one lock: two sessions get the same manager
        for manager in _managers:
            if manager.store.root.resolve() == root and manager.alive:
                return manager
        return open_manager(root)


def managers() -> list:
    """The JobManagers started through `open_manager` and not yet shut down."""
    with _managers_lock:
        return list(_managers)


def shutdown_managers(timeout: float = 30.0) -> None:
    """Cancel every job and stop every worker started through `open_manager`."""
    with _managers_lock:
        managers, _managers[:] = list(_managers), []
    for manager in managers:
        manager.shutdown(timeout)


def live_status(manager) -> dict[str, dict]:
    """run id -> the job's status snapshot, for every job this manager knows."""
    return {job.run.id: job.status() for job in manager.jobs()} if manager is not None else {}


# ---- datasets -------------------------------------------------------------------------
def dataset_label(spec: str) -> str:
    """A short name for a dataset spec: 'demo', a folder or file name, or the hub id."""
    spec = str(spec)
    if spec == "demo" or not spec:
        return spec or "?"
    path = Path(spec)
    if _exists(path) or "/" in spec and path.suffix.lower() in FILE_SUFFIXES:
        return path.name
    return spec


def model_label(spec: str) -> str:
    spec = str(spec or "minilm")
    if spec in ("minilm", "tiny"):
        return {"minilm": "MiniLM-L6", "tiny": "tiny BERT"}[spec]
    return Path(spec).name if _exists(Path(spec).expanduser()) else spec


def _exists(path: Path) -> bool:
    """Path.exists that says False instead of raising: a name read from a damaged config.json
    may hold a NUL byte (ValueError) or point where we may not look (PermissionError)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def save_upload(name: str, data: bytes, runs_dir: str | Path | None = None) -> Path:
    """Keep an uploaded file on disk (``<runs>/_uploads/<hash>/<name>``) so the worker thread
    can load it by path; the same content is stored once. Raises DataError on a bad file."""
    suffix = Path(name).suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise DataError(f"{name}: unsupported file type {suffix or '(none)'}; upload a .csv, .jsonl, .json or .parquet file")
    if not data:
        raise DataError(f"{name} is empty (0 bytes)")
    digest = hashlib.sha256(data).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).name) or f"upload{suffix}"
    folder = Path(runs_dir or default_runs_dir()) / UPLOAD_DIR / digest
    path = folder / safe
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{safe}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


SETTINGS_FILE = "_workbench/settings.json"  # inside the runs folder: the last settings used


def load_settings(runs_dir: str | Path | None = None) -> dict[str, Any]:
    """The workbench settings saved by `save_settings` ({} when none or unreadable), so that a
    browser refresh or a new tab starts where the last one left off."""
    path = Path(runs_dir or default_runs_dir()) / SETTINGS_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(values: dict[str, Any], runs_dir: str | Path | None = None) -> dict[str, Any]:
    """Write the JSON-able entries of `values` (atomically); returns what was written."""
    from threephase_core.runstore import write_json_atomic

    keep = {}
    for key, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        keep[key] = value
    write_json_atomic(Path(runs_dir or default_runs_dir()) / SETTINGS_FILE, keep)
    return keep


def prune_uploads(runs_dir: str | Path | None = None, older_than_days: float = 30, keep: set[str] | None = None) -> list[Path]:
    """Delete upload folders not touched for `older_than_days` that no run's config and no path
    in `keep` refers to; returns the folders removed. Uploads a run used stay, so its data can
    still be re-run."""
    import shutil
    import time

    root = Path(runs_dir or default_runs_dir())
    uploads = root / UPLOAD_DIR
    if not uploads.is_dir():
        return []
    used = set(keep or ())
    for cfg in root.glob("*/config.json"):
        try:
            used.add(str(json.loads(cfg.read_text()).get("dataset", "")))
        except (OSError, ValueError):
            continue
    cutoff = time.time() - older_than_days * 86400
    removed = []
    for folder in uploads.iterdir():
        if not folder.is_dir() or folder.stat().st_mtime > cutoff:
            continue
        if any(str(f) in used or str(f.resolve()) in used for f in folder.iterdir()):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def table_file(spec: str) -> Path | None:
    """The file whose columns describe a dataset spec: the file itself, or a folder's train file."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for suffix in FILE_SUFFIXES:
            if (path / f"train{suffix}").exists():
                return path / f"train{suffix}"
    return None


def peek_table(path: str | Path, rows: int = 5) -> pd.DataFrame:
    """The first rows of a data file, read by the engine's reader (DataError on a bad file)."""
    from threephase_core.data import read_table  # the engine's reader and its messages

    df = read_table(Path(path))
    if df.empty or len(df.columns) == 0:
        raise DataError(f"{Path(path).name} has no rows")
    return df.head(rows)


_TEXT_NAMES = ("text", "sentence", "utterance", "content", "review", "document", "query", "question")
_LABEL_NAMES = ("label", "labels", "intent", "class", "category", "target", "scenario", "sentiment", "y")


def guess_columns(df: pd.DataFrame) -> tuple[str, str]:
    """(text column, label column): known names first, else the longest-string column and the
    column with the fewest distinct values."""
    cols = [str(c) for c in df.columns]
    lower = {c.lower(): c for c in cols}
    text = next((lower[n] for n in _TEXT_NAMES if n in lower), None)
    label = next((lower[n] for n in _LABEL_NAMES if n in lower), None)
    if text is None:
        lengths = {c: df[c].astype(str).str.len().mean() for c in cols}
        text = max(lengths, key=lengths.get) if lengths else cols[0]
    if label is None:
        others = [c for c in cols if c != text and c != "split"] or cols
        label = min(others, key=lambda c: df[c].nunique())
    return text, label


def source_stamp(spec: str) -> float:
    """Modification time of a local dataset (0 for the demo and hub ids): a cache key part."""
    path = Path(spec).expanduser()
    if spec == "demo" or not path.exists():
        return 0.0

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:  # a dangling link (an editor's lock file), an unreadable entry: the loader says what is wrong
            return 0.0

    if path.is_dir():
        try:
            entries = list(path.iterdir())
        except OSError:
            entries = []
        return max((mtime(p) for p in entries), default=mtime(path))
    return mtime(path)


def sample_texts(train: pd.DataFrame, label_names: list[str], per_class: int = 3, seed: int = 0) -> pd.DataFrame:
    """A few training texts of every class (seeded), as a (class, text) frame."""
    parts = []
    for i, name in enumerate(label_names):
        rows = train[train["label"] == i]
        if len(rows):
            pick = rows.sample(n=min(per_class, len(rows)), random_state=seed)
            parts.append(pd.DataFrame({"class": name, "text": pick["text"].to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["class", "text"])


# ---- imbalance and noise preview ------------------------------------------------------
def preset_for(r_min: float, r_max: float) -> str:
    """The preset with these ratios, or 'custom'."""
    return next((n for n, (a, b) in IMBALANCE_PRESETS.items() if math.isclose(a, r_min) and math.isclose(b, r_max)), "custom")


def imbalance_curve(largest: int, r_max: float, points: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """f(x) for x from 1 to M (log-spaced), the engine's formula."""
    largest = max(int(largest), 1)
    xs = np.unique(np.concatenate([np.geomspace(1, largest, points), [1.0, float(largest)]])) if largest > 1 else np.array([1.0])
    ys = np.array([imbalance_factor(min(x, largest), largest, r_max) for x in xs])
    return xs, ys


def threshold_size(largest: int, r_min: float, r_max: float) -> float:
    """The class size below which classes are oversampled: f(x) >= r_min, and f(x) >= 1.5 since
    the repeat count is f rounded (half up) and a count of 1 adds nothing, so
    x <= M ** (1 - max(r_min, 1.5) / r_max)."""
    if r_max <= 0 or largest <= 1:
        return 0.0
    return float(largest ** (1 - max(r_min, 1.5) / r_max))


def class_table(counts: dict[str, int], r_min: float, r_max: float) -> pd.DataFrame:
    """Per class: rows, f(x), repeats, rows after correction, oversampled or not."""
    present = [n for n in counts.values() if n > 0]
    largest = max(present) if present else 1
    after = corrected_counts(dict(counts), r_min, r_max)
    rows = []
    for name, n in counts.items():
        f = imbalance_factor(n, largest, r_max) if n > 0 else float("nan")
        rep = oversample_factor(n, largest, r_min, r_max) if n > 0 else 0
        rows.append({"class": name, "rows": int(n), "f": f, "repeats": rep, "rows_after": int(after[name]), "oversampled": rep > 1})
    return pd.DataFrame(rows)


def pair_stats(texts: list[str], labels, n_classes: int, r_min: float, r_max: float, augmentation: int = 2, seed: int = 0) -> dict:
    """Phase 2's data for these ratios, built by the engine: rows after correction and pairs."""
    from threephase_core.config import CLConfig
    from threephase_core.phases.contrastive import prepare_pairs

    cfg = CLConfig(min_ratio=float(r_min), max_ratio=float(r_max), augmentation=int(augmentation))
    out = prepare_pairs(texts, labels, n_classes, cfg, seed)
    scores = np.asarray(out["scores"])
    return {
        "rows_before": int(sum(out["counts_before"].values())),
        "rows_after": int(sum(out["counts_after"].values())),
        "pairs": int(len(scores)),
        "positive_pairs": int((scores >= 1.0).sum()),
    }


def _align(original: str, noisy: str) -> list[tuple[str, bool]]:
    """Mark which words of `original` survive in `noisy` (a subsequence of it)."""
    kept = noisy.split()
    out, j = [], 0
    for word in original.split():
        if j < len(kept) and kept[j] == word:
            out.append((word, True))
            j += 1
        else:
            out.append((word, False))
    return out


PREVIEW_WORDS = 120  # a preview shows at most this many words of a text


def _preview_cut(text: str, max_words: int) -> tuple[str, bool]:
    """The first `max_words` words of `text`, and whether it was cut: a text of a million words
    must not become a page of megabytes."""
    words = str(text).split(maxsplit=max_words)
    if len(words) > max_words:
        return " ".join(words[:max_words]), True
    return str(text), False


def noise_preview(text: str, ratio: float, seed: int = 0, max_words: int = PREVIEW_WORDS) -> list[tuple[str, bool]]:
    """(word, kept) after the DAE's word deletion at `ratio` (engine's `delete_words`), on the
    first `max_words` words (a cut text ends with a kept '…')."""
    from threephase_core.noise import delete_words

    text, cut = _preview_cut(text, max_words)
    return _align(text, delete_words(text, float(ratio), np.random.default_rng(seed))) + ([("…", True)] if cut else [])


def stopword_preview(text: str, seed: int = 0, max_words: int = PREVIEW_WORDS) -> list[tuple[str, bool]]:
    """(word, kept) for an oversampled copy (engine's `stopword_noise`), on the first `max_words` words."""
    from threephase_core.noise import stopword_noise

    text, cut = _preview_cut(text, max_words)
    return _align(text, stopword_noise(text, np.random.default_rng(seed))) + ([("…", True)] if cut else [])


# ---- models ---------------------------------------------------------------------------
def check_model(spec: str, kind: str | None = None) -> str | None:
    """A clear message when a model choice cannot work, else None. Quick: loads nothing.

    `kind` ('path' or 'hub') says how the user meant `spec`; by default it is guessed."""
    spec = (spec or "").strip()
    if spec in ("", "minilm", "default"):
        try:
            from threephase_core.encoder import packaged_minilm_path

            packaged_minilm_path()
        except Exception as exc:  # ModelError: package missing
            return str(exc)
        return None
    if spec == "tiny":
        return None
    path = Path(spec).expanduser()
    hub_like = re.fullmatch(r"[\w.-]+(/[\w.-]+)?", spec) is not None
    if kind == "path" or (kind != "hub" and (_exists(path) or spec.startswith((".", "/", "~")) or not hub_like)):
        from threephase_core.encoder import model_folder_problem

        return model_folder_problem(spec)
    if not hub_like:
        return f"{spec!r} is not a Hugging Face hub id (owner/name)"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(spec, "config.json")
        except Exception:
            cached = None
        if not isinstance(cached, str):
            return (
                f"hub model {spec!r} is not in the local cache and the hub is offline (HF_HUB_OFFLINE=1). "
                "Use the packaged MiniLM, a local model folder, or go online."
            )
    return None


def model_choice_problem(kind: str, spec: str) -> str | None:
    """A clear message when the model chosen on the Train page (`kind`: minilm, tiny, path or
    hub; `spec`: the model, see `_ui.model_spec`) cannot work, else None. The Train page and
    the Home page's demo button use it alike: an empty folder or hub id field is refused, never
    silently replaced by the default model."""
    spec = (spec or "").strip()
    if kind in ("path", "hub") and not spec:
        return "give a model folder" if kind == "path" else "give a Hugging Face hub id (owner/name)"
    return check_model(spec, kind if kind in ("path", "hub") else None)


# ---- settings the engine would refuse, said where they are set ------------------------
def ratio_problem(r_min: float, r_max: float) -> str | None:
    """Why these imbalance ratios cannot be trained (the engine refuses a minimum ratio above the
    maximum: f(x) never exceeds r_max, so no class would be oversampled), else None."""
    try:
        r_min, r_max = float(r_min), float(r_max)
    except (TypeError, ValueError):
        return "The imbalance ratios are not numbers; pick a preset on the Imbalance & noise page"
    if r_min > r_max:
        return (f"The min ratio ({r_min:g}) is above the max ratio ({r_max:g}): no class would be oversampled and "
                "the Train page refuses these settings. Lower the min ratio, raise the max ratio, or pick the preset "
                "'none' for no correction.")
    return None


def setting_hint(message: str, labels: dict[str, str]) -> str:
    """`message` (a ConfigError naming a setting as ``cl.max_pairs``) prefixed with where that
    setting is on the page (`labels`: setting key -> place), when one is named."""
    for key in sorted(labels, key=len, reverse=True):
        if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", message):
            return f"{labels[key]}: {message}"
    return message


def phase2_problem(train: pd.DataFrame, n_classes: int, phases, cl, max_train_rows: int = 0, seed: int = 0,
                   limit: int = 2_000) -> str | None:
    """Why phase 2 (CL with the pair loss, or Joint) would find no pairs in this training split
    after the `max_train_rows` cap, else None. The runner refuses such a run too, before phase 1,
    but only once the job has started and loaded the model; this answers on the page, before a
    run is queued, with the engine's own pair builder. Skipped (None) for training splits above
    `limit` rows, where it would be slow and cannot fail."""
    from threephase_core.data import stratified_sample
    from threephase_core.phases.contrastive import pair_phase, prepare_pairs

    if pair_phase(phases, cl) is None:
        return None
    rows = train
    if max_train_rows and len(rows) > max_train_rows:
        rows = stratified_sample(rows, int(max_train_rows), seed)
    if len(rows) > limit:
        return None
    try:
        pairs = len(prepare_pairs(rows["text"].tolist(), rows["label"].to_numpy(), n_classes, cl, seed)["scores"])
    except Exception:  # noqa: BLE001 - the engine will say it better; never block a run on a failed preview
        return None
    if pairs:
        return None
    per = rows["label"].value_counts()
    kept = f"Max training rows = {max_train_rows:,} keeps {len(rows):,} training rows" if max_train_rows else f"The training split has {len(rows):,} rows"
    return (f"{kept} (at most {int(per.max())} per class): phase 2 would find no pairs of texts of one class and the run "
            "would fail after phase 1. " + ("Raise Max training rows (each class needs two rows or more) or set it to 0 (all rows)."
                                            if max_train_rows else "Add rows: each class needs two texts or more."))


def runs_dir_problem(root: str | Path) -> str | None:
    """Why the runs folder cannot hold runs (a file in the way, a folder we may not write), else
    None. A folder that does not exist yet is fine when it can be made."""
    root = Path(root)
    probe = root
    while not _exists(probe) and probe != probe.parent:
        probe = probe.parent  # the nearest existing ancestor decides whether it can be made
    where = f"The runs folder {root}"
    if probe != root and not probe.is_dir():
        return f"{where} cannot be made: {probe} is a file. Set THREEPHASE_RUNS_DIR to a folder and restart the workbench."
    if probe == root and not root.is_dir():
        return f"{where} is a file, not a folder. Set THREEPHASE_RUNS_DIR to a folder and restart the workbench."
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{where} is not writable, so no run can be saved. Set THREEPHASE_RUNS_DIR to a folder you may write and restart the workbench."
    return None


def columns_problem(df: pd.DataFrame, name: str) -> str | None:
    """Why a table cannot give a text and a label column (it has fewer than two), else None."""
    cols = [str(c) for c in df.columns]
    if len(cols) < 2:
        return (f"{name} has only one column ({', '.join(cols) or 'none'}); a dataset needs a text column and a label "
                "column, e.g. a header line `text,label`")
    return None


# ---- saved settings -------------------------------------------------------------------
# The range a number setting's widget accepts; the pages draw their widgets with these.
SETTING_LIMITS: dict[str, tuple[float, float]] = {
    "wb.min_ratio": (0.5, 5.0), "wb.max_ratio": (1.0, 30.0), "wb.noise": (0.0, 0.9), "wb.augmentation": (1, 16),
    "wb.max_steps": (0, 1_000_000), "wb.max_length": (16, 4096), "wb.max_train_rows": (0, 10_000_000), "wb.embed_rows": (50, 50_000),
}


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value)
    if isinstance(default, dict):
        return isinstance(value, dict) and all(isinstance(value.get(k), type(v)) for k, v in default.items())
    return isinstance(value, type(default)) if default is not None else True


def setting_fits(value: Any, default: Any, bounds: tuple | None = None, options=None) -> bool:
    """Whether a stored value can be shown by its widget: the default's type, within `bounds`
    (min, max) and among `options` when given (a Train-page phase setting from a saved file)."""
    if not _same_kind(value, default):
        return False
    if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool) and not bounds[0] <= value <= bounds[1]:
        return False
    return options is None or value in options


def clean_settings(saved: dict[str, Any], defaults: dict[str, Any], choices: dict[str, list] | None = None) -> dict[str, Any]:
    """The saved settings a page can draw: entries whose type differs from the default's, numbers
    outside `SETTING_LIMITS` and values not among `choices` (a recipe since renamed, a hand-edited
    file) are dropped, so the default is used instead of a widget raising."""
    out = {}
    for key, value in saved.items():
        if key in defaults and not _same_kind(value, defaults[key]):
            continue
        if key in SETTING_LIMITS and not SETTING_LIMITS[key][0] <= value <= SETTING_LIMITS[key][1]:
            continue
        if choices and key in choices and value not in choices[key]:
            continue
        if isinstance(defaults.get(key), float):
            value = float(value)
        out[key] = value
    return out


# ---- runs -----------------------------------------------------------------------------
def run_state(run: Run, live: dict[str, dict]) -> str:
    """The run's state. A 'running'/'queued' folder with no job in this workbench is being
    trained elsewhere (a command-line run, another server: `trained_elsewhere`) or else was
    'interrupted'."""
    if run.id in live:
        return live[run.id]["state"]
    state = run.status.get("state", "unknown")
    if not isinstance(state, str):  # a damaged status.json
        return "unknown"
    if state in ACTIVE_STATES:
        return state if trained_elsewhere(run) else "interrupted"
    return state


def trained_elsewhere(run: Run) -> str | None:
    """Why an active-looking run with no job in this workbench is live, else None: its recorded
    process (pid and host) is alive and is not this one, or its files changed in the last
    ACTIVE_WINDOW_S seconds (another machine sharing the folder, or a run from before runs
    recorded their process)."""
    import time

    status = run.status
    if owner_alive(status) and status.get("pid") != os.getpid():
        return f"being trained by another process (pid {status['pid']}, maybe a command-line run)"
    try:
        touched = max((run.path / f).stat().st_mtime for f in ("status.json", "events.jsonl") if (run.path / f).exists())
    except (OSError, ValueError):
        return None
    age = time.time() - touched
    if age < ACTIVE_WINDOW_S:
        return f"active (its files changed {int(age)} s ago, maybe a command-line run)"
    return None


def _stamp(run: Run) -> float:
    """When the run started: status.json's ``created`` if it is a usable number (see
    `runstore.as_timestamp`), else config.json's modification time, else 0."""
    created = run.created()
    if created is not None:
        return created
    try:
        return (run.path / "config.json").stat().st_mtime
    except OSError:
        return 0.0


def _dict(value: Any) -> dict:
    """`value` if it is a dict, else {}: metrics.json sections of a damaged file."""
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    """`value` as a float if it is a real number (not a bool), else None: a damaged metric must
    not reach the tables and the pages' number formatting as a string or a list."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value)


def _seed(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None


def run_row(run: Run, live: dict[str, dict]) -> dict:
    """One row of the runs table. Every value is a plain str/number/None whatever the run
    folder holds: a damaged config, status or metrics file gives '?'/None cells, not an
    exception (which would take the whole table, and the Home page, down)."""
    cfg, status, metrics = run.config, run.status, run.metrics
    val, test = _dict(metrics.get("validation")), _dict(metrics.get("test"))
    wall = status.get("wall_s")
    if run.id in live and live[run.id]["state"] in ACTIVE_STATES:
        wall = live[run.id].get("elapsed_s")
    return {
        "run": run.id,
        "state": run_state(run, live),
        "recipe": str(cfg.get("recipe", status.get("recipe", "?"))),
        "dataset": dataset_label(cfg.get("dataset", status.get("dataset", "?"))),
        "model": model_label(cfg.get("model", "")),
        "seed": _seed(cfg.get("seed", status.get("seed"))),
        "val_acc": _number(val.get("accuracy")),
        "test_acc": _number(test.get("accuracy")),
        "test_f1": _number(test.get("f1_macro")),
        "wall_s": _number(wall),
        "steps_cap": str(cfg.get("max_steps") or ""),
        "device": status.get("device_name") or status.get("device"),
        "created": pd.Timestamp(_stamp(run), unit="s", tz="UTC").tz_convert(None).floor("s"),
        "has_model": run.has_model(),
        "phases": len(run.embedding_phases()),
        "data_key": _key(cfg.get("dataset"), cfg.get("text_column"), cfg.get("label_column"), cfg.get("max_train_rows")),
        "model_key": str(cfg.get("model", "")),
        "settings_key": _settings_key(cfg),
    }


# Config keys that do not change what a run learns: left out when runs are compared.
# (max_steps too: the Results page treats step-capped smoke runs apart.)
_NOT_SETTINGS = {"seed", "device", "embed_rows", "dataset", "text_column", "label_column", "max_train_rows", "model", "max_steps"}


def _phase_sections(phases) -> set[str]:
    """The config sections a run with these phases reads: its phases, and Joint's DAE and CL."""
    return set(phases) | ({"dae", "cl"} if "joint" in phases else set())


def _settings_key(cfg: dict) -> str:
    """What a run learned with, beyond the seed and the data: the top-level settings and the
    sections of the phases it ran (an FT run's unused DAE/CL defaults do not count), floats
    rounded to 10 significant digits (a number input's 6.000000000000001e-05 is 6e-05)."""
    used = _phase_sections(cfg.get("phases") if isinstance(cfg.get("phases"), list) else [])

    def tidy(v):
        if isinstance(v, float):
            return float(f"{v:.10g}")
        if isinstance(v, dict):
            return {k: tidy(x) for k, x in v.items()}
        return v

    return _key({k: tidy(v) for k, v in cfg.items()
                 if k not in _NOT_SETTINGS and (k not in ("dae", "cl", "ft") or k in used)})


def _key(*parts) -> str:
    """A short stable key of JSON-able parts (run configs are JSON already)."""
    return hashlib.md5(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


RUN_COLUMNS = ["run", "state", "recipe", "dataset", "model", "seed", "val_acc", "test_acc", "test_f1", "wall_s", "steps_cap", "device", "created",
               "has_model", "phases", "data_key", "model_key", "settings_key"]


ACTIVE_WINDOW_S = 120.0  # a "running" folder written to this recently may belong to another process


def delete_problem(run: Run, live: dict[str, dict]) -> str | None:
    """Why `run` must not be deleted now, else None: a job of this workbench is queued or running
    it; or its status says running and the process that started it is alive (`owner_alive`), or
    its files changed in the last ACTIVE_WINDOW_S seconds (a run from another machine sharing the
    folder, or from before runs recorded their process)."""
    if run.id in live and live[run.id].get("state") in ACTIVE_STATES:
        return f"{run.id} is {live[run.id]['state']}; stop it on the Train page first"
    if run.status.get("state") in ACTIVE_STATES:
        why = trained_elsewhere(run)
        if why:
            return f"{run.id} is {why}; stop that first, or try again when it has stopped"
    return None


def delete_runs(store: RunStore, run_ids: list[str], live: dict[str, dict]) -> tuple[list[str], list[str]]:
    """Delete these runs' folders; returns (deleted ids, one message per run that was not)."""
    deleted, problems = [], []
    for run_id in run_ids:
        try:
            run = store.get(run_id)
        except KeyError:
            problems.append(f"{run_id} was already deleted (another tab?)")
            continue
        problem = delete_problem(run, live)
        if problem:
            problems.append(problem)
            continue
        try:
            store.remove(run_id)
            deleted.append(run_id)
        except (OSError, KeyError) as exc:
            problems.append(f"{run_id} could not be deleted: {getattr(exc, 'strerror', None) or exc}")
    return deleted, problems


def cleanup_candidates(df: pd.DataFrame) -> dict[str, list[str]]:
    """Run ids a tidy-up would delete, by kind: runs that did not finish (failed, cancelled,
    interrupted) and smoke runs (finished with a step cap: their scores are not results)."""
    if not len(df):
        return {"unfinished": [], "smoke": []}
    # "unknown" (a damaged status.json) only without results: a finished run may have lost its status file.
    results = df["test_acc"].notna() | df["has_model"].fillna(False).astype(bool)
    unfinished = df["state"].isin(["failed", "cancelled", "interrupted"]) | ((df["state"] == "unknown") & ~results)
    smoke = (df["state"] == "done") & (df["steps_cap"].astype(str) != "")
    return {"unfinished": df.loc[unfinished, "run"].tolist(), "smoke": df.loc[smoke, "run"].tolist()}


def runs_frame(store: RunStore, live: dict[str, dict] | None = None) -> pd.DataFrame:
    """One row per run folder, newest first."""
    live = live or {}
    rows = [run_row(r, live) for r in store.list()]
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return df.sort_values("created", ascending=False, kind="stable").reset_index(drop=True) if len(df) else df


def recipe_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """The ablation table from finished runs: per recipe, mean and sample std (as bench/accuracy.py) over
    seeds of validation/test accuracy and macro F1 (std 0 for a single run), and the test accuracy's
    difference to FT paired over seeds (`versus_baseline`), in the recipes' order."""
    from threephase_core.recipes import RECIPES

    done = df[(df["state"] == "done") & df["test_acc"].notna()] if len(df) else df
    if not len(done):
        return pd.DataFrame(columns=["recipe", "seeds", "val_mean", "val_std", "test_mean", "test_std", "f1_mean", "f1_std",
                                     "vs_seeds", "vs_diff", "vs_p"])
    g = done.groupby("recipe")
    out = pd.DataFrame({
        "seeds": g["seed"].nunique(),
        "runs": g.size(),
        "val_mean": g["val_acc"].mean(), "val_std": g["val_acc"].std(ddof=1),
        "test_mean": g["test_acc"].mean(), "test_std": g["test_acc"].std(ddof=1),
        "f1_mean": g["test_f1"].mean(), "f1_std": g["test_f1"].std(ddof=1),
    }).reset_index()
    out[["val_std", "test_std", "f1_std"]] = out[["val_std", "test_std", "f1_std"]].fillna(0.0)  # one run: no spread
    paired = versus_baseline(done)
    out = out.merge(paired, on="recipe", how="left")
    order = {name: i for i, name in enumerate(RECIPES)}
    out["_o"] = out["recipe"].map(lambda r: order.get(r, len(order)))
    return out.sort_values("_o").drop(columns="_o").reset_index(drop=True)


def comparison_groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Finished runs split into groups that may be compared: same data (file, text and label
    columns, training-row cap) and same model, largest group first, each with a label for the
    page ("dataset · model", numbered where two groups would read the same)."""
    done = df[df["state"] == "done"] if len(df) else df
    if not len(done):
        return []
    groups = sorted(done.groupby(["data_key", "model_key"], sort=False), key=lambda kv: -len(kv[1]))
    labels = [f"{g['dataset'].iloc[0]} · {g['model'].iloc[0]}" for _, g in groups]
    out = []
    for label, (_, g) in zip(labels, groups):
        # Two groups that read the same get a note that does not change as runs finish (the page
        # keeps the choice by its text): the group's first run.
        text = label if labels.count(label) == 1 else f"{label} (since {g.sort_values(['created', 'run'])['run'].iloc[0]})"
        out.append((text, df[df["run"].isin(g["run"])]))
    return out


def mixed_settings(group: pd.DataFrame) -> list[str]:
    """Recipes whose finished runs in this group were trained with different settings (beyond
    the seed): their mean mixes configurations."""
    done = group[group["state"] == "done"]
    if not len(done):
        return []
    counts = done.groupby("recipe")["settings_key"].nunique()
    return sorted(counts[counts > 1].index)


def versus_baseline(done: pd.DataFrame, baseline: str = "ft", metric: str = "test_acc") -> pd.DataFrame:
    """Per recipe, `metric` minus the baseline's over the seeds both finished: (recipe, vs_seeds,
    vs_diff, vs_p), vs_p from a paired t-test (NaN with one common seed or identical scores).

    Pairing by seed is what makes a small difference readable: two recipes run with the same
    seed share the data split and the head's initialisation, so the seed-to-seed spread (often
    larger than the difference itself) cancels out. Re-runs of one recipe and seed are averaged.
    """
    cols = ["recipe", "vs_seeds", "vs_diff", "vs_p"]
    per_seed = done.groupby(["recipe", "seed"])[metric].mean().unstack("seed") if len(done) else pd.DataFrame()
    if baseline not in per_seed.index:  # no baseline run, or none with a usable seed (a damaged config)
        return pd.DataFrame(columns=cols)
    base = per_seed.loc[baseline]
    rows = []
    for recipe, scores in per_seed.iterrows():
        if recipe == baseline:
            continue
        both = scores.notna() & base.notna()
        x, y = scores[both].to_numpy(float), base[both].to_numpy(float)
        if not len(x):
            continue
        p = paired_p(x, y)
        rows.append({"recipe": recipe, "vs_seeds": int(len(x)), "vs_diff": float(np.mean(x - y)), "vs_p": p})
    return pd.DataFrame(rows, columns=cols)


def versus_text(recipe: str, seeds, diff, p, baseline: str = "ft") -> str:
    """The Results table's "vs FT" cell: '+0.8 pts, p = 0.21 (3 seeds)'; 'baseline' on FT's own
    row; '–' with no seed in common; the p-value is left out with one seed (no spread to test)."""
    if recipe == baseline:
        return "baseline"
    if not isinstance(seeds, (int, np.integer, float)) or not np.isfinite(seeds) or seeds < 1 or not np.isfinite(diff):
        return "–"
    n = int(seeds)
    text = f"{diff * 100:+.1f} pts"
    if n > 1 and np.isfinite(p):
        text += f", p = {p:.2f}"
    elif n > 1:
        text += ", the same gap on every seed"
    return text + f" ({n} seed{'s' if n > 1 else ''})"


def per_class_frame(metrics: dict, split: str = "test") -> pd.DataFrame:
    """Per-class precision/recall/F1/support of `split`; entries of a damaged metrics file
    that are not per-class dicts are left out."""
    per = _dict(_dict(_dict(metrics).get(split)).get("per_class"))
    rows = [
        {"class": str(name), "precision": _number(v.get("precision")), "recall": _number(v.get("recall")),
         "f1": _number(v.get("f1-score")), "support": int(_number(v.get("support", 0)) or 0)}
        for name, v in per.items() if isinstance(v, dict)
    ]
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1", "support"])


def before_ft_acc(metrics: dict) -> float | None:
    """Validation accuracy of the head on the encoder before phase 3 (None when missing or not a number)."""
    return _number(_dict(_dict(metrics).get("before_ft")).get("val_acc"))


def lora_summary(metrics: dict) -> dict | None:
    """{trainable_params, total_params, trainable_share} of a LoRA run, or None when the run has
    none or its entry is damaged (a missing or non-numeric count)."""
    lora = _dict(_dict(_dict(metrics).get("ft")).get("lora"))
    out = {k: _number(lora.get(k)) for k in ("trainable_params", "total_params", "trainable_share")}
    if not lora or any(v is None for v in out.values()):
        return None
    return {"trainable_params": int(out["trainable_params"]), "total_params": int(out["total_params"]),
            "trainable_share": out["trainable_share"]}


def ft_evals(metrics: dict) -> list[dict]:
    """Phase 3's validation evaluations [{step, val_acc}] for the loss chart; entries that are not
    objects with numeric step and val_acc (a damaged metrics file) are left out."""
    evals = _dict(_dict(metrics).get("ft")).get("evals")
    out = []
    for e in evals if isinstance(evals, list) else []:
        if isinstance(e, dict) and _number(e.get("step")) is not None and _number(e.get("val_acc")) is not None:
            out.append({**e, "step": _number(e["step"]), "val_acc": _number(e["val_acc"])})
    return out


def phase_table(metrics: dict) -> pd.DataFrame:
    """One row per phase of metrics.json: wall time, silhouette, kNN accuracy, pairs (None where
    missing or not a number)."""
    rows = []
    for p, v in _dict(_dict(metrics).get("phases")).items():
        v = _dict(v)
        rows.append({"phase": PHASE_TITLES.get(p, p), "wall time (s)": _number(v.get("wall_s")), "silhouette": _number(v.get("silhouette")),
                     "kNN acc": _number(v.get("knn_acc")), "pairs": _number(_dict(v.get("data")).get("pairs"))})
    return pd.DataFrame(rows, columns=["phase", "wall time (s)", "silhouette", "kNN acc", "pairs"])


def phase2_counts(metrics: dict) -> pd.DataFrame | None:
    """Phase 2's rows per class before and after the imbalance correction, or None when the run
    has none (or they are damaged)."""
    for v in _dict(_dict(metrics).get("phases")).values():
        data = _dict(_dict(v).get("data"))
        before, after = data.get("counts_before"), _dict(data.get("counts_after"))
        if isinstance(before, dict) and before:
            return pd.DataFrame({"class": [str(c) for c in before], "before": [_number(n) for n in before.values()],
                                 "after correction": [_number(after.get(c)) for c in before]})
    return None


def label_names(run: Run, labels: np.ndarray | None = None) -> list[str]:
    """The run's class names (data.json) as strings; when they are missing or damaged (not
    plain values), '0', '1', ... up to the largest label in `labels`."""
    names = run.data_summary.get("label_names") or []
    if names and all(isinstance(n, (str, int, float)) and not isinstance(n, bool) for n in names):
        names = [str(n) for n in names]
        if len(set(names)) == len(names) and (labels is None or not len(labels) or int(np.max(labels)) < len(names)):
            return names
    n = int(np.max(labels)) + 1 if labels is not None and len(labels) else 0
    return [str(i) for i in range(n)]


def confusion(metrics: dict, split: str = "test") -> tuple[np.ndarray, list[str]] | None:
    """(square count matrix, class names) of `split`, or None when there is none or it is not
    a square numeric matrix (a damaged metrics file)."""
    m = _dict(_dict(metrics).get(split))
    if "confusion_matrix" not in m:
        return None
    try:
        matrix = np.asarray(m["confusion_matrix"], dtype=float)
    except (TypeError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        return None
    names = [str(n) for n in _dict(m.get("per_class"))]
    if len(names) != len(matrix):
        names = [str(i) for i in range(len(matrix))]
    return matrix, names


def losses_from_events(events: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """{phase: [(step, loss), ...]} rebuilt from a run's event log (past runs). Events that are
    not dicts or whose step/loss are not numbers (a damaged log) are skipped."""
    out: dict[str, list[tuple[int, float]]] = {}
    for e in events:
        if not isinstance(e, dict) or e.get("type") != "loss" or e.get("loss") is None:
            continue
        try:
            point = (int(e.get("step", 0)), float(e["loss"]))
        except (TypeError, ValueError, OverflowError):
            continue
        out.setdefault(str(e.get("phase", "?")), []).append(point)
    return out


def loss_frame(losses: dict[str, list]) -> pd.DataFrame:
    rows = [(phase, int(step), float(loss)) for phase, pts in losses.items() for step, loss in pts]
    return pd.DataFrame(rows, columns=["phase", "step", "loss"])


def config_rows(config: dict) -> pd.DataFrame:
    """A run's config as (setting, value) rows, sections flattened to 'ft.lr'."""
    rows = []
    for key, value in config.items():
        if isinstance(value, dict):
            rows += [(f"{key}.{k}", v) for k, v in value.items()]
        else:
            rows.append((key, value))
    return pd.DataFrame([(k, " → ".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in rows], columns=["setting", "value"])


def model_zip(run: Run) -> bytes:
    """The run's trained model folder (encoder + head) as zip bytes."""
    if not run.has_model():
        raise FileNotFoundError(f"run {run.id} has no saved model")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for f in sorted(run.model_dir.rglob("*")):
            if f.is_file():
                zf.write(f, Path(run.id) / "model" / f.relative_to(run.model_dir))
        zf.write(run.path / "config.json", Path(run.id) / "config.json")
    return buf.getvalue()


def phase_quality(metrics: dict, phases: list[str]) -> dict[str, dict]:
    """phase -> {silhouette, knn_acc} from metrics.json (NaN where missing or not a number)."""
    ph = _dict(_dict(metrics).get("phases"))

    def score(p: str, key: str) -> float:
        value = _number(_dict(ph.get(p)).get(key))
        return float("nan") if value is None else value

    return {p: {"silhouette": score(p, "silhouette"), "knn_acc": score(p, "knn_acc")} for p in phases}


# ---- projections ----------------------------------------------------------------------
PROJECTION_VERSION = 1
_executor: ThreadPoolExecutor | None = None
_inflight: dict[tuple, Future] = {}
_proj_lock = threading.Lock()


def _embed_stamp(run: Run, phases: list[str]) -> list[float]:
    out = []
    for p in phases:
        try:
            out.append(round((run.path / "embeddings" / f"{p}.npz").stat().st_mtime, 3))
        except OSError:
            out.append(-1.0)
    return out


# What reading a damaged embeddings file can raise: cut short or overwritten (BadZipFile,
# EOFError, OSError), a corrupt compressed member (zlib.error, BadZipFile "Bad CRC-32"), a
# missing array (KeyError), an array numpy cannot read (ValueError).
EMBEDDING_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def _read_phase(run: Run, phase: str, arrays: tuple[str, ...] = ("embeddings", "labels", "texts")) -> dict[str, np.ndarray] | None:
    """The named arrays of one phase's embeddings file, or None when the file is damaged (does
    not read, lacks an array, or its arrays disagree in length)."""
    try:
        with np.load(run.path / "embeddings" / f"{phase}.npz", allow_pickle=False) as z:
            d = {k: z[k] for k in arrays}
    except EMBEDDING_ERRORS:
        return None
    if "embeddings" in d and d["embeddings"].ndim != 2:
        return None
    if len({len(v) for v in d.values()}) > 1:
        return None
    return d


def embedding_notes(run: Run) -> list[str]:
    """One sentence per phase whose embeddings file is on disk but cannot be read, for a page to
    show; `load_run_embeddings` and `run_points` leave those phases out."""
    bad = set(run.damaged_embeddings()) | {p for p in run.embedding_phases() if _read_phase(run, p, ("labels",)) is None}
    return [f"The embeddings of phase {PHASE_TITLES.get(p, p)!r} (embeddings/{p}.npz) are damaged and are not shown." for p in sorted(bad)]


def load_run_embeddings(run: Run) -> tuple[list[str], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(phases, {phase: embeddings}, labels, texts) for the phases on disk (same rows each).
    A phase whose file is damaged, or that holds a different row set, is left out (see
    `embedding_notes`): one bad file must not hide the other maps."""
    phases = run.embedding_phases()
    embs, labels, texts = {}, None, None
    for p in phases:
        d = _read_phase(run, p)
        if d is None:
            continue
        if labels is not None and len(d["labels"]) != len(labels):
            continue  # a phase from a different row set: leave it out
        embs[p] = d["embeddings"]
        if labels is None:
            labels, texts = d["labels"], d["texts"]
    phases = [p for p in phases if p in embs]
    return phases, embs, (labels if labels is not None else np.zeros(0, int)), (texts if texts is not None else np.array([], dtype=str))


def run_points(run: Run) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(phases on disk, labels, texts) of a run's saved validation rows, without reading the
    embeddings themselves (what a page needs to draw cached maps).

    The phases are `Run.embedding_phases()` unchanged (the Embeddings page compares the two to
    notice new phases); labels and texts come from the first phase whose file reads, so a
    damaged file only loses its own map (the projections leave it out)."""
    phases = run.embedding_phases()
    for p in phases:
        d = _read_phase(run, p, ("labels", "texts"))
        if d is not None:
            return phases, d["labels"], d["texts"]
    return phases, np.zeros(0, dtype=np.int64), np.array([], dtype=str)


def projection_file(run: Run, method: str) -> Path:
    return run.path / "projections" / f"{method}.npz"


def cached_projection(run: Run, method: str) -> dict[str, np.ndarray] | None:
    """The cached 2-D layouts {phase: (n, 2)} if they match the embeddings on disk."""
    f = projection_file(run, method)
    if not f.exists():
        return None
    try:
        with np.load(f, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            phases = run.embedding_phases()
            # "on_disk": the phases there were when it was computed, including any left out as
            # damaged or of another row set (older caches lack it: then they were the same).
            on_disk = meta.get("on_disk", meta.get("phases"))
            if meta.get("version") != PROJECTION_VERSION or on_disk != phases or meta.get("stamp") != _embed_stamp(run, phases):
                return None
            return {p: z[f"xy_{p}"] for p in meta["phases"]}
    except EMBEDDING_ERRORS + (TypeError, AttributeError):
        return None


def compute_projection(run: Run, method: str = "pca", seed: int = 0) -> dict[str, np.ndarray]:
    """Project every phase (aligned to the previous one) and cache it in the run folder. The
    cache is only a shortcut: when it cannot be written (a full disk, a read-only folder) the
    layouts are still returned."""
    from threephase_core.projection import project_phases

    on_disk = run.embedding_phases()
    phases, embs, _, _ = load_run_embeddings(run)
    if not phases:
        return {}
    stamp = _embed_stamp(run, on_disk)
    layouts = project_phases({p: embs[p] for p in phases}, method=method, seed=seed)
    meta = json.dumps({"version": PROJECTION_VERSION, "method": method, "phases": phases, "on_disk": on_disk, "stamp": stamp, "seed": seed})
    folder = run.path / "projections"
    tmp = folder / f".{method}.{os.getpid()}.{threading.get_ident()}.tmp.npz"
    try:
        folder.mkdir(exist_ok=True)
        np.savez(tmp, meta=np.array(meta), **{f"xy_{p}": layouts[p].astype(np.float32) for p in phases})
        os.replace(tmp, projection_file(run, method))
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return layouts


def projection(run: Run, method: str) -> dict[str, np.ndarray]:
    """Cached layouts, else computed now (meant for PCA: instant)."""
    return cached_projection(run, method) or compute_projection(run, method)


def _projection_key(run: Run, method: str) -> tuple:
    """A background projection's identity: the run folder, the method and the phases on disk."""
    return (str(run.path), method, tuple(run.embedding_phases()))


def request_projection(run: Run, method: str = "umap") -> Future:
    """Compute (and cache) a projection in the background; one at a time, deduplicated."""
    global _executor
    key = _projection_key(run, method)
    with _proj_lock:
        fut = _inflight.get(key)
        if fut is not None and (not fut.done() or fut.exception() is None):
            return fut
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1)  # default thread names: not a run worker
        fut = _executor.submit(compute_projection, Run(run.path), method)
        _inflight[key] = fut
        return fut


def ready_projection(run: Run, method: str) -> dict[str, np.ndarray] | None:
    """The layouts to draw: the cache in the run folder, else a finished background computation
    of the same phases (its cache may not have been writable: a read-only folder, a full disk)."""
    cached = cached_projection(run, method)
    if cached is not None:
        return cached
    fut = _inflight.get(_projection_key(run, method))
    if fut is not None and fut.done() and fut.exception() is None and fut.result():
        return fut.result()
    return None


def projection_failure(run: Run, method: str) -> str | None:
    """The error message of a failed background projection of this run, if any."""
    fut = _inflight.get(_projection_key(run, method))
    if fut is not None and fut.done() and fut.exception() is not None:
        return f"{type(fut.exception()).__name__}: {fut.exception()}"
    return None


# ---- train-page helpers ---------------------------------------------------------------
def parse_seeds(text: str) -> list[int]:
    """'0', '0,1,2', '0-4' or '0 1 2' -> sorted unique seeds; ValueError with a clear message."""
    seeds: set[int] = set()
    for part in re.split(r"[,\s]+", (text or "").strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)-(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a or b - a > 99:
                raise ValueError(f"seed range {part!r} must go upwards and hold at most 100 seeds")
            seeds.update(range(a, b + 1))
        elif part.isdigit():
            seeds.add(int(part))
        else:
            raise ValueError(f"seed {part!r} is not a whole number >= 0 (write e.g. 0 or 0,1,2 or 0-4)")
    if not seeds:
        raise ValueError("give at least one seed (e.g. 0, or 0,1,2 for three runs)")
    return sorted(seeds)


def recipe_fixed_fields(recipe: str) -> set[str]:
    """Settings a recipe sets itself (e.g. cl.imbalance for extra_imb): shown, not edited."""
    from threephase_core.recipes import get_recipe

    return set(get_recipe(recipe).overrides)


def train_form_values(cfg: dict, field_keys: list[str], shared: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The workbench settings (session keys of the Data, Imbalance and Train pages) that set up
    this run's config again, and notes on what could not be loaded: "Load these settings into
    Train" on the Results page. `field_keys` are the Train form's phase settings, `shared` those
    kept under a workbench-wide key (noise, augmentation) unless the recipe fixes them. Only the
    sections of phases the run has are read (an FT run's unused DAE/CL defaults would overwrite
    the user's noise and imbalance settings); values of the wrong type, from a damaged
    config.json, are left out. ValueError when the recipe is not one the workbench knows."""
    from threephase_core.recipes import RECIPES

    recipe = cfg.get("recipe")
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise ValueError(f"this run's recipe {recipe!r} is not one the workbench knows")
    notes: list[str] = []
    out: dict[str, Any] = {"wb.recipe": recipe}
    used = _phase_sections(cfg.get("phases") if isinstance(cfg.get("phases"), list) else RECIPES[recipe].phases)
    seed = cfg.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        out["wb.seeds"] = str(seed)
    model = cfg.get("model") or "minilm"
    if isinstance(model, str):
        kind = model if model in ("minilm", "tiny") else "path" if _exists(Path(model).expanduser()) else "hub"
        out["wb.model_kind"] = kind
        if kind in ("path", "hub"):
            out[f"wb.model_{kind}"] = model
    spec = cfg.get("dataset")
    if isinstance(spec, str) and spec:
        path = Path(spec).expanduser()
        source = ("demo" if spec == "demo" else "folder" if _exists(path) and path.is_dir() else "upload" if _exists(path)
                  else "hub" if re.fullmatch(r"[\w.-]+/[\w.-]+", spec) and not spec.startswith((".", "/", "~")) else None)
        if source is None:
            notes.append(f"the dataset {spec!r} is not on this machine; the dataset in use is kept")
        else:
            text, label = cfg.get("text_column", "text"), cfg.get("label_column", "label")
            if isinstance(text, str) and isinstance(label, str):
                out["wb.dataset"] = {"spec": spec, "text_column": text, "label_column": label}
                out["wb.source"] = source
    for key in ("max_steps", "max_length", "max_train_rows", "embed_rows", "device"):
        if key in cfg:
            out[f"wb.{key}"] = cfg[key]
    fixed = recipe_fixed_fields(recipe)
    cl = _dict(cfg.get("cl"))
    if "cl" in used and "cl.imbalance" not in fixed and isinstance(cl.get("imbalance"), str) and cl["imbalance"] in IMBALANCE_PRESETS:
        try:
            r_min, r_max = CLConfig(**{k: cl[k] for k in ("imbalance", "min_ratio", "max_ratio") if k in cl}).ratios()
            out.update({"wb.min_ratio": float(r_min), "wb.max_ratio": float(r_max), "wb.preset": preset_for(float(r_min), float(r_max))})
        except (TypeError, ValueError):
            notes.append("the imbalance ratios could not be read")
    for key in field_keys:
        section, name = key.split(".", 1)
        value = _dict(cfg.get(section)).get(name)
        if section not in used or value is None or key in fixed or isinstance(value, (dict, list)):
            continue
        out[shared[key] if key in shared else f"wb.t.{recipe}.{key}"] = value
    return out, notes


def recipe_defaults(recipe: str) -> RunConfig:
    from threephase_core.recipes import build_config

    return build_config(recipe)


def changed_overrides(recipe: str, values: dict[str, Any]) -> dict[str, Any]:
    """Only the settings that differ from the recipe's own defaults (so a recipe's fixed
    settings are never overwritten by a form field that was left alone)."""
    base = recipe_defaults(recipe)
    fixed = recipe_fixed_fields(recipe)
    out = {}
    for key, value in values.items():
        if key in fixed:
            continue
        target: Any = base
        for part in key.split("."):
            target = getattr(target, part)
        if isinstance(value, float) and isinstance(target, (int, float)) and math.isclose(float(target), value, rel_tol=1e-9, abs_tol=1e-12):
            continue
        if value != target:
            out[key] = value
    return out


def fmt_seconds(s: float | None) -> str:
    if s is None or (isinstance(s, float) and not math.isfinite(s)):
        return "–"
    s = float(s)
    if s < 60:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"

