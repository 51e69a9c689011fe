"""One run in detail, on the Results page: headline scores, per-class metrics, the confusion matrix,
training curves, phase metrics, its settings (and "Load these settings into Train"), a box to
classify new texts, downloads and delete. Everything is read from the run folder."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from pages._parts import charts, form, nav, ui
from threephase_core import predict
from threephase_core.config import ConfigError
from threephase_core.runstore import Run
from threephase_core.workbench.job_managers import live_status
from threephase_core.workbench.result_tables import phases_table
from threephase_core.workbench.run_details import (
    before_ft_acc,
    config_rows,
    confusion,
    ft_evals,
    label_names,
    lora_summary,
    loss_frame,
    losses_from_events,
    model_zip,
    per_class_frame,
    phase2_counts,
    phase_table,
)
from threephase_core.workbench.runs import ACTIVE_STATES, delete_runs, fmt_seconds
from threephase_core.workbench.settings import clean_settings, train_form_values

PAGE = "res"
TRY_LIMIT = 500  # texts classified at once in the page (the CLI has no limit)


def delete(run_ids: list[str]) -> None:
    """Button callback: delete these runs (never one that is queued or running) and say what happened."""
    mgr = ui.manager()
    deleted, problems = delete_runs(mgr.store, run_ids, live_status(mgr))
    mgr.forget(deleted)  # the Train page no longer lists them
    st.session_state["res:deleted"] = (deleted, problems)
    if st.session_state.get("wb.run") in deleted:
        st.session_state.pop("wb.run")


def load_settings(config: dict) -> None:
    """Button callback: put this run's settings into the Data, Imbalance and Train pages."""
    try:
        values, notes = train_form_values(config, form.field_keys())
    except (ValueError, TypeError, OSError) as exc:
        st.session_state["res:load_error"] = str(exc)
        return
    session = form.session_values(values)
    # Workbench-wide settings go through the same check as saved ones (a command-line run may hold
    # values the widgets cannot show); per-recipe ones are checked by the Train form itself.
    own = {k: v for k, v in session.items() if k.startswith(form.RECIPE_PREFIX)}
    workbench = {k: v for k, v in session.items() if k not in own}
    kept = clean_settings(workbench, ui.DEFAULTS, ui.setting_choices(), form.LIMITS)
    notes += [
        f"{form.WORKBENCH_SETTINGS.get(k, k.removeprefix('wb.'))} = {workbench[k]!r} is outside what the pages "
        "can show; left as it was"
        for k in workbench
        if k not in kept and k in ui.DEFAULTS
    ]
    st.session_state.update({**own, **kept})
    st.session_state["res:loaded"] = True
    st.session_state["train.notice"] = "Loaded the run's settings." + (
        " Not loaded: " + "; ".join(notes) + "." if notes else ""
    )


def render_run(df: pd.DataFrame, mgr) -> None:
    """The run chosen in the "Run" box (the one shown on the Embeddings page too), in detail."""
    st.subheader("One run")
    rows = {r["run"]: r for r in df.to_dict("records")}
    if st.session_state.get("wb.run") not in rows:
        st.session_state["wb.run"] = next(iter(rows))
    run_id = ui.bind(
        st.selectbox, "Run", "wb.run", page=PAGE, options=list(rows), format_func=lambda i: ui.run_label(rows[i])
    )
    run = mgr.store.get(run_id)
    row, metrics, status = rows[run_id], run.metrics, run.status
    if row["state"] == "failed":
        st.error(f"This run failed: {status.get('message', 'no message')}", icon=":material/error:")
    elif row["state"] in ("cancelled", "interrupted"):
        st.warning(f"This run was {row['state']}; what finished before is kept.", icon=":material/warning:")
    if row["state"] in ("failed", "cancelled", "interrupted"):
        _resume_button(run)
    from threephase_core import checkpoints  # torch: not needed to draw the other pages

    kept = checkpoints.disk_use(run)
    if kept:
        st.caption(f":material/save: Phase checkpoints on disk: {checkpoints.describe(kept)}.")
    t = st.columns(5)
    t[0].metric("Validation accuracy", ui.pct(row["val_acc"]), border=True)
    t[1].metric("Test accuracy", ui.pct(row["test_acc"]), border=True)
    t[2].metric("Test macro F1", ui.pct(row["test_f1"]), border=True)
    t[3].metric(
        "Val acc before FT",
        ui.pct(before_ft_acc(metrics)),
        help="The classifier head on the encoder before phase 3.",
        border=True,
    )
    t[4].metric("Wall time", fmt_seconds(row["wall_s"]), border=True)
    lora = lora_summary(metrics)
    if lora:
        st.info(
            f"LoRA: {lora['trainable_params']:,} trainable of {lora['total_params']:,} encoder parameters "
            f"({lora['trainable_share']:.2%}); the adapters are merged into the saved encoder.",
            icon=":material/tune:",
        )

    split = (
        st.segmented_control("Split", ["test", "validation"], default="test", key="res:split", required=True) or "test"
    )
    names = label_names(run)
    training = row["state"] in ACTIVE_STATES
    tabs = st.tabs(["Per class", "Confusion matrix", "Training curves", "Phases", "Settings", "Try it"])
    with tabs[0]:
        _per_class(run_id, metrics, split, names, training)
    with tabs[1]:
        _confusion(metrics, split)
    with tabs[2]:
        _curves(run, metrics, training)
    with tabs[3]:
        _phases(metrics)
    with tabs[4]:
        _settings(run)
    with tabs[5]:
        _try_it(run, run_id)
    _actions(mgr, run, run_id, metrics, training)


