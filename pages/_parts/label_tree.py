"""Labels with levels on the pages: giving the levels (Data page), the class tree with its counts
(Data page), and colouring the maps by a coarser level (Embeddings page).

The levels themselves are the engine's (`threephase_core.label_levels`): a class is a whole
label path; these helpers only draw them.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages._parts.charts import class_colors
from threephase_core.label_levels import LabelHierarchy, levels_of, tree_table

ONE, COLUMNS, SEPARATOR = "one", "columns", "separator"
LEVEL_FORMS = {ONE: "One level", COLUMNS: "Finer levels in other columns", SEPARATOR: "Levels joined in the label"}
DEMO_LEVELS = "group,label"  # the demo's intents (label) under four groups (group)


# ---- Data page: giving the levels ---------------------------------------------------------------
def demo_label_column() -> str:
    """The demo's label column(s): its intents, or with the toggle on, groups > intents."""
    _start("data:demo_levels", st.session_state.get("wb.dataset", {}).get("label_column") == DEMO_LEVELS)
    two = st.toggle(
        "Two label levels (4 groups › 7 intents)",
        key="data:demo_levels",
        help="The demo's intents are grouped into orders, billing, tech support and pre-sales. With two levels, "
        "phase 2 scores pairs from the same group but another intent 0.5, and the metrics are given per level.",
    )
    return DEMO_LEVELS if two else "label"


def level_fields(key: str, columns: list[str], text_column: str, label_column: str) -> tuple[str, str]:
    """How the labels' levels are given, under the label column pickers: (label column setting,
    separator). The label column is the top level; finer levels come from other columns, in order,
    or from splitting the label at a separator."""
    current = st.session_state.get("wb.dataset", {})
    parts = str(current.get("label_column", "")).split(",")
    finer_now = [c for c in parts[1:] if c in columns] if parts[0] == label_column else []
    sep_now = str(current.get("label_sep", "") or "")
    _start(f"data:levels:{key}", COLUMNS if finer_now else SEPARATOR if sep_now else ONE)
    form = st.radio(
        "Label levels",
        list(LEVEL_FORMS),
        format_func=LEVEL_FORMS.get,
        horizontal=True,
        key=f"data:levels:{key}",
        help="Labels with levels (a taxonomy such as group › intent): the label column is the top level. "
        "Phase 2 then scores pairs by the share of levels they match from the top.",
    )
    if form == COLUMNS:
        options = [c for c in columns if c not in (text_column, label_column)]
        _start(f"data:finer:{key}", finer_now)
        if any(c not in options for c in st.session_state[f"data:finer:{key}"]):  # the label column moved
            st.session_state[f"data:finer:{key}"] = [c for c in st.session_state[f"data:finer:{key}"] if c in options]
        finer = st.multiselect("Finer levels, top first", options, key=f"data:finer:{key}")
        return ",".join([label_column, *finer]), ""
    if form == SEPARATOR:
        _start(f"data:sep:{key}", sep_now or ":")
        sep = st.text_input("Separator", max_chars=8, key=f"data:sep:{key}")
        return label_column, sep
    return label_column, ""


def _start(key: str, value) -> None:
    """A widget's first value, from the dataset in use (set once: a default that changed on every
    rerun would make Streamlit treat the widget as a new one and drop the user's choice)."""
    if key not in st.session_state:
        st.session_state[key] = value


# ---- Data page: the class tree ------------------------------------------------------------------
def render(ds) -> None:
    """The class tree with the rows of every class per split, for labels with levels."""
    if ds.hierarchy is None:
        return
    h = ds.hierarchy
    rows = tree_table(h, {s: ds.split(s)["label"].to_numpy() for s in ("train", "validation", "test")})
    st.markdown(f"**Class tree** · {' › '.join(h.level_names)}")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.caption("Rows per class: train · validation · test")
        st.markdown(tree_markdown(rows))
    with right:
        st.plotly_chart(tree_chart(rows), key="data_tree", config={"displayModeBar": False})


def tree_markdown(rows: list[dict]) -> str:
    """The tree as a nested list: each class with its training rows (and validation / test)."""
    lines = []
    for r in rows:
        indent = "    " * (r["level"] - 1)
        name = html.escape(r["name"])
        lines.append(f"{indent}- **{name}** {r['train']:,} · {r['validation']:,} · {r['test']:,}")
    return "\n".join(lines)


def tree_chart(rows: list[dict]) -> go.Figure:
    """A treemap of the training rows: each top class a block, its children inside."""
    ids, parents, path = [], [], []  # a node's id is its path: equal names at two places stay apart
    for r in rows:
        del path[r["level"] - 1 :]
        parents.append(path[-1] if path else "")
        path.append(f"{path[-1]}/{r['name']}" if path else r["name"])
        ids.append(path[-1])
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            labels=[r["name"] for r in rows],
            parents=parents,
            values=[r["train"] for r in rows],
            branchvalues="total",
            textinfo="label+value",
            hovertemplate="<b>%{label}</b><br>%{value} training rows<extra></extra>",
        )
    )
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=0, b=0))
    return fig


# ---- Embeddings page: colour by a level ---------------------------------------------------------
def run_levels(run) -> LabelHierarchy | None:
    """The label levels of a run (its data.json), or None when it has one level."""
    h = levels_of(run.data_summary)
    return h if h is not None and h.n_levels > 1 else None


def level_picker(run) -> int:
    """For a run whose labels have levels, which level the class colours show (1 = top); 0
    (the run's own classes) for other runs."""
    h = run_levels(run)
    if h is None:
        return 0
    options = list(range(1, h.n_levels + 1))
    return st.selectbox(
        "Class level",
        options,
        index=len(options) - 1,
        format_func=lambda k: f"{k} · {h.level_names[k - 1]}",
        key="emb:level",
        help="Colour the classes by this level of the labels (1 = the top); the hover still names each "
        "text's own class.",
    )


def level_colours(run, labels: np.ndarray, level: int) -> tuple[np.ndarray, list[str]] | None:
    """Each point's colour by its class at `level` and that level's class names (for the
    legend), or None to keep the run's own classes (no levels, or its finest level)."""
    h = run_levels(run)
    if h is None or not level or level >= h.n_levels:
        return None
    names = h.names[level - 1]
    colours = class_colors(names)
    palette = np.asarray([colours[n] for n in names], dtype=object)
    return palette[h.at_level(labels, level)], names
