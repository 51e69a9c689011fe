"""What the AppTests read from a page: its figures, its text, that it raised nothing, and the
one job manager a test's runs folder has."""

from __future__ import annotations

import base64
import json

import numpy as np

from threephase_core import workbench as wb


def figures(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def values(v) -> list:
    """A trace's data as a list: plotly writes numpy arrays as typed arrays {dtype, bdata}."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def texts(at) -> str:
    """All markdown, captions, titles, alerts and metric labels of the page, as one string."""
    parts = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "error", "warning", "info", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def only_manager():
    managers = wb.managers()
    assert len(managers) == 1, managers
    return managers[0]


# ---- every page renders ---------------------------------------------------------------
