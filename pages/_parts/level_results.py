"""A run's scores at every label level, on the Results page, for runs whose labels have levels.

The runner writes them into metrics.json's ``levels`` (`threephase_core.metrics.level_metrics`):
one entry per level, top first, down to the level FT predicted. A coarser level is scored from
the fine predictions (a prediction under the right parent is right at the parent's level), so
no separate model is behind it. Runs without levels, or with a damaged ``levels`` section, show
nothing here.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from threephase_core.runstore import Run
from threephase_core.workbench.json_values import as_dict, as_number

SPLITS = {"validation": "validation", "test": "test"}  # metrics.json split -> column prefix


def level_table(metrics: dict) -> pd.DataFrame:
    """One row per label level (top first): its number and name, its classes, and accuracy and
    macro-F1 on each split; empty when the run has no per-level metrics."""
    rows = []
    for name, entry in as_dict(as_dict(metrics).get("levels")).items():
        entry = as_dict(entry)
        level = as_number(entry.get("level"))
        if level is None:
            continue
        classes = as_number(entry.get("classes"))
        row = {"level": f"{int(level)} · {name}", "classes": None if classes is None else int(classes)}
        for split, prefix in SPLITS.items():
            scores = as_dict(entry.get(split))
            row[f"{prefix} accuracy"] = as_number(scores.get("accuracy"))
            row[f"{prefix} macro-F1"] = as_number(scores.get("f1_macro"))
        rows.append((level, row))
    columns = ["level", "classes", *(f"{p} {m}" for p in SPLITS.values() for m in ("accuracy", "macro-F1"))]
    return pd.DataFrame([row for _, row in sorted(rows, key=lambda r: r[0])], columns=columns)


def render(run: Run) -> None:
    """The "Scores by label level" section of `run`, if its metrics have levels."""
    table = level_table(run.metrics)
    if not len(table):
        return
    st.markdown("**Scores by label level**")
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={c: percent for c in table.columns if c.endswith(("accuracy", "macro-F1"))}
        | {"classes": st.column_config.NumberColumn(format="%d")},
    )
    finest = table["level"].iloc[-1].split(" · ", 1)[-1]
    st.caption(
        f"FT predicts **{finest}**. Each level above it is scored from those predictions: a prediction under the "
        "right parent class counts as right at the parent's level."
    )
