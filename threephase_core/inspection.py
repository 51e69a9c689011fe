"""A run's saved texts as points to inspect: load them, find them, follow them across phases.

Why: the Embeddings page lets a person select texts on one phase's map and read them on every
other, pick a text and read its neighbours, see which texts moved, and show training texts
beside validation texts. This module turns a run folder into one `Points` object (validation
rows, training rows, or both, with one id per text that stays the same in every phase and
every view) and computes, with per-run caches, what the page asks of it. No Streamlit here.

Run-folder files it reads (written by the runner):
    embeddings/<phase>.npz          validation texts: embeddings, labels, texts (+ proba after FT)
    embeddings/train/<phase>.npz    training texts: the same arrays, plus rows
and the cache it writes (safe to delete):
    inspection/knn_<view>_<phase>.npz    the K_MAX nearest neighbours of every point
(the maps of training texts are `inspection_maps.py`'s; reading a map's selection, searching the
texts and sampling a crowded map are `map_selection.py`'s).

Ids: validation text i has id i; training text j has id n_validation + j. A selection kept as
ids therefore survives switching projections and switching between validation, training and both.
"""

from __future__ import annotations

import json
import os
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from threephase_core import neighbours as nb
from threephase_core.projection import PHASE_ORDER
from threephase_core.runstore import Run

VIEWS = ("validation", "training", "both")
K_MAX = 30  # neighbours kept per point in the cache; the page's k is at most this
CACHE_VERSION = 1
# What reading a damaged .npz can raise (cut short, corrupt member, missing array, bad array).
READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


@dataclass
class Points:
    """The texts of one view of a run, the same rows in every phase.

    ``embeddings[phase]`` is (n, d); ``labels``, ``texts``, ``split`` ("validation" or
    "training") and ``ids`` are per text; ``proba`` is the FT classifier's (n, classes)
    probabilities, or None when the run did not save them for every text shown.
    """

    view: str
    phases: list[str]
    embeddings: dict[str, np.ndarray]
    labels: np.ndarray
    texts: np.ndarray
    split: np.ndarray
    ids: np.ndarray
    proba: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    stamp: tuple = ()  # the files read (name, mtime, size): a cache key
    source: str = ""  # the run folder

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, ids) -> np.ndarray:
        """Positions (rows of the arrays) of the given ids, in their order; ids not shown in
        this view are dropped."""
        want = np.asarray(list(ids), dtype=np.int64)
        if not len(want) or not len(self.ids):
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(self.ids, want).clip(0, len(self.ids) - 1)
        return pos[self.ids[pos] == want]

    def predictions(self) -> np.ndarray | None:
        return None if self.proba is None else self.proba.argmax(axis=1)

    def confidence(self) -> np.ndarray | None:
        return None if self.proba is None else self.proba.max(axis=1)


# ---- reading the run folder -----------------------------------------------------------
def _folder(run: Run, split: str) -> Path:
    return run.path / "embeddings" if split == "validation" else run.path / "embeddings" / "train"


def _phases_in(folder: Path) -> list[str]:
    try:
        have = {p.stem for p in folder.glob("*.npz") if not p.name.startswith(".")}
    except OSError:
        return []
    return [p for p in PHASE_ORDER if p in have] + sorted(have - set(PHASE_ORDER))


