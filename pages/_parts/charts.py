"""Plotly figures for the workbench pages (no Streamlit here).

One colour per class everywhere (`class_colors`), one colour per phase, and a shared look
(`_style`): white background, light grid, compact margins, hover labels that show the text.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

PHASE_COLORS = {"base": "#64748b", "dae": "#0ea5e9", "cl": "#8b5cf6", "joint": "#f59e0b", "ft": "#10b981"}
MUTED = "#d5d9e0"
FONT = "Inter, Source Sans Pro, sans-serif"


def class_colors(names: list[str]) -> dict[str, str]:
    """The same colour for a class on every chart: Plotly's palette, Dark24 past 10 classes."""
    palette = qualitative.Plotly if len(names) <= 10 else qualitative.Dark24 + qualitative.Light24
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _style(fig: go.Figure, height: int = 360, title: str | None = None, legend: bool = True) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        title=dict(text=title, x=0.0, xanchor="left", font=dict(size=15)) if title else None,
        plot_bgcolor="white",
        paper_bgcolor="white",
        font=dict(family=FONT, size=12),
        showlegend=legend,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, title=None),
        hoverlabel=dict(font=dict(family=FONT, size=12)),
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eef0f4", zeroline=False, linecolor="#cbd2dc")
    fig.update_yaxes(showgrid=True, gridcolor="#eef0f4", zeroline=False, linecolor="#cbd2dc")
    return fig


def _wrap(text: str, width: int = 60) -> str:
    return "<br>".join(textwrap.wrap(str(text), width)[:6]) or " "


# ---- data ---------------------------------------------------------------------------
def class_distribution(counts: dict[str, dict[str, int]], names: list[str]) -> go.Figure:
    """Rows per class, one bar group per class, splits as bar patterns."""
    colors = class_colors(names)
    fig = go.Figure()
    patterns = {"train": "", "validation": "/", "test": "."}
    opac = {"train": 1.0, "validation": 0.75, "test": 0.55}
    for split, per in counts.items():
        fig.add_bar(
            name=split,
            x=names,
            y=[per.get(n, 0) for n in names],
            marker=dict(
                color=[colors[n] for n in names],
                opacity=opac.get(split, 1.0),
                pattern_shape=patterns.get(split, ""),
                line=dict(color="white", width=0.5),
            ),
            hovertemplate="%{x}<br>" + split + ": %{y} rows<extra></extra>",
        )
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_yaxes(title="rows")
    return _style(fig, height=340)


# ---- imbalance ----------------------------------------------------------------------
def imbalance_curve(
    xs, ys, table: pd.DataFrame, r_min: float, r_max: float, threshold: float, names: list[str]
) -> go.Figure:
    """f(x) against class size x (log axis), the min-ratio line and the classes on the curve."""
    colors = class_colors(names)
    largest = float(xs[-1]) if len(xs) else 1.0
    fig = go.Figure()
    if threshold >= 1:
        fig.add_vrect(
            x0=1,
            x1=min(threshold, largest),
            fillcolor="#8b5cf6",
            opacity=0.07,
            line_width=0,
            layer="below",
            annotation_text="oversampled",
            annotation_position="top left",
            annotation_font_color="#6d28d9",
        )
    fig.add_scatter(
        x=xs,
        y=ys,
        mode="lines",
        name="f(x)",
        line=dict(color="#1e293b", width=2.5),
        hovertemplate="class size %{x:.0f}<br>f(x) = %{y:.2f}<extra></extra>",
    )
    fig.add_scatter(
        x=[1, largest],
        y=[r_min, r_min],
        mode="lines",
        name=f"min ratio {r_min:g}",
        line=dict(color="#dc2626", width=1.5, dash="dash"),
        hoverinfo="skip",
    )
    for _, row in table.iterrows():
        if row["rows"] <= 0:
            continue
        fig.add_scatter(
            x=[row["rows"]],
            y=[row["f"]],
            mode="markers",
            name=row["class"],
            showlegend=False,
            marker=dict(
                size=13 if row["oversampled"] else 10,
                color=colors[row["class"]],
                symbol="circle" if row["oversampled"] else "circle-open",
                line=dict(width=2, color=colors[row["class"]]),
            ),
            hovertemplate=f"<b>{row['class']}</b><br>{row['rows']} rows, f = {row['f']:.2f}<br>"
            + (f"repeated ×{row['repeats']} → {row['rows_after']} rows" if row["oversampled"] else "unchanged")
            + "<extra></extra>",
        )
    ticks = [
        v
        for v in (
            1,
            2,
            5,
            10,
            20,
            50,
            100,
            200,
            500,
            1000,
            2000,
            5000,
            10_000,
            20_000,
            50_000,
            100_000,
            200_000,
            500_000,
        )
        if v <= largest * 1.5
    ]
    fig.update_xaxes(
        type="log", title="class size x (training rows, log scale)", tickvals=ticks, ticktext=[f"{v:,}" for v in ticks]
    )
    fig.update_yaxes(title="f(x)", rangemode="tozero")
    fig.update_layout(uirevision="imbalance")
    return _style(fig, height=380)


