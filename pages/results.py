"""Results: every run on disk, the recipes compared over seeds, and one run in detail."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages._parts import charts, nav, run_view, ui
from threephase_core.workbench.comparison import comparison_groups, mixed_settings, recipe_comparison, versus_text
from threephase_core.workbench.job_managers import live_status
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

    st.subheader("All runs")
    view = df.assign(
        val_acc=df["val_acc"] * 100,
        test_acc=df["test_acc"] * 100,
        test_f1=df["test_f1"] * 100,
    )
    st.dataframe(
        view[
            [
                "created",
                "state",
                "recipe",
                "dataset",
                "model",
                "seed",
                "val_acc",
                "test_acc",
                "test_f1",
                "wall_s",
                "steps_cap",
                "run",
            ]
        ],
        hide_index=True,
        width="stretch",
        height=min(400, 38 + 35 * len(view)),
        column_config={
            "created": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
            "val_acc": st.column_config.NumberColumn("val acc", format="%.1f%%"),
            "test_acc": st.column_config.NumberColumn("test acc", format="%.1f%%"),
            "test_f1": st.column_config.NumberColumn("test macro F1", format="%.1f%%"),
            "wall_s": st.column_config.NumberColumn("wall time", format="%.0f s"),
            "steps_cap": st.column_config.TextColumn(
                "step cap", help="Max steps per phase (smoke runs); empty = full run."
            ),
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
        a, b, c = st.columns([2, 1, 1], vertical_alignment="bottom")
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
            or c.toggle(
                f"Include {int(smoke.sum())} smoke run{'s' if smoke.sum() > 1 else ''}",
                value=False,
                key="res:with_smoke",
                help="Runs finished with a step cap (a few steps per phase): their scores are not real results.",
            )
        )
        comp = recipe_comparison(group if with_smoke else group[~smoke])
        left, right = st.columns([1, 1], gap="large")
        with left:
            st.plotly_chart(
                charts.recipe_comparison(comp, metric or "test"), key="res_comp", config={"displayModeBar": False}
            )
        with right:
            table = pd.DataFrame(
                {
                    "recipe": comp["recipe"],
                    "seeds": comp["seeds"],
                    "val acc": [
                        f"{mu:.1%} ± {sd:.1%}" for mu, sd in zip(comp["val_mean"], comp["val_std"], strict=True)
                    ],
                    "test acc": [
                        f"{mu:.1%} ± {sd:.1%}" for mu, sd in zip(comp["test_mean"], comp["test_std"], strict=True)
                    ],
                    "macro F1": [
                        f"{mu:.1%} ± {sd:.1%}" for mu, sd in zip(comp["f1_mean"], comp["f1_std"], strict=True)
                    ],
                    "test acc vs FT": [
                        versus_text(*v)
                        for v in zip(comp["recipe"], comp["vs_seeds"], comp["vs_diff"], comp["vs_p"], strict=True)
                    ],
                }
            )
            st.dataframe(table, hide_index=True, width="stretch")
            st.caption(
                'Mean ± sample standard deviation over seeds (finished runs only). "vs FT": the test accuracy minus '
                "FT's on the "
                "same seeds, with a paired t-test's p-value; with 3 seeds only a large, steady gap reaches p < 0.05. "
                "The paper: 3-Phase beats FT alone; each ablation is below 3-Phase."
            )
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

    # ---- one run --------------------------------------------------------------------------
    run_view.render_run(df, mgr)


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
