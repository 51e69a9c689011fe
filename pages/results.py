"""Results: every run on disk, the recipes compared over seeds, and one run in detail."""

from __future__ import annotations

import streamlit as st

from pages._parts import budget_chart, charts, level_results, nav, run_view, ui
from threephase_core.workbench.comparison import (
    comparison_groups,
    group_class_counts,
    mixed_settings,
    recipe_comparison,
)
from threephase_core.workbench.job_managers import live_status
from threephase_core.workbench.result_tables import RUNS_FIRST_VIEW, comparison_table, runs_table
from threephase_core.workbench.runs import cleanup_candidates, fmt_seconds, runs_frame


def render() -> None:
    """The run table, the recipes compared over seeds, and one run in detail (`run_view`)."""
    ui.header(
        "Results", "All runs in the runs folder, the paper's ablation table rebuilt from them, and any run in detail."
    )
    mgr = ui.manager()

    if st.session_state.get("res:deleted"):
        gone, refused = st.session_state.pop("res:deleted")
        if gone:
            st.success(
                f"Deleted {len(gone)} run{'s' if len(gone) > 1 else ''}: "
                f"{', '.join(gone[:5])}{' …' if len(gone) > 5 else ''}",
                icon=":material/delete:",
            )
        for message in refused:
            st.warning(f"Not deleted: {message}", icon=":material/warning:")
    live = live_status(mgr)
    df = runs_frame(mgr.store, live)
    if not len(df):
        st.info(f"No runs in `{mgr.store.root}` yet. Start one on the Train page.", icon=":material/info:")
        st.page_link(nav.page("train"), label="Go to Train", icon=":material/model_training:")
        st.stop()

    # ---- all runs -------------------------------------------------------------------------
    done = df[df["state"] == "done"]
    m = st.columns(4)
    m[0].metric("Runs", len(df), border=True)
    m[1].metric("Finished", len(done), border=True)
    m[2].metric("Best test accuracy", ui.pct(done["test_acc"].max()) if len(done) else "–", border=True)
    m[3].metric("Training time, all runs", fmt_seconds(df["wall_s"].fillna(0).sum()), border=True)

    head, toggle = st.columns([3, 1], vertical_alignment="bottom")
    head.subheader("All runs")
    every = toggle.toggle(
        "Every column", key="res:every_column", help="Model, macro F1, step cap and run id too (the CSV has them all)."
    )
    st.dataframe(
        runs_table(df),
        hide_index=True,
        width="stretch",
        column_order=None if every else RUNS_FIRST_VIEW,
        height=min(400, 38 + 35 * len(df)),
        column_config={
            "test 95% CI": st.column_config.TextColumn(
                help="Where the test accuracy could lie with another draw of as many test texts (Wilson interval)."
            ),
            "step cap": st.column_config.TextColumn(help="Max steps per phase (smoke runs); – = full run."),
        },
    )
    row = st.container(horizontal=True)
    row.download_button(
        "Download the table (CSV)",
        df.drop(columns=["has_model"]).to_csv(index=False),
        file_name="threephase_runs.csv",
        mime="text/csv",
        icon=":material/download:",
        key="res:csv_all",
        on_click="ignore",
    )
    candidates = cleanup_candidates(df)
    with row.popover("Tidy up", icon=":material/cleaning_services:", disabled=not any(candidates.values())):
        kinds = {
            "unfinished": "failed, cancelled or interrupted runs",
            "smoke": "smoke runs (finished with a step cap)",
        }
        chosen = [
            k
            for k, label in kinds.items()
            if candidates[k] and st.checkbox(f"{len(candidates[k])} {label}", key=f"res:tidy_{k}")
        ]
        doomed = sorted({r for k in chosen for r in candidates[k]})
        st.caption(
            "Deletes the run folders (model, embeddings, metrics); this cannot be undone. Queued and running runs "
            "are never deleted."
        )
        st.button(
            f"Delete {len(doomed)} run{'s' if len(doomed) != 1 else ''}",
            type="primary",
            icon=":material/delete:",
            key="res:tidy",
            disabled=not doomed,
            on_click=run_view.delete,
            args=(doomed,),
        )

    # ---- recipe comparison ----------------------------------------------------------------
    st.subheader("Recipes compared")
    if not len(done):
        st.info("The comparison appears once runs have finished.", icon=":material/info:")
    else:
        groups = dict(comparison_groups(df))
        a, b = st.columns([3, 2], vertical_alignment="bottom")
        pick = a.selectbox(
            "Dataset and model",
            list(groups),
            key="res:group",
            help="Recipes are compared on one dataset (same file, columns and row cap) with one model.",
        )
        metric = b.segmented_control(
            "Score",
            ["test", "val"],
            default="test",
            key="res:metric",
            required=True,
            format_func={"test": "Test accuracy", "val": "Validation accuracy"}.get,
        )
        group = groups[pick]
        smoke = (group["steps_cap"].astype(str) != "") & (group["state"] == "done")
        full = (group["state"] == "done") & ~smoke
        # Smoke runs (a step cap) are left out while full runs exist: their scores would drag the means.
        with_smoke = bool(smoke.any()) and (
            not full.any()
            or st.toggle(
                f"Include {int(smoke.sum())} smoke run{'s' if smoke.sum() > 1 else ''}",
                value=False,
                key="res:with_smoke",
                help="Runs finished with a step cap (a few steps per phase): their scores are not real results.",
            )
        )
        shown = group if with_smoke else group[~smoke]
        comp = recipe_comparison(shown)
        ui.split_warnings(
            group_class_counts(mgr.store, shown),
            "These runs' validation or test split is too small to tell recipes apart: a gap between recipes "
            "may be chance.",
        )
        st.table(comparison_table(comp), hide_index=True)
        st.caption(
            'Mean ± sample standard deviation over seeds (finished runs only; "1 seed": no spread to show). '
            '"95% CI (one run)": where one run\'s test accuracy could lie by chance on this many test texts '
            "(Wilson interval). \"vs FT\": the test accuracy minus FT's on the same seeds, with a paired t-test's "
            "p-value; with 3 seeds only a large, steady gap reaches p < 0.05. The paper: 3-Phase beats FT alone; "
            "each ablation is below 3-Phase."
        )
        left, right = st.columns([3, 2], gap="large")
        with left:
            st.plotly_chart(
                charts.recipe_comparison(comp, metric or "test"), key="res_comp", config={"displayModeBar": False}
            )
        with right:
            mixed = mixed_settings(group if with_smoke else group[~smoke])
            if mixed:
                st.warning(
                    f"Runs of {', '.join(mixed)} here were trained with different settings (not only another seed): "
                    "their mean mixes those settings. Compare their Settings tabs below.",
                    icon=":material/warning:",
                )
            if with_smoke:
                st.warning(
                    f"{int(smoke.sum())} of these runs had a step cap (smoke runs): their scores are not real "
                    "results.",
                    icon=":material/warning:",
                )

    budget_chart.render(df)

    # ---- one run --------------------------------------------------------------------------
    run_view.render_run(df, mgr)
    level_results.render(mgr.store.get(st.session_state["wb.run"]))  # labels with levels: scores per level


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