def counts_before_after(table: pd.DataFrame, names: list[str]) -> go.Figure:
    colors = class_colors(names)
    fig = go.Figure()
    fig.add_bar(
        name="before",
        x=table["class"],
        y=table["rows"],
        marker=dict(color=[colors[c] for c in table["class"]], opacity=0.45),
        hovertemplate="%{x}: %{y} rows before<extra></extra>",
    )
    fig.add_bar(
        name="after correction",
        x=table["class"],
        y=table["rows_after"],
        marker=dict(color=[colors[c] for c in table["class"]]),
        hovertemplate="%{x}: %{y} rows after<extra></extra>",
    )
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_yaxes(title="phase-2 training rows")
    return _style(fig, height=320)


# ---- training -----------------------------------------------------------------------
def _ema(values: np.ndarray, alpha: float = 0.2) -> np.ndarray:
    out = np.empty_like(values, dtype=float)
    acc = values[0]
    for i, v in enumerate(values):
        acc = alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


def loss_curves(
    losses: pd.DataFrame, phases: list[str], evals: list[dict] | None = None, height: int = 260
) -> go.Figure:
    """One small panel per phase that has logged a loss (their losses have different scales; a
    phase yet to start gets no empty panel): each step's loss, its moving average and, on FT's
    panel, the validation accuracy, named in a legend below the panels."""
    have = set(losses["phase"].unique()) if len(losses) else set()
    phases = [p for p in phases if p in have or (p == "ft" and evals)] or sorted(have)
    titles = [f"{p.upper()} loss" for p in phases]
    fig = make_subplots(
        rows=1,
        cols=max(len(phases), 1),
        subplot_titles=titles,
        horizontal_spacing=0.06,
        specs=[[{"secondary_y": p == "ft"} for p in phases] or [{}]],
    )
    for i, phase in enumerate(phases, start=1):
        d = losses[losses["phase"] == phase]
        color = PHASE_COLORS.get(phase, "#334155")
        first = i == 1
        if len(d):
            y = d["loss"].to_numpy(dtype=float)
            fig.add_scatter(
                x=d["step"],
                y=y,
                mode="lines",
                name="loss at each step",
                legendgroup="raw",
                line=dict(color=color, width=1),
                opacity=0.35,
                showlegend=first,
                hovertemplate="step %{x}<br>loss %{y:.4f}<extra></extra>",
                row=1,
                col=i,
            )
            fig.add_scatter(
                x=d["step"],
                y=_ema(y),
                mode="lines",
                name="moving average",
                legendgroup="smooth",
                line=dict(color=color, width=2.5),
                showlegend=first,
                hovertemplate="step %{x}<br>smoothed %{y:.4f}<extra></extra>",
                row=1,
                col=i,
            )
        if phase == "ft" and evals:
            fig.add_scatter(
                x=[e.get("step") for e in evals],
                y=[e.get("val_acc") for e in evals],
                mode="lines+markers",
                name="validation accuracy (right axis)",
                line=dict(color="#f97316", width=1.5, dash="dot"),
                marker=dict(size=6),
                showlegend=True,
                hovertemplate="step %{x}<br>val acc %{y:.3f}<extra></extra>",
                row=1,
                col=i,
                secondary_y=True,
            )
            fig.update_yaxes(
                title_text="val acc",
                range=[0, 1.02],
                tickmode="linear",
                tick0=0,
                dtick=0.25,
                tickformat=".0%",
                showgrid=False,
                row=1,
                col=i,
                secondary_y=True,
                title_font=dict(color="#f97316"),
                tickfont=dict(color="#f97316"),
            )
        fig.update_xaxes(title_text="step", row=1, col=i)
    for ann in fig.layout.annotations:
        ann.font = dict(size=12, family=FONT, color="#334155")
    fig = _style(fig, height=height + 30, legend=True)
    fig.update_layout(
        margin=dict(l=10, r=10, t=28, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.28, xanchor="left", x=0, font=dict(size=11)),
    )
    return fig


