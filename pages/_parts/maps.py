"""Plotly figures of the Embeddings page's inspection: linked phase maps, the animated
transition between phases, and the per-class charts (no Streamlit here).

A phase map is one WebGL scatter per split (validation, training), each point carrying its
text's id (`inspection.Points.ids`) as customdata, so a box or lasso selection on one phase's
map names the same texts on every other map (`map_selection.selected_ids`). A selection is drawn
with Plotly's own ``selectedpoints``; the picked text and its neighbours in that phase are an
overlay without ids (so selecting them selects nothing twice).
"""

from __future__ import annotations

import html
import textwrap

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pages._parts.charts import FONT, MUTED, _style, class_colors
from threephase_core.inspection import Points

COLOURINGS = {
    "class": "True class",
    "prediction": "FT prediction",
    "correct": "Correct / wrong",
    "confidence": "FT confidence",
    "drift": "Drift from the previous phase",
}
NEEDS_PROBA = ("prediction", "correct", "confidence")
CORRECT, WRONG = "#10b981", "#dc2626"
NO_DRIFT = "#94a3b8"  # the first map has no previous phase
SCALES = {"confidence": ("Viridis", "confidence"), "drift": ("Plasma", "neighbours<br>replaced")}
DRAW_CAP = 20_000  # points drawn per map; above it a seeded sample (the page says so)
ANIMATION_CAP = 1_500  # points in the animated transition (SVG, smooth up to about this many)
HOVER_CHARS = 72
HOVER_LINE = 28  # characters per hover line: a tooltip stays narrower than a map in a row of four
# The maps' mode bar: only "reset view" (back to the whole map after a drag or a zoom) and a PNG download.
MAP_CONFIG = {
    "displayModeBar": True,
    "displaylogo": False,
    "modeBarButtons": [["resetScale2d", "toImage"]],
    "scrollZoom": True,
}


def hover_texts(points: Points) -> np.ndarray:
    """Each point's hover text: the start of its text (HOVER_CHARS), wrapped at HOVER_LINE
    characters so that the tooltip fits inside a narrow map instead of being cut at its edge.
    Its class and split are in its trace's hover template (a trace holds one class of one split),
    so they are not repeated for every point: at 20,000 points a map's hover texts are most of
    what the browser receives."""
    out = []
    for text in points.texts:
        t = str(text)
        t = t if len(t) <= HOVER_CHARS else t[: HOVER_CHARS - 1] + "…"
        lines = textwrap.wrap(t, HOVER_LINE) or [""]
        out.append("<br>".join(html.escape(line) for line in lines))
    return np.asarray(out, dtype=object)


def labelled_hover(points: Points, names: list[str]) -> np.ndarray:
    """`hover_texts` with each point's class in front (for a figure with one trace for all classes)."""
    texts = hover_texts(points)
    return np.asarray([f"<b>{html.escape(names[c])}</b><br>{t}" for c, t in zip(points.labels, texts)], dtype=object)


def _palette_colours(colour: np.ndarray) -> dict:
    """Marker colours for hex strings: one colour as it is; several as small integers and a
    stepped colour scale (Plotly sends numbers as a compact typed array and checks them at once,
    where thousands of colour strings are checked one by one)."""
    palette, index = np.unique(colour.astype(str), return_inverse=True)
    if len(palette) == 1:
        return {"color": palette[0]}
    last = len(palette) - 1
    scale = [[i / last, c] for i, c in enumerate(palette)]
    return {
        "color": index.astype(np.uint8 if last < 256 else np.int32),
        "colorscale": scale,
        "cmin": 0,
        "cmax": last,
        "showscale": False,
    }


