"""Which texts a map draws and which a person picked: the ids in a map's selection event, a
text search over the texts, and the seeded sample drawn when a map has too many points.

Why apart from inspection.py: these need only plain lists and arrays (no run folder), and the
Embeddings page calls them on every rerun; the same sample in every phase keeps a point in view
when the person switches maps.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np


def selected_ids(selection: Any) -> list[int]:
    """The point ids in a Plotly selection event (Streamlit's ``.selection`` of a chart drawn
    with each point's id as its customdata), in the order given, without repeats. Points with no
    id (an overlay trace) are ignored; None or an empty event gives []."""
    if not selection:
        return []
    points = selection.get("points", []) if hasattr(selection, "get") else getattr(selection, "points", [])
    out: list[int] = []
    seen = set()
    for point in points or []:
        value = point.get("customdata") if hasattr(point, "get") else None
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        try:
            pid = int(value)
        except (TypeError, ValueError):
            continue
        if pid not in seen:
            seen.add(pid)
            out.append(pid)
    return out


def search(texts, query: str, limit: int = 50) -> np.ndarray:
    """Positions of the texts that contain every word of ``query`` (case-insensitive; a word
    matches inside longer words too), those with more whole-word matches first, then shorter
    texts. An empty query finds nothing."""
    words = re.findall(r"\w+", str(query).lower())
    if not words:
        return np.zeros(0, dtype=np.int64)
    lowered = [str(t).lower() for t in texts]
    hits = [i for i, t in enumerate(lowered) if all(w in t for w in words)]
    whole = [re.compile(rf"\b{re.escape(w)}\b") for w in words]
    hits.sort(key=lambda i: (-sum(bool(p.search(lowered[i])) for p in whole), len(lowered[i]), i))
    return np.asarray(hits[:limit], dtype=np.int64)


def draw_sample(n: int, cap: int, keep=(), seed: int = 0) -> np.ndarray:
    """Sorted positions to draw when a map has more than ``cap`` points: a seeded sample (the
    same in every phase), plus every position in ``keep`` (the selection, the picked text)."""
    if n <= cap:
        return np.arange(n)
    chosen = np.random.default_rng(seed).choice(n, cap, replace=False)
    return np.union1d(chosen, np.asarray(list(keep), dtype=np.int64))