# ---- embeddings ---------------------------------------------------------------------
def embedding_map(
    xy: np.ndarray,
    labels: np.ndarray,
    texts,
    names: list[str],
    title: str,
    highlight: str | None = None,
    height: int = 360,
) -> go.Figure:
    """2-D map of one phase's validation embeddings, a trace per class; hover shows the text."""
    colors = class_colors(names)
    fig = go.Figure()
    hi = names.index(highlight) if highlight in names else None
    order = [i for i in range(len(names)) if i != hi] + ([hi] if hi is not None else [])
    for k in order:
        mask = labels == k
        if not mask.any():
            continue
        muted = hi is not None and k != hi
        fig.add_trace(
            go.Scattergl(
                x=xy[mask, 0],
                y=xy[mask, 1],
                mode="markers",
                name=names[k],
                legendgroup=names[k],
                marker=dict(
                    size=7 if not muted else 5,
                    color=MUTED if muted else colors[names[k]],
                    opacity=0.45 if muted else 0.88,
                    line=dict(width=0.5 if not muted else 0, color="white"),
                ),
                customdata=np.array([_wrap(t) for t in np.asarray(texts)[mask]], dtype=object),
                hovertemplate=f"<b>{names[k]}</b><br>%{{customdata}}<extra></extra>",
            )
        )
    fig = _style(fig, height=height, title=title, legend=False)
    fig.update_xaxes(showticklabels=False, title=None, showgrid=False, zeroline=False, showline=False)
    fig.update_yaxes(showticklabels=False, title=None, showgrid=False, zeroline=False, showline=False)
    fig.update_layout(dragmode="pan", margin=dict(l=4, r=4, t=36, b=4), plot_bgcolor="#fafbfc")
    return fig


# ---- results ------------------------------------------------------------------------
def recipe_comparison(comp: pd.DataFrame, metric: str = "test", baseline: str = "ft") -> go.Figure:
    """Mean over seeds per recipe as bars from 0 (a cut axis would make a 1-point gap look like a
    gulf), with the spread over seeds as error bars where there are several seeds; a recipe with
    one seed says "1 seed" on its bar instead of showing a spread of 0."""
    mean, std = comp[f"{metric}_mean"] * 100, comp[f"{metric}_std"].fillna(0) * 100
    seeds = comp["seeds"].fillna(0).astype(int)
    spread = np.where(seeds > 1, std, np.nan)
    colors = ["#4f46e5" if r == "three_phase" else ("#94a3b8" if r == baseline else "#a5b4fc") for r in comp["recipe"]]
    fig = go.Figure(
        go.Bar(
            x=comp["recipe"],
            y=mean,
            error_y=dict(type="data", array=spread, color="#334155", thickness=1.2, width=6),
            marker=dict(color=colors),
            text=[f"{m:.1f}" + (" (1 seed)" if n == 1 else "") for m, n in zip(mean, seeds, strict=True)],
            textposition="inside",
            insidetextanchor="end",
            textangle=0,
            textfont=dict(color="white", size=12),
            width=min(0.7, 0.3 + 0.08 * len(comp)),
            customdata=np.stack([std, seeds], axis=1),
            hovertemplate="<b>%{x}</b><br>%{y:.2f} ± %{customdata[0]:.2f}<br>%{customdata[1]} seed(s)<extra></extra>",
        )
    )
    if baseline in set(comp["recipe"]):
        base = float(mean[comp["recipe"] == baseline].iloc[0])
        fig.add_hline(
            y=base,
            line=dict(color="#64748b", dash="dot", width=1),
            annotation_text="FT baseline",
            annotation_position="right",
            annotation_font=dict(color="#64748b", size=11),
        )
    fig.update_yaxes(
        title=f"{'test' if metric == 'test' else 'validation'} accuracy (%, from 0)", range=[0, 100], dtick=20
    )
    fig = _style(fig, height=360, legend=False)
    fig.update_layout(margin=dict(l=10, r=80, t=10, b=10))
    return fig


def confusion_matrix(matrix: np.ndarray, names: list[str]) -> go.Figure:
    m = np.asarray(matrix, dtype=float)
    row = m.sum(axis=1, keepdims=True)
    share = np.divide(m, row, out=np.zeros_like(m), where=row > 0)
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=m.astype(int),
            texttemplate="%{text}",
            colorbar=dict(title="row share", thickness=12),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} rows (%{z:.0%})<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title="true class", showgrid=False)
    fig.update_xaxes(title="predicted class", showgrid=False, tickangle=-30)
    return _style(fig, height=max(320, 34 * len(names) + 140), legend=False)


def per_class_f1(df: pd.DataFrame, names: list[str]) -> go.Figure:
    colors = class_colors(names)
    fig = go.Figure(
        go.Bar(
            x=df["f1"],
            y=df["class"],
            orientation="h",
            marker=dict(color=[colors.get(c, "#64748b") for c in df["class"]]),
            text=[f"{v:.2f}" for v in df["f1"]],
            textposition="outside",
            cliponaxis=False,
            customdata=df[["precision", "recall", "support"]].to_numpy(),
            hovertemplate=(
                "<b>%{y}</b><br>F1 %{x:.3f}<br>precision %{customdata[0]:.3f}<br>recall %{customdata[1]:.3f}"
                "<br>support %{customdata[2]}<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(range=[0, 1.08], title="F1")
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return _style(fig, height=max(240, 28 * len(df) + 80), legend=False)