def point_colours(points: Points, mode: str, names: list[str], drift: np.ndarray | None = None) -> np.ndarray:
    """Each point's colour: hex strings for the class modes, numbers for confidence and drift
    (None drift: the map has no previous phase, all points grey)."""
    colors = class_colors(names)
    palette = np.asarray([colors[n] for n in names], dtype=object)
    if mode == "class":
        return palette[points.labels]
    if mode in NEEDS_PROBA and points.proba is None:
        raise ValueError("this run saved no FT probabilities")
    if mode == "prediction":
        return palette[points.predictions()]
    if mode == "correct":
        return np.where(points.predictions() == points.labels, CORRECT, WRONG).astype(object)
    if mode == "confidence":
        return points.confidence()
    if mode == "drift":
        return np.full(len(points), NO_DRIFT, dtype=object) if drift is None else np.asarray(drift, dtype=float)
    raise ValueError(f"unknown colouring {mode!r}; expected one of {list(COLOURINGS)}")


def phase_map(
    xy: np.ndarray,
    points: Points,
    draw: np.ndarray,
    colours: np.ndarray,
    hover: np.ndarray,
    title: str,
    names: list[str],
    *,
    mode: str = "class",
    selected=(),
    focus: int | None = None,
    focus_neighbours=(),
    highlight: int | None = None,
    dragmode: str = "lasso",
    colourbar: bool = False,
    height: int = 340,
) -> go.Figure:
    """One phase's map of the points at positions ``draw`` (all, or a sample): a WebGL trace per
    split and class, each point's id as its customdata.

    ``selected``: positions drawn as selected (every other point faded); ``focus``: the picked
    text (a star) and ``focus_neighbours`` its neighbours in this phase (rings); ``highlight``: a
    class drawn on top in colour, the others grey. Training points are smaller and fainter when
    validation points are shown too.
    """
    fig = go.Figure()
    draw = np.asarray(draw, dtype=np.int64)
    chosen = np.isin(np.arange(len(points)), np.asarray(list(selected), dtype=np.int64))
    numeric = colours.dtype != object
    both = len(set(points.split[draw].tolist())) > 1
    order = sorted(
        set(points.labels[draw].tolist()), key=lambda c: (c == highlight, c)
    )  # the highlighted class on top
    scale, scale_title = SCALES.get(mode, ("Viridis", ""))
    for split in ("training", "validation"):  # validation last: on top
        for cls in order:
            part = draw[(points.split[draw] == split) & (points.labels[draw] == cls)]
            if not len(part):
                continue
            faded = both and split == "training"
            muted = highlight is not None and cls != highlight
            colour = colours[part]
            marker = dict(
                size=5 if faded or muted else 7,
                opacity=0.3 if faded else (0.45 if muted else 0.88),
                line=dict(width=0),
            )
            if muted:
                marker["color"] = MUTED
            elif numeric:
                marker.update(color=colour, colorscale=scale, cmin=0.0, cmax=1.0, showscale=False)
            else:
                marker.update(_palette_colours(colour))
            label = "<b>" + html.escape(names[cls]) + "</b>" + (" · training" if faded else "")
            trace = go.Scattergl(
                x=xy[part, 0],
                y=xy[part, 1],
                mode="markers",
                name=names[cls],
                legendgroup=split,
                customdata=points.ids[part],
                hovertext=hover[part],
                hovertemplate=label + "<br>%{hovertext}<extra></extra>",
                marker=marker,
                selected=dict(marker=dict(opacity=1.0)),
                unselected=dict(marker=dict(opacity=0.07)),
            )
            if chosen.any():
                trace.selectedpoints = np.flatnonzero(chosen[part]).tolist()
            fig.add_trace(trace)
    if numeric and colourbar:  # one invisible trace carries the colour bar
        fig.add_trace(
            go.Scattergl(
                x=[None],
                y=[None],
                mode="markers",
                hoverinfo="skip",
                showlegend=False,
                marker=dict(
                    color=[0.0],
                    colorscale=scale,
                    cmin=0.0,
                    cmax=1.0,
                    showscale=True,
                    colorbar=dict(title=dict(text=scale_title, font=dict(size=11)), thickness=10, len=0.8),
                ),
            )
        )
    ring = np.asarray(list(focus_neighbours), dtype=np.int64)
    if len(ring):
        fig.add_trace(
            go.Scattergl(
                x=xy[ring, 0],
                y=xy[ring, 1],
                mode="markers",
                name="neighbours",
                hoverinfo="skip",
                marker=dict(size=13, color="rgba(0,0,0,0)", line=dict(width=2, color="#111827")),
            )
        )
    if focus is not None:
        fig.add_trace(
            go.Scattergl(
                x=xy[[focus], 0],
                y=xy[[focus], 1],
                mode="markers",
                name="picked text",
                hovertext=hover[[focus]],
                hovertemplate="%{hovertext}<extra>picked</extra>",
                marker=dict(size=18, symbol="star", color="#facc15", line=dict(width=1.5, color="#111827")),
            )
        )
    fig = _style(fig, height=height, title=title, legend=False)
    fig.update_xaxes(showticklabels=False, title=None, showgrid=False, zeroline=False, showline=False)
    fig.update_yaxes(showticklabels=False, title=None, showgrid=False, zeroline=False, showline=False)
    # uirevision: a zoom survives the redraw that a selection causes.
    fig.update_layout(
        dragmode=dragmode,
        margin=dict(l=4, r=4, t=36, b=4),
        plot_bgcolor="#fafbfc",
        uirevision=title,
        hoverlabel=dict(font=dict(family=FONT, size=12)),
        modebar=dict(orientation="v"),  # down the right edge: clear of the title on a narrow map
    )
    return fig