def _stamp(files: list[Path]) -> tuple:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((f.name, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((f.name, -1, -1))
    return tuple(out)


def _read(path: Path) -> dict[str, np.ndarray] | None:
    """embeddings, labels, texts (and proba when saved) of one file, or None when damaged."""
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in ("embeddings", "labels", "texts")}
            if "proba" in z.files:
                d["proba"] = z["proba"]
    except READ_ERRORS:
        return None
    if d["embeddings"].ndim != 2 or len({len(v) for v in d.values()}) > 1:
        return None
    return d


_memo: OrderedDict = OrderedDict()
_memo_lock = threading.Lock()
_MEMO_SIZE = 24


def _memoised(key: tuple, compute: Callable[[], Any]) -> Any:
    """A small in-process LRU: runs are re-read on every page redraw, files change rarely."""
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    value = compute()
    with _memo_lock:
        _memo[key] = value
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return value


def _split_files(run: Run, split: str) -> list[Path]:
    folder = _folder(run, split)
    return [folder / f"{p}.npz" for p in _phases_in(folder)]


def _load_split(run: Run, split: str) -> tuple[dict[str, dict], list[str]]:
    """{phase: arrays} of one split's readable files with the same rows as the first; notes."""
    out: dict[str, dict] = {}
    notes = []
    where = "embeddings/" if split == "validation" else "embeddings/train/"
    for f in _split_files(run, split):
        d = _read(f)
        first = next(iter(out.values()), None)
        if d is None:
            notes.append(
                f"The {split} embeddings of phase {f.stem!r} ({where}{f.name}) cannot be read and are left out."
            )
        elif first is not None and (
            len(d["labels"]) != len(first["labels"]) or not np.array_equal(d["labels"], first["labels"])
        ):
            notes.append(
                f"The {split} embeddings of phase {f.stem!r} hold other texts than the first phase's and are left out."
            )
        else:
            out[f.stem] = d
    return out, notes


def has_training(run: Run) -> bool:
    """Whether the run saved training-text embeddings (runs before that version did not)."""
    return bool(_split_files(run, "training"))


def load_points(run: Run, view: str = "validation") -> Points:
    """The texts of ``view`` ("validation", "training" or "both"); a phase is shown when every
    split of the view has it. Missing pieces (no training embeddings, no FT probabilities) are
    said in ``notes``, never raised."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")
    files = _split_files(run, "validation") + _split_files(run, "training")
    return _memoised(("points", str(run.path), view, _stamp(files)), lambda: _load_points(run, view, _stamp(files)))


def _load_points(run: Run, view: str, stamp: tuple) -> Points:
    val, notes = _load_split(run, "validation")
    n_val = len(next(iter(val.values()))["labels"]) if val else 0
    splits = {"validation": val}
    if view != "validation":
        train, train_notes = _load_split(run, "training")
        notes += train_notes
        if not train:
            notes.append(
                "This run saved no training-text embeddings (runs trained before they were saved have none): "
                "only validation texts can be shown."
            )
            view = "validation"
        elif view == "training":
            splits = {"training": train}
        else:
            splits["training"] = train
    every = PHASE_ORDER + tuple(sorted(set().union(*splits.values()) - set(PHASE_ORDER)))
    phases = [p for p in every if all(p in s for s in splits.values())]
    partial = [p for p in every if p not in phases and any(p in s for s in splits.values())]
    if partial:
        notes.append(
            f"Phase(s) {', '.join(partial)} saved only some of the texts shown and are left out of this view."
        )
    offsets = {"validation": 0, "training": n_val}
    parts = {name: next(iter(s.values())) for name, s in splits.items() if s}
    labels = np.concatenate([d["labels"] for d in parts.values()]) if parts else np.zeros(0, np.int64)
    texts = np.concatenate([d["texts"].astype(str) for d in parts.values()]) if parts else np.array([], dtype=str)
    split = (
        np.concatenate([np.full(len(d["labels"]), name) for name, d in parts.items()])
        if parts
        else np.array([], dtype=str)
    )
    ids = (
        np.concatenate([offsets[name] + np.arange(len(d["labels"])) for name, d in parts.items()])
        if parts
        else np.zeros(0, np.int64)
    )
    embeddings = {p: np.concatenate([s[p]["embeddings"] for s in splits.values()]) for p in phases}
    proba = None
    ft = [s.get("ft", {}).get("proba") for s in splits.values()]
    if "ft" in phases:
        if all(p is not None and p.ndim == 2 for p in ft) and len({p.shape[1] for p in ft}) == 1:
            proba = np.concatenate(ft).astype(np.float64)
        else:
            notes.append(
                "This run's FT embeddings file has no class probabilities (runs trained before they were saved): "
                "colouring by prediction and the prediction column are not available."
            )
    return Points(
        view,
        phases,
        embeddings,
        labels.astype(np.int64),
        texts,
        split,
        ids.astype(np.int64),
        proba,
        notes,
        stamp,
        str(run.path),
    )


# ---- neighbours ---------------------------------------------------------------------------
def _cache_file(points: Points, phase: str) -> Path:
    return Path(points.source) / "inspection" / f"knn_{points.view}_{phase}.npz"


def save_cache(path: Path, **arrays) -> None:
    """Write a cache file atomically; a cache that cannot be written (read-only folder, full
    disk) is only a lost shortcut."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
    try:
        path.parent.mkdir(exist_ok=True)
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def neighbour_table(points: Points, phase: str) -> np.ndarray:
    """(n, K_MAX or fewer) positions of every point's nearest neighbours in ``phase``, most
    similar first (slice [:, :k] for k). Cached in memory and in the run folder."""

    def compute() -> np.ndarray:
        f = _cache_file(points, phase)
        meta = json.dumps({"version": CACHE_VERSION, "stamp": points.stamp, "n": len(points)})
        try:
            with np.load(f, allow_pickle=False) as z:
                if str(z["meta"]) == meta:
                    return z["indices"]
        except READ_ERRORS:
            pass
        ind, _ = nb.nearest(points.embeddings[phase], K_MAX)
        save_cache(f, meta=np.array(meta), indices=ind.astype(np.int32))
        return ind

    return _memoised(("knn", points.source, points.view, phase, points.stamp), compute)


def neighbours_of(points: Points, position: int, k: int) -> dict[str, pd.DataFrame]:
    """For one text (its position), per phase: its k nearest neighbours, most similar first,
    with id, text, label, cosine similarity and whether the label differs from the text's."""
    out = {}
    own = points.labels[position]
    for phase in points.phases:
        ind, sim = nb.nearest(points.embeddings[phase], k, rows=[position])
        ind, sim = ind[0], sim[0]
        out[phase] = pd.DataFrame(
            {
                "id": points.ids[ind],
                "position": ind,
                "text": points.texts[ind],
                "label": points.labels[ind],
                "similarity": sim,
                "other_class": points.labels[ind] != own,
                "split": points.split[ind],
            }
        )
    return out


def majority_by_phase(points: Points, positions, k: int) -> dict[str, np.ndarray]:
    """The majority class of each given point's k nearest neighbours, per phase (queries only
    those points: a selection is answered without the whole neighbour table)."""
    pos = np.asarray(positions, dtype=np.int64)
    out = {}
    for phase in points.phases:
        ind, _ = nb.nearest(points.embeddings[phase], k, rows=pos)
        out[phase] = nb.neighbour_majority(ind, points.labels)
    return out


def drift_table(points: Points, before: str, after: str, k: int) -> pd.DataFrame:
    """`neighbours.drift` between two phases for every point (index = point ids), with the
    text and its label."""
    a = neighbour_table(points, before)[:, :k]
    b = neighbour_table(points, after)[:, :k]
    table = nb.drift(a, b, points.labels)
    table.index = pd.Index(points.ids, name="id")
    table.insert(0, "label", points.labels)
    table.insert(0, "text", points.texts)
    return table


def selection_table(points: Points, ids, k: int, names: list[str]) -> pd.DataFrame:
    """One row per selected text shown in this view: id, split, text, true label, FT prediction
    and confidence (when the run saved probabilities), and the majority class of its k nearest
    neighbours in each phase."""
    pos = points.positions(ids)
    frame = pd.DataFrame(
        {
            "id": points.ids[pos],
            "split": points.split[pos],
            "text": points.texts[pos],
            "true label": [names[c] for c in points.labels[pos]],
        }
    )
    if points.proba is not None:
        frame["FT prediction"] = [names[c] for c in points.predictions()[pos]]
        frame["confidence"] = points.confidence()[pos]
    if len(pos):
        for phase, majority in majority_by_phase(points, pos, k).items():
            frame[f"neighbours · {phase}"] = [names[c] if c >= 0 else "" for c in majority]
    return frame


# ---- per class ------------------------------------------------------------------------------
def per_class_silhouette(points: Points, names: list[str]) -> pd.DataFrame:
    """Mean cosine silhouette of each class (columns) per phase (rows)."""

    def compute() -> pd.DataFrame:
        rows = {p: nb.per_class_silhouette(points.embeddings[p], points.labels, len(names)) for p in points.phases}
        return pd.DataFrame(rows, index=names).T

    return _memoised(("silhouette", points.source, points.view, points.stamp, tuple(names)), compute)


__all__ = [
    "CACHE_VERSION",
    "K_MAX",
    "READ_ERRORS",
    "VIEWS",
    "Points",
    "drift_table",
    "has_training",
    "load_points",
    "majority_by_phase",
    "neighbour_table",
    "neighbours_of",
    "per_class_silhouette",
    "save_cache",
    "selection_table",
]