def _per_class(run_id: str, metrics: dict, split: str, names: list[str], training: bool) -> None:
    per = per_class_frame(metrics, split)
    if len(per):
        a, b = st.columns([3, 2], gap="large")
        a.plotly_chart(
            charts.per_class_f1(per, names or per["class"].tolist()),
            key="res_f1",
            config={"displayModeBar": False},
        )
        b.dataframe(
            per,
            hide_index=True,
            width="stretch",
            column_config={
                "precision": st.column_config.NumberColumn(format="%.3f"),
                "recall": st.column_config.NumberColumn(format="%.3f"),
                "f1": st.column_config.NumberColumn("F1", format="%.3f"),
            },
        )
        b.download_button(
            "Per-class metrics (CSV)",
            per.to_csv(index=False),
            file_name=f"{run_id}_{split}_per_class.csv",
            mime="text/csv",
            icon=":material/download:",
            key="res:csv_class",
            on_click="ignore",
        )
    elif training:
        st.info(
            "This run is still training: its per-class metrics appear when fine-tuning ends.",
            icon=":material/hourglass_top:",
        )
    else:
        st.info("No classification metrics: the run did not reach the end of fine-tuning.", icon=":material/info:")


def _confusion(metrics: dict, split: str) -> None:
    cm = confusion(metrics, split)
    if cm is not None:
        st.plotly_chart(charts.confusion_matrix(*cm), key="res_cm", config={"displayModeBar": False})
    else:
        st.info("No confusion matrix for this run.", icon=":material/info:")


def _curves(run: Run, metrics: dict, training: bool) -> None:
    losses = loss_frame(losses_from_events(run.events()))
    phases = list(run.config.get("phases") or losses["phase"].unique())
    if len(losses):
        st.plotly_chart(
            charts.loss_curves(losses, phases, ft_evals(metrics)), key="res_loss", config={"displayModeBar": False}
        )
    elif training:
        st.info(
            "This run is still loading its data and model: the loss curves appear with its first steps (on the Train "
            "page live).",
            icon=":material/hourglass_top:",
        )
    else:
        st.info("No training steps were logged.", icon=":material/info:")


def _phases(metrics: dict) -> None:
    prow = phase_table(metrics)
    if len(prow):
        st.dataframe(phases_table(prow), hide_index=True, width="stretch")
    counts = phase2_counts(metrics)
    if counts is not None:
        st.markdown("**Phase-2 rows per class**")
        st.dataframe(counts, hide_index=True, width="stretch")
    st.page_link(nav.page("embeddings"), label="See the embedding maps of this run", icon=":material/scatter_plot:")


def _settings(run: Run) -> None:
    st.button(
        "Load these settings into Train",
        icon=":material/settings_backup_restore:",
        key="res:load_settings",
        on_click=load_settings,
        args=(run.config,),
        help=(
            "Data, model, recipe, seed and every phase setting of this run, ready to re-run or change on the Train "
            "page."
        ),
    )
    if st.session_state.pop("res:loaded", False):
        st.switch_page(nav.page("train"))
    if st.session_state.get("res:load_error"):
        st.error(f"Cannot load these settings: {st.session_state.pop('res:load_error')}", icon=":material/error:")
    st.dataframe(config_rows(run.config), hide_index=True, width="stretch", height=400)
    summary = run.data_summary
    if summary.get("notes"):
        for note in summary["notes"]:
            st.caption(f"Data note: {note}")