def transition(
    layouts: dict[str, np.ndarray],
    phases: list[str],
    titles: dict[str, str],
    draw: np.ndarray,
    colours: np.ndarray,
    hover: np.ndarray,
    steps: int = 8,
    height: int = 480,
) -> go.Figure:
    """An animated walk through the aligned layouts of consecutive phases (Plotly frames with a
    play button and a slider): each point glides from where one phase put it to where the next
    did. ``colours`` are hex strings."""
    draw = np.asarray(draw, dtype=np.int64)
    frames, names = [], []
    for i, phase in enumerate(phases):
        if i == 0:
            frames.append(layouts[phase][draw])
            names.append(phase)
            continue
        a, b = layouts[phases[i - 1]][draw], layouts[phase][draw]
        for t in np.linspace(0, 1, steps + 1)[1:]:
            eased = 3 * t**2 - 2 * t**3  # smoothstep: start and stop gently
            frames.append(a + (b - a) * eased)
            names.append(phase if t == 1 else f"{phases[i - 1]}→{phase} {t:.2f}")
    everything = np.concatenate(frames) if frames else np.zeros((0, 2))
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    pad = (hi - lo) * 0.05 + 1e-9
    marker = dict(size=6, color=list(colours[draw]), opacity=0.85, line=dict(width=0))
    fig = go.Figure(
        data=[
            go.Scatter(
                x=frames[0][:, 0],
                y=frames[0][:, 1],
                mode="markers",
                marker=marker,
                hovertext=hover[draw],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        ],
        frames=[go.Frame(data=[go.Scatter(x=f[:, 0], y=f[:, 1])], name=n, traces=[0]) for f, n in zip(frames, names)],
    )
    play = dict(frame=dict(duration=60, redraw=False), transition=dict(duration=0), fromcurrent=True, mode="immediate")
    slider_steps = [
        dict(
            method="animate",
            label=titles.get(n, "") if n in titles else "",
            args=[[n], dict(play, frame=dict(duration=0, redraw=False))],
        )
        for n in names
    ]
    fig.update_layout(
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0,
                y=-0.02,
                xanchor="left",
                yanchor="top",
                showactive=False,
                buttons=[
                    dict(label="▶ Play", method="animate", args=[None, play]),
                    dict(label="❚❚ Pause", method="animate", args=[[None], dict(play, mode="immediate")]),
                ],
            )
        ],
        sliders=[
            dict(
                active=0,
                x=0.16,
                len=0.84,
                y=-0.02,
                yanchor="top",
                currentvalue=dict(visible=False),
                steps=slider_steps,
                pad=dict(t=8),
            )
        ],
    )
    fig = _style(fig, height=height, legend=False)
    fig.update_xaxes(
        range=[lo[0] - pad[0], hi[0] + pad[0]], showticklabels=False, showgrid=False, zeroline=False, showline=False
    )
    fig.update_yaxes(
        range=[lo[1] - pad[1], hi[1] + pad[1]], showticklabels=False, showgrid=False, zeroline=False, showline=False
    )
    fig.update_layout(margin=dict(l=4, r=4, t=10, b=70), plot_bgcolor="#fafbfc")
    return fig


