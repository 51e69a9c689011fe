"""Hierarchical labels: classes with levels, top level first (a taxonomy such as group > intent).

A user gives the levels in one of two ways:
  * several label columns, top level first: ``label_column="coarse,fine"``;
  * one label column whose values hold the whole path with a separator: ``label_sep=":"`` reads
    ``"HUM:ind"`` as the levels ``HUM`` > ``ind``.
Either way each row's class is its whole path: the finest level. `LabelHierarchy` maps each of
these classes to its ancestor at every level, so the rest of the engine keeps working on class
ids (FT, the maps, the metrics) and asks the hierarchy where levels matter: the phase-2 pair
scores (`pairs.hierarchical_score` on `LabelHierarchy.rows`), the per-level metrics and the
class tree the Data page shows.

Class names: with a separator, a class at level k is named by its path up to k as written
(``"HUM"``, ``"HUM:ind"``). With columns, by its own column's value, unless that value occurs
under two parents (``other`` under ``ENTY`` and ``LOC``), when every class of that level is named
by its path, ``"ENTY / other"``, so that the two stay two classes.
Not handled: levels of different depth (every row needs a value at every level).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from threephase_core.data_files import DataError

PATH_JOIN = " / "  # joins a column-given path into a name where a level's values are not unique


@dataclass(frozen=True)
class LabelSpec:
    """How the labels are given: the label column(s), top level first, and a level separator."""

    columns: tuple[str, ...]
    sep: str = ""

    @property
    def hierarchical(self) -> bool:
        return len(self.columns) > 1 or bool(self.sep)


def parse_label_spec(label_column: str, sep: str = "") -> LabelSpec:
    """The `LabelSpec` of a ``label_column`` setting (one name, or names joined by commas) and a
    ``label_sep`` setting (empty: no separator); DataError for a spec that names no column, names
    one twice, or gives both several columns and a separator."""
    columns = tuple(c.strip() for c in str(label_column).split(","))
    if not any(columns):
        raise DataError("no label column given: name the label column (or columns, top level first: coarse,fine)")
    if not all(columns):
        raise DataError(
            f"label columns {label_column!r}: a column name is empty; give the columns top level first, "
            "separated by commas (e.g. coarse,fine)"
        )
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise DataError(f"label columns {label_column!r} name {twice[0]!r} twice; give each level once")
    if len(columns) > 1 and sep:
        raise DataError(
            f"label levels given twice: several label columns ({label_column}) and a separator ({sep!r}); "
            "use one column with a separator, or one column per level"
        )
    return LabelSpec(columns, sep)


@dataclass
class LabelHierarchy:
    """The levels of the classes: `level_names` (top first), each level's class `names`, and
    `paths`, one row per finest class with its class id at every level (the finest level's id
    is the row's own index)."""

    level_names: list[str]
    names: list[list[str]]
    paths: np.ndarray

    @property
    def n_levels(self) -> int:
        return len(self.level_names)

    def rows(self, labels) -> np.ndarray:
        """Each label's path (rows x levels): what `pairs.build_pairs` scores hierarchically."""
        return self.paths[np.asarray(labels, dtype=np.int64)]

    def at_level(self, labels, level: int) -> np.ndarray:
        """Each label's class id at `level` (1 = top)."""
        return self.paths[np.asarray(labels, dtype=np.int64), level - 1]

    def level_index(self, level: int | str) -> int:
        """A level given by its number (1 = top) or its name, as a number; ValueError if unknown."""
        if isinstance(level, str) and level in self.level_names:
            return self.level_names.index(level) + 1
        if isinstance(level, int) and 1 <= level <= self.n_levels:
            return level
        raise ValueError(f"level {level!r}: the labels have levels {', '.join(self.level_names)}")

    def truncated(self, level: int) -> tuple[LabelHierarchy, np.ndarray]:
        """The hierarchy down to `level` (1 = top), whose finest classes are that level's, and for
        each finest class of this one, its class id at `level`."""
        at_level = self.paths[:, level - 1]
        paths = np.zeros((len(self.names[level - 1]), level), dtype=np.int64)
        paths[at_level] = self.paths[:, :level]  # a class's ancestors are the same for all its children
        return LabelHierarchy(self.level_names[:level], [list(n) for n in self.names[:level]], paths), at_level.copy()

    def class_counts(self, labels, level: int) -> dict[str, int]:
        """{class name: rows} at `level` for finest-class `labels`, in the level's class order."""
        ids = np.bincount(self.at_level(labels, level), minlength=len(self.names[level - 1]))
        return {name: int(n) for name, n in zip(self.names[level - 1], ids)}

    def name_of_path(self) -> dict[tuple, str]:
        """{path of level ids: finest class name}, for statistics keyed by path (imbalance counts)."""
        return {tuple(p): self.names[-1][i] for i, p in enumerate(self.paths.tolist())}

    def to_dict(self) -> dict:
        return {"level_names": list(self.level_names), "names": self.names, "paths": self.paths.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping) -> LabelHierarchy:
        """Rebuild from `to_dict`'s output; ValueError for a damaged one."""
        level_names, names = list(d["level_names"]), [list(map(str, n)) for n in d["names"]]
        paths = np.asarray(d["paths"], dtype=np.int64)
        if paths.ndim != 2 or paths.shape[1] != len(level_names) or len(names) != len(level_names):
            raise ValueError("the label levels do not fit together")
        if len(paths) != len(names[-1]) or any(
            paths[:, k].min(initial=0) < 0 or paths[:, k].max(initial=-1) >= len(names[k]) for k in range(len(names))
        ):
            raise ValueError("the label levels do not fit together")
        return cls([str(n) for n in level_names], names, paths)


def levels_of(summary: Mapping) -> LabelHierarchy | None:
    """The label levels a dataset summary (a run's data.json) records, or None: labels without
    levels, or a damaged record (the pages then show the classes as one level)."""
    levels = summary.get("levels") if isinstance(summary, Mapping) else None
    if not isinstance(levels, Mapping):
        return None
    try:
        return LabelHierarchy.from_dict(levels)
    except (KeyError, TypeError, ValueError):
        return None


def tree_table(hierarchy: LabelHierarchy, labels_by_split: Mapping[str, Iterable[int]]) -> list[dict]:
    """The class tree, depth first (each class followed by its children), as rows of `level`
    (1 = top), `name`, `parent` (the parent's name, "" at the top) and the class's rows in each
    split of `labels_by_split` (finest-class ids)."""
    counts = {
        split: [
            hierarchy.class_counts(np.asarray(list(labels), dtype=np.int64), k)
            for k in range(1, hierarchy.n_levels + 1)
        ]
        for split, labels in labels_by_split.items()
    }
    children: dict[tuple[int, int], list[int]] = {}
    for k in range(1, hierarchy.n_levels):
        for parent, child in sorted(
            {(int(p), int(c)) for p, c in hierarchy.paths[:, k - 1 : k + 1].tolist()}, key=lambda x: x[1]
        ):
            children.setdefault((k, parent), []).append(child)
    rows: list[dict] = []

    def add(level: int, cls: int, parent: str) -> None:
        name = hierarchy.names[level - 1][cls]
        rows.append(
            {"level": level, "name": name, "parent": parent, **{s: c[level - 1][name] for s, c in counts.items()}}
        )
        for child in children.get((level, cls), []):
            add(level + 1, child, name)

    for top in range(len(hierarchy.names[0])):
        add(1, top, "")
    return rows


def split_paths(values: Iterable, spec: LabelSpec, where: str) -> list[tuple[str, ...]]:
    """Each row's label path from its label cells: a tuple of one cell per column, or one cell
    split at the separator; DataError for an empty level or rows with different numbers of
    levels (naming an example of each)."""
    rows = [tuple(str(v).strip() for v in (cells if isinstance(cells, tuple) else (cells,))) for cells in values]
    if spec.sep:
        rows = [tuple(part.strip() for part in r[0].split(spec.sep)) for r in rows]
    depths: dict[int, tuple] = {}
    for r in rows:
        depths.setdefault(len(r), r)
        if not all(r):
            shown = spec.sep.join(r) if spec.sep else ", ".join(r)
            raise DataError(f"{where}: the label {shown!r} has an empty level; every row needs a value at every level")
    if spec.sep and len(depths) > 1:
        (short, a), (long, b) = min(depths.items()), max(depths.items())
        raise DataError(
            f"{where}: the separator {spec.sep!r} splits the labels into different numbers of levels: "
            f"{spec.sep.join(a)!r} has {short}, {spec.sep.join(b)!r} has {long}; every label needs the same levels"
        )
    if spec.sep and set(depths) == {1}:
        raise DataError(
            f"{where}: the separator {spec.sep!r} occurs in none of the labels of column {spec.columns[0]!r} "
            f"(e.g. {rows[0][0]!r}); give the separator the labels use, or none"
        )
    return rows


def build_hierarchy(
    paths: Mapping[str, list[tuple[str, ...]]], spec: LabelSpec, order: list[str] | None = None
) -> tuple[LabelHierarchy, dict[str, list[str]], list[str]]:
    """The hierarchy of the label paths of every split, each row's finest class name per split,
    and notes. `order`: finest class names in the order to keep (a dataset's labels.json); used
    when it names every finest class, else the classes are sorted by path (and a note says so)."""
    depth = len(next(iter(paths.values()))[0])
    everything = sorted({p for rows in paths.values() for p in rows})
    notes: list[str] = []
    level_names = list(spec.columns) if len(spec.columns) > 1 else [f"level {k + 1}" for k in range(depth)]
    names_at = [_level_names(everything, k, spec) for k in range(depth)]
    leaf_name = {p: names_at[-1][p] for p in everything}  # the finest level's prefix is the path
    if order is not None:
        rank = {n: i for i, n in enumerate(order)}
        if all(n in rank for n in leaf_name.values()):
            everything.sort(key=lambda p: rank[leaf_name[p]])
        else:
            notes.append("labels.json does not name the finest classes of the label levels: not used")
    ids: list[dict[tuple, int]] = [{} for _ in range(depth)]
    for p in everything:  # each level's classes in the order of their first finest class
        for k in range(depth):
            ids[k].setdefault(p[: k + 1], len(ids[k]))
    names = [[names_at[k][prefix] for prefix in ids[k]] for k in range(depth)]
    table = np.asarray([[ids[k][p[: k + 1]] for k in range(depth)] for p in everything], dtype=np.int64)
    for k in range(1, depth):
        renamed = [name for prefix, name in names_at[k].items() if name != prefix[-1]]
        if renamed and not spec.sep:
            notes.append(
                f"some {level_names[k]!r} values occur under several {level_names[k - 1]!r} classes: the "
                f"{level_names[k]!r} classes are named by their path (e.g. {renamed[0]!r})"
            )
    for k in range(depth - 1):
        if len(ids[k]) == 1:
            notes.append(f"label level {level_names[k]!r} has a single class ({names[k][0]!r})")
    hierarchy = LabelHierarchy(level_names, names, table.reshape(len(everything), depth))
    return hierarchy, {s: [leaf_name[p] for p in rows] for s, rows in paths.items()}, notes


def _level_names(paths: list[tuple[str, ...]], k: int, spec: LabelSpec) -> dict[tuple, str]:
    """{path up to level k (from 0): the name of that class}; see the module docstring."""
    prefixes = sorted({p[: k + 1] for p in paths})
    if spec.sep:
        return {q: spec.sep.join(q) for q in prefixes}
    unique = len({q[-1] for q in prefixes}) == len(prefixes)
    return {q: q[-1] if unique else PATH_JOIN.join(q) for q in prefixes}