def _try_it(run: Run, run_id: str) -> None:
    if not run.has_model():
        st.info(
            "This run has no saved model (it did not finish fine-tuning), so it cannot classify new texts.",
            icon=":material/info:",
        )
    else:
        with st.form("res:try_form", border=False):
            typed = st.text_area(
                "Texts to classify, one per line",
                key="res:try_texts",
                height=140,
                placeholder="where is my parcel\nI was charged twice this month",
            )
            asked = st.form_submit_button("Classify", icon=":material/label:")
        if asked:
            from threephase_core.encoder import ModelError  # torch: imported when first needed

            texts = predict.clean_texts(typed.splitlines())
            if not texts:
                st.warning("Type at least one text.", icon=":material/warning:")
            else:
                if len(texts) > TRY_LIMIT:
                    st.warning(
                        f"Only the first {TRY_LIMIT} of {len(texts)} texts are classified here; "
                        f"`python -m threephase_core predict {run_id} --file FILE` takes any number.",
                        icon=":material/warning:",
                    )
                try:
                    st.session_state["res:try_result"] = (
                        run_id,
                        predict.predictions(ui.classifier(run), texts[:TRY_LIMIT]),
                    )
                except (ModelError, OSError) as exc:
                    st.error(f"The model cannot be loaded: {exc}", icon=":material/error:")
                except RuntimeError as exc:  # e.g. CUDA out of memory beside a training job
                    st.error(
                        f"Classifying failed: {str(exc)[:300]}. With a job training on the GPU, try again when it "
                        "has finished.",
                        icon=":material/error:",
                    )
        shown = st.session_state.get("res:try_result")
        if shown and shown[0] == run_id:
            st.dataframe(
                shown[1],
                hide_index=True,
                width="stretch",
                column_config={
                    "confidence": st.column_config.ProgressColumn(
                        "confidence", format="percent", min_value=0.0, max_value=1.0
                    ),
                    "runners_up": st.column_config.TextColumn("next most likely"),
                },
            )
        st.caption(
            'The same from a terminal: `python -m threephase_core predict RUN_ID "a text"` (or `--file texts.txt`).'
        )


def resume(run_id: str) -> None:
    """Queue the run to go on from its last finished phase (the Train page shows it training)."""
    try:
        job = ui.manager().resume(run_id, owner=ui.session_id())
    except (ConfigError, ValueError) as exc:
        st.session_state["res:resume_error"] = str(exc)
        return
    st.session_state["train.focus"] = job.id
    st.session_state["res:resumed"] = run_id


def _resume_button(run: Run) -> None:
    """Resume: the run goes on in its own folder from the last phase saved whole, with its settings."""
    from threephase_core import checkpoints

    start = checkpoints.resume_point(run, run.config.get("phases") or [])
    st.button(
        "Resume",
        icon=":material/resume:",
        key=f"res:resume:{run.id}",
        on_click=resume,
        args=(run.id,),
        help=f"Go on {f'after the {start} phase' if start else 'from the start (no phase was saved whole)'}, "
        "in the same run folder, with the run's settings.",
    )
    if st.session_state.pop("res:resumed", None) == run.id:
        st.success("Queued to resume; follow it on the Train page.", icon=":material/resume:")
    if st.session_state.get("res:resume_error"):
        st.error(f"Cannot resume: {st.session_state.pop('res:resume_error')}", icon=":material/error:")


def _actions(mgr, run: Run, run_id: str, metrics: dict, training: bool) -> None:
    """Downloads (metrics, model) and delete, under the tabs."""
    actions = st.container(horizontal=True)
    actions.download_button(
        "metrics.json",
        json.dumps(metrics, indent=2),
        file_name=f"{run_id}_metrics.json",
        mime="application/json",
        icon=":material/download:",
        key="res:metrics_json",
        on_click="ignore",
        disabled=not metrics,
    )
    actions.download_button(
        "Trained model (zip)",
        lambda: model_zip(mgr.store.get(run_id)),
        file_name=f"{run_id}_model.zip",
        mime="application/zip",
        icon=":material/download:",
        key="res:model_zip",
        on_click="ignore",
        disabled=not run.has_model(),
        help=(
            "Encoder (sentence-transformers format) + classification head; load with threephase_core.load_classifier."
        ),
    )
    # Keyed by run: after a delete the next run's popover starts closed, so a second click cannot
    # delete it without a new confirmation.
    with actions.popover(
        "Delete this run", icon=":material/delete:", disabled=training, key=f"res:delete_pop:{run_id}"
    ):
        st.caption(f"Deletes {run_id}: its model, embeddings and metrics. This cannot be undone.")
        st.button("Delete", type="primary", key=f"res:delete_one:{run_id}", on_click=delete, args=([run_id],))
