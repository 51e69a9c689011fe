"""Results: every run on disk, the recipes compared over seeds, and one run in detail."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from pages._parts import charts, form, nav, ui
from threephase_core import predict
from threephase_core.workbench.comparison import comparison_groups, mixed_settings, recipe_comparison, versus_text
from threephase_core.workbench.job_managers import live_status
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
from threephase_core.workbench.runs import ACTIVE_STATES, cleanup_candidates, delete_runs, fmt_seconds, runs_frame
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
    notes += [f"{form.WORKBENCH_SETTINGS.get(k, k.removeprefix('wb.'))} = {workbench[k]!r} is outside what the pages "
              "can show; left as it was" for k in workbench if k not in kept and k in ui.DEFAULTS]
    st.session_state.update({**own, **kept})
    st.session_state["res:loaded"] = True
    st.session_state["train.notice"] = "Loaded the run's settings." + (" Not loaded: " + "; ".join(notes) + "." if notes else "")


def render() -> None:
    """The run table, the recipes compared over seeds, and one run in detail (metrics, curves, settings, a try-it box)."""
    ui.header("Results", "All runs in the runs folder, the paper's ablation table rebuilt from them, and any run in detail.")
    mgr = ui.manager()

    if st.session_state.get("res:deleted"):
        gone, refused = st.session_state.pop("res:deleted")
        if gone:
            st.success(f"Deleted {len(gone)} run{'s' if len(gone) > 1 else ''}: {', '.join(gone[:5])}{' …' if len(gone) > 5 else ''}",
                       icon=":material/delete:")
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
        val_acc=df["val_acc"] * 100, test_acc=df["test_acc"] * 100, test_f1=df["test_f1"] * 100,
    )
    st.dataframe(
        view[["created", "state", "recipe", "dataset", "model", "seed", "val_acc", "test_acc", "test_f1", "wall_s", "steps_cap", "run"]],
        hide_index=True, width="stretch", height=min(400, 38 + 35 * len(view)),
        column_config={
            "created": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
            "val_acc": st.column_config.NumberColumn("val acc", format="%.1f%%"),
            "test_acc": st.column_config.NumberColumn("test acc", format="%.1f%%"),
            "test_f1": st.column_config.NumberColumn("test macro F1", format="%.1f%%"),
            "wall_s": st.column_config.NumberColumn("wall time", format="%.0f s"),
            "steps_cap": st.column_config.TextColumn("step cap", help="Max steps per phase (smoke runs); empty = full run."),
        },
    )
    row = st.container(horizontal=True)
    row.download_button("Download the table (CSV)", df.drop(columns=["has_model"]).to_csv(index=False), file_name="threephase_runs.csv",
                        mime="text/csv", icon=":material/download:", key="res:csv_all", on_click="ignore")
    candidates = cleanup_candidates(df)
    with row.popover("Tidy up", icon=":material/cleaning_services:", disabled=not any(candidates.values())):
        kinds = {"unfinished": "failed, cancelled or interrupted runs", "smoke": "smoke runs (finished with a step cap)"}
        chosen = [k for k, label in kinds.items() if candidates[k] and st.checkbox(f"{len(candidates[k])} {label}", key=f"res:tidy_{k}")]
        doomed = sorted({r for k in chosen for r in candidates[k]})
        st.caption("Deletes the run folders (model, embeddings, metrics); this cannot be undone. Queued and running runs are never deleted.")
        st.button(f"Delete {len(doomed)} run{'s' if len(doomed) != 1 else ''}", type="primary", icon=":material/delete:", key="res:tidy",
                  disabled=not doomed, on_click=delete, args=(doomed,))

    # ---- recipe comparison ----------------------------------------------------------------
    st.subheader("Recipes compared")
    if not len(done):
        st.info("The comparison appears once runs have finished.", icon=":material/info:")
    else:
        groups = dict(comparison_groups(df))
        a, b, c = st.columns([2, 1, 1], vertical_alignment="bottom")
        pick = a.selectbox("Dataset and model", list(groups), key="res:group",
                           help="Recipes are compared on one dataset (same file, columns and row cap) with one model.")
        metric = b.segmented_control("Score", ["test", "val"], default="test", key="res:metric", required=True,
                                     format_func={"test": "Test accuracy", "val": "Validation accuracy"}.get)
        group = groups[pick]
        smoke = (group["steps_cap"].astype(str) != "") & (group["state"] == "done")
        full = (group["state"] == "done") & ~smoke
        # Smoke runs (a step cap) are left out while full runs exist: their scores would drag the means.
        with_smoke = bool(smoke.any()) and (not full.any() or c.toggle(
            f"Include {int(smoke.sum())} smoke run{'s' if smoke.sum() > 1 else ''}", value=False, key="res:with_smoke",
            help="Runs finished with a step cap (a few steps per phase): their scores are not real results."))
        comp = recipe_comparison(group if with_smoke else group[~smoke])
        left, right = st.columns([1, 1], gap="large")
        with left:
            st.plotly_chart(charts.recipe_comparison(comp, metric or "test"), key="res_comp", config={"displayModeBar": False})
        with right:
            table = pd.DataFrame({
                "recipe": comp["recipe"],
                "seeds": comp["seeds"],
                "val acc": [f"{mu:.1%} ± {sd:.1%}" for mu, sd in zip(comp["val_mean"], comp["val_std"])],
                "test acc": [f"{mu:.1%} ± {sd:.1%}" for mu, sd in zip(comp["test_mean"], comp["test_std"])],
                "macro F1": [f"{mu:.1%} ± {sd:.1%}" for mu, sd in zip(comp["f1_mean"], comp["f1_std"])],
                "test acc vs FT": [versus_text(*v) for v in zip(comp["recipe"], comp["vs_seeds"], comp["vs_diff"], comp["vs_p"])],
            })
            st.dataframe(table, hide_index=True, width="stretch")
            st.caption("Mean ± sample standard deviation over seeds (finished runs only). \"vs FT\": the test accuracy minus FT's on the "
                       "same seeds, with a paired t-test's p-value; with 3 seeds only a large, steady gap reaches p < 0.05. "
                       "The paper: 3-Phase beats FT alone; each ablation is below 3-Phase.")
            mixed = mixed_settings(group if with_smoke else group[~smoke])
            if mixed:
                st.warning(f"Runs of {', '.join(mixed)} here were trained with different settings (not only another seed): "
                           "their mean mixes those settings. Compare their Settings tabs below.", icon=":material/warning:")
            if with_smoke:
                st.warning(f"{int(smoke.sum())} of these runs had a step cap (smoke runs): their scores are not real results.",
                           icon=":material/warning:")

    # ---- one run --------------------------------------------------------------------------
    st.subheader("One run")
    rows = {r["run"]: r for r in df.to_dict("records")}
    if st.session_state.get("wb.run") not in rows:
        st.session_state["wb.run"] = next(iter(rows))
    run_id = ui.bind(st.selectbox, "Run", "wb.run", page=PAGE, options=list(rows), format_func=lambda i: ui.run_label(rows[i]))
    run = mgr.store.get(run_id)
    row, metrics, status = rows[run_id], run.metrics, run.status
    if row["state"] == "failed":
        st.error(f"This run failed: {status.get('message', 'no message')}", icon=":material/error:")
    elif row["state"] in ("cancelled", "interrupted"):
        st.warning(f"This run was {row['state']}; what finished before is kept.", icon=":material/warning:")
    t = st.columns(5)
    t[0].metric("Validation accuracy", ui.pct(row["val_acc"]), border=True)
    t[1].metric("Test accuracy", ui.pct(row["test_acc"]), border=True)
    t[2].metric("Test macro F1", ui.pct(row["test_f1"]), border=True)
    t[3].metric("Val acc before FT", ui.pct(before_ft_acc(metrics)), help="The classifier head on the encoder before phase 3.", border=True)
    t[4].metric("Wall time", fmt_seconds(row["wall_s"]), border=True)
    lora = lora_summary(metrics)
    if lora:
        st.info(f"LoRA: {lora['trainable_params']:,} trainable of {lora['total_params']:,} encoder parameters "
                f"({lora['trainable_share']:.2%}); the adapters are merged into the saved encoder.", icon=":material/tune:")

    split = st.segmented_control("Split", ["test", "validation"], default="test", key="res:split", required=True) or "test"
    names = label_names(run)
    training = row["state"] in ACTIVE_STATES
    tabs = st.tabs(["Per class", "Confusion matrix", "Training curves", "Phases", "Settings", "Try it"])
    with tabs[0]:
        per = per_class_frame(metrics, split)
        if len(per):
            a, b = st.columns([3, 2], gap="large")
            a.plotly_chart(charts.per_class_f1(per, names or per["class"].tolist()), key="res_f1", config={"displayModeBar": False})
            b.dataframe(per, hide_index=True, width="stretch", column_config={
                "precision": st.column_config.NumberColumn(format="%.3f"), "recall": st.column_config.NumberColumn(format="%.3f"),
                "f1": st.column_config.NumberColumn("F1", format="%.3f")})
            b.download_button("Per-class metrics (CSV)", per.to_csv(index=False), file_name=f"{run_id}_{split}_per_class.csv",
                              mime="text/csv", icon=":material/download:", key="res:csv_class", on_click="ignore")
        elif training:
            st.info("This run is still training: its per-class metrics appear when fine-tuning ends.", icon=":material/hourglass_top:")
        else:
            st.info("No classification metrics: the run did not reach the end of fine-tuning.", icon=":material/info:")
    with tabs[1]:
        cm = confusion(metrics, split)
        if cm is not None:
            st.plotly_chart(charts.confusion_matrix(*cm), key="res_cm", config={"displayModeBar": False})
        else:
            st.info("No confusion matrix for this run.", icon=":material/info:")
    with tabs[2]:
        losses = loss_frame(losses_from_events(run.events()))
        phases = list(run.config.get("phases") or losses["phase"].unique())
        if len(losses):
            st.plotly_chart(charts.loss_curves(losses, phases, ft_evals(metrics)), key="res_loss", config={"displayModeBar": False})
        elif training:
            st.info("This run is still loading its data and model: the loss curves appear with its first steps (on the Train page live).",
                    icon=":material/hourglass_top:")
        else:
            st.info("No training steps were logged.", icon=":material/info:")
    with tabs[3]:
        prow = phase_table(metrics)
        if len(prow):
            st.dataframe(prow, hide_index=True, width="stretch", column_config={
                "wall time (s)": st.column_config.NumberColumn(format="%.1f"), "silhouette": st.column_config.NumberColumn(format="%.3f"),
                "kNN acc": st.column_config.NumberColumn(format="%.3f")})
        counts = phase2_counts(metrics)
        if counts is not None:
            st.markdown("**Phase-2 rows per class**")
            st.dataframe(counts, hide_index=True, width="stretch")
        st.page_link(nav.page("embeddings"), label="See the embedding maps of this run", icon=":material/scatter_plot:")

    with tabs[4]:
        st.button("Load these settings into Train", icon=":material/settings_backup_restore:", key="res:load_settings",
                  on_click=load_settings, args=(run.config,),
                  help="Data, model, recipe, seed and every phase setting of this run, ready to re-run or change on the Train page.")
        if st.session_state.pop("res:loaded", False):
            st.switch_page(nav.page("train"))
        if st.session_state.get("res:load_error"):
            st.error(f"Cannot load these settings: {st.session_state.pop('res:load_error')}", icon=":material/error:")
        st.dataframe(config_rows(run.config), hide_index=True, width="stretch", height=400)
        summary = run.data_summary
        if summary.get("notes"):
            for note in summary["notes"]:
                st.caption(f"Data note: {note}")

    with tabs[5]:
        if not run.has_model():
            st.info("This run has no saved model (it did not finish fine-tuning), so it cannot classify new texts.", icon=":material/info:")
        else:
            with st.form("res:try_form", border=False):
                typed = st.text_area("Texts to classify, one per line", key="res:try_texts", height=140,
                                     placeholder="where is my parcel\nI was charged twice this month")
                asked = st.form_submit_button("Classify", icon=":material/label:")
            if asked:
                from threephase_core.encoder import ModelError  # torch: imported when first needed

                texts = predict.clean_texts(typed.splitlines())
                if not texts:
                    st.warning("Type at least one text.", icon=":material/warning:")
                else:
                    if len(texts) > TRY_LIMIT:
                        st.warning(f"Only the first {TRY_LIMIT} of {len(texts)} texts are classified here; "
                                   f"`python -m threephase_core predict {run_id} --file FILE` takes any number.", icon=":material/warning:")
                    try:
                        st.session_state["res:try_result"] = (run_id, predict.predictions(ui.classifier(run), texts[:TRY_LIMIT]))
                    except (ModelError, OSError) as exc:
                        st.error(f"The model cannot be loaded: {exc}", icon=":material/error:")
                    except RuntimeError as exc:  # e.g. CUDA out of memory beside a training job
                        st.error(f"Classifying failed: {str(exc)[:300]}. With a job training on the GPU, try again when it has finished.",
                                 icon=":material/error:")
            shown = st.session_state.get("res:try_result")
            if shown and shown[0] == run_id:
                st.dataframe(shown[1], hide_index=True, width="stretch", column_config={
                    "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0.0, max_value=1.0),
                    "runners_up": st.column_config.TextColumn("next most likely")})
            st.caption("The same from a terminal: `python -m threephase_core predict RUN_ID \"a text\"` (or `--file texts.txt`).")

    actions = st.container(horizontal=True)
    actions.download_button("metrics.json", json.dumps(metrics, indent=2), file_name=f"{run_id}_metrics.json", mime="application/json",
                            icon=":material/download:", key="res:metrics_json", on_click="ignore", disabled=not metrics)
    actions.download_button("Trained model (zip)", lambda: model_zip(mgr.store.get(run_id)), file_name=f"{run_id}_model.zip", mime="application/zip",
                            icon=":material/download:", key="res:model_zip", on_click="ignore", disabled=not run.has_model(),
                            help="Encoder (sentence-transformers format) + classification head; load with threephase_core.load_classifier.")
    # Keyed by run: after a delete the next run's popover starts closed, so a second click cannot
    # delete it without a new confirmation.
    with actions.popover("Delete this run", icon=":material/delete:", disabled=training, key=f"res:delete_pop:{run_id}"):
        st.caption(f"Deletes {run_id}: its model, embeddings and metrics. This cannot be undone.")
        st.button("Delete", type="primary", key=f"res:delete_one:{run_id}", on_click=delete, args=([run_id],))


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