def silhouette_heatmap(frame: pd.DataFrame, titles: dict[str, str]) -> go.Figure:
    """Per-class silhouette (columns) per phase (rows), red below 0, blue above."""
    z = frame.to_numpy(dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(frame.columns),
            y=[titles.get(p, p) for p in frame.index],
            colorscale="RdBu",
            zmid=0,
            zmin=-1,
            zmax=1,
            text=np.where(np.isnan(z), "", np.vectorize(lambda v: f"{v:.2f}")(np.nan_to_num(z))),
            texttemplate="%{text}",
            colorbar=dict(title="silhouette", thickness=12),
            hovertemplate="%{y}<br>%{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(showgrid=False, tickangle=-30)
    return _style(fig, height=max(220, 40 * len(frame) + 120), legend=False)


def centroid_heatmap(matrix: np.ndarray, names: list[str]) -> go.Figure:
    """Cosine distance between class centroids (0 = same direction)."""
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=names,
            colorscale="Blues",
            zmin=0,
            reversescale=True,
            texttemplate="%{z:.2f}",
            colorbar=dict(title="cosine<br>distance", thickness=12),
            hovertemplate="%{y} ↔ %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(showgrid=False, tickangle=-30)
    return _style(fig, height=max(300, 30 * len(names) + 130), legend=False)


def class_distance_lines(frame: pd.DataFrame, names: list[str], titles: dict[str, str], cls: str) -> go.Figure:
    """A chosen class's centroid distance to every other class, across the phases."""
    colors = class_colors(names)
    x = [titles.get(p, p) for p in frame.index]
    fig = go.Figure()
    for other in frame.columns:
        fig.add_scatter(
            x=x,
            y=frame[other],
            mode="lines+markers",
            name=other,
            line=dict(color=colors.get(other), width=2),
            hovertemplate=f"{cls} ↔ {other}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
        )
    fig.update_yaxes(title=f"cosine distance from {cls}", rangemode="tozero")
    return _style(fig, height=340)


# ---- selection state (plain functions on the session state, so they can be tested) ------------
KEEP = object()  # apply_selection: leave the picked text as it is


def selection_key(run_id: str) -> str:
    return f"emb.selection.{run_id}"


def focus_key(run_id: str) -> str:
    return f"emb.focus.{run_id}"


def apply_selection(state, run_id: str, ids, focus=KEEP) -> None:
    """Keep ``ids`` (text ids, as `map_selection.selected_ids` reads them from a map's selection
    event) as run ``run_id``'s selection in ``state`` (Streamlit's session state or a dict).

    One id alone is a clicked point: it also becomes the picked text (whose neighbours are
    shown), unless ``focus`` says otherwise: an id picks that text, None clears it, KEEP (the
    default for several ids or none) leaves it.
    """
    ids = [int(i) for i in ids]
    state[selection_key(run_id)] = ids
    if focus is KEEP and len(ids) == 1:
        focus = ids[0]
    if focus is not KEEP:
        state[focus_key(run_id)] = None if focus is None else int(focus)
