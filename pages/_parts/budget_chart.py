"""The Results page's "Accuracy against label budget": each recipe's mean accuracy ± sd over seeds
at every label budget the runs folder holds for one dataset and model
(`threephase_core.workbench.budget_curve`)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages._parts.charts import _style
from threephase_core.workbench.budget_curve import budget_curve, curve_groups


def figure(curve, metric: str = "test") -> go.Figure:
    """Accuracy (%) against labelled training texts (log axis), one line per recipe, sd as error bars."""
    fig = go.Figure()
    for recipe, rows in curve.groupby("recipe", sort=False):
        fig.add_trace(
            go.Scatter(
                x=rows["labelled"],
                y=rows["mean"] * 100,
                error_y=dict(type="data", array=rows["std"] * 100, thickness=1.2, width=4),
                mode="lines+markers",
                name=recipe,
                customdata=rows[["budget", "seeds"]].to_numpy(),
                hovertemplate=f"<b>{recipe}</b> · %{{customdata[0]}}<br>%{{x:.0f}} labelled texts<br>"
                "%{y:.1f}% (%{customdata[1]} seed(s))<extra></extra>",
            )
        )
    fig.update_xaxes(type="log", title="labelled training texts")
    fig.update_yaxes(title=f"{'test' if metric == 'test' else 'validation'} accuracy (%)")
    return _style(fig, height=380)


def render(df) -> None:
    """The section, when some dataset's runs span two or more label budgets."""
    groups = dict(curve_groups(df))
    if not groups:
        return
    st.subheader("Accuracy against label budget")
    a, b = st.columns([2, 1], vertical_alignment="bottom")
    pick = a.selectbox("Dataset and model", list(groups), key="res:curve_group")
    metric = b.segmented_control(
        "Score",
        ["test", "val"],
        default="test",
        key="res:curve_metric",
        required=True,
        format_func={"test": "Test accuracy", "val": "Validation accuracy"}.get,
    )
    curve = budget_curve(groups[pick], metric or "test")
    st.plotly_chart(figure(curve, metric or "test"), key="res_budget_curve", config={"displayModeBar": False})
    st.caption(
        "Runs grouped by label budget (labels_per_class / label_fraction) and recipe: mean ± sample standard "
        "deviation over seeds, at the mean number of labelled training texts. The texts beyond the budget are "
        "unlabelled text for the label-free phase. Smoke runs (a step cap) are left out while full runs exist."
    )
