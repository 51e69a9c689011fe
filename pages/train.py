"""Train: set up a run (model, recipe, per-phase settings), queue it, and watch it live.

Jobs run in the process's JobManager (a background thread); this page only submits, cancels
and polls. A refresh or a second tab finds the same manager, so it re-attaches to the job.
"""

from __future__ import annotations

import streamlit as st

from pages._parts import charts, data_cache, estimate_view, nav, ui
from pages._parts.form import FIELDS, LIMITS, PAIR_ONLY, PHASE_TABS, WORKBENCH_SETTINGS, data_limits, setting_name
from pages._parts.train_queue import apply_gpu_preset, clear_queue, command_preview, queue, stop
from threephase_core.config import IMBALANCE_PRESETS, spec
from threephase_core.jobs import gpu_devices
from threephase_core.recipes import RECIPES
from threephase_core.workbench.datasets import dataset_label
from threephase_core.workbench.models import model_label
from threephase_core.workbench.previews import ratio_problem
from threephase_core.workbench.run_details import loss_frame
from threephase_core.workbench.runs import fmt_seconds
from threephase_core.workbench.sessions import owner_text
from threephase_core.workbench.settings import (
    device_choices,
    parse_seeds,
    recipe_defaults,
    recipe_fixed_fields,
    setting_fits,
)

PAGE = "train"
MODELS = {
    "minilm": "MiniLM-L6 (packaged, default)",
    "tiny": "Tiny random BERT (fast demo)",
    "path": "Local model folder",
    "hub": "Hugging Face hub id",
}
HELP = {
    "dae.epochs": "One epoch is one pass over the training texts, so the number of steps grows with the data.",
    "dae.decoder_lr": "The decoder's own weights (its fresh cross-attention) learn at this rate; at the encoder's "
    "rate they never learn to read the sentence vector. Chosen on validation (bench/phase_effect.py --sweep dae).",
    "dae.bottleneck": "pooled: the decoder reads the pooled vector before the encoder's Normalize module; "
    "normalized: the unit-length embedding. pooled was chosen on validation.",
    "dae.joint_weight": "Joint trains on L_CL + weight × L_DAE. The DAE loss is a cross-entropy of several nats and "
    "the pair loss is below 1, so the weight puts the two on comparable scales.",
    "cl.epochs": "The pairs grow with the data (augmentation × ⌊log2 classes⌋ × corrected rows, half of them "
    "positive), so one epoch's steps are a rule of the data's size rather than a fixed number.",
    "cl.lr": "1e-4 was chosen on validation on the demo and held on 2,000 rows of snips2 "
    "(bench/phase_effect.py --sweep cl).",
    "cl.positives": "balanced: each class gets positive pairs in proportion to its corrected size (chosen on "
    "validation); paper: in proportion to its size squared, so small classes get almost none.",
    "dae.noise_ratio": "Also on the Imbalance & noise page.",
    "cl.augmentation": "Pairs are drawn augmentation × ⌊log2(classes)⌋ times. Also on the Imbalance & noise page.",
    "cl.loss": "cosine: the paper's Siamese pairs; supcon / simclr: the companion study's losses on dropout views.",
    "ft.head_input_norm": "A LayerNorm without weights on the embedding before the head. Unit-length sentence "
    "embeddings are too small for a fresh head to learn from quickly; off reproduces results from before it.",
    "ft.patience": "Stop after this many epochs without a better validation accuracy; the best epoch is kept.",
}


def field(recipe: str, key: str, label: str, kind: str, opts, fixed: set[str], base, ds=None) -> None:
    name = setting_name(recipe, key)
    opts, data_note, off = data_limits(key, opts, ds)  # ft.level: the chosen data's label levels
    bounds, choices = (None, opts) if kind == "choice" else (opts, None)  # opts: a number's range or the choices
    if (
        name not in st.session_state
        or key in fixed
        or not setting_fits(st.session_state[name], base.get(key), bounds, choices)
    ):
        st.session_state[name] = base.get(key)  # new, set by the recipe, or a saved value the widget cannot show
    unused = (
        key in PAIR_ONLY
        and "cl" in base.phases
        and st.session_state.get(setting_name(recipe, "cl.loss"), base.cl.loss) != "cosine"
    )
    why = ("Set by this recipe. " if key in fixed else "") + (
        "Not used by this loss: SupCon and SimCLR train on dropout views of each text, not on pairs. "
        if unused
        else ""
    )
    kw = {"page": PAGE, "disabled": key in fixed or unused or off, "help": why + data_note + HELP.get(key, "") or None}
    if kind == "int":
        ui.bind(st.number_input, label, name, min_value=opts[0], max_value=opts[1], step=1, **kw)
    elif kind == "float":
        ui.bind(st.number_input, label, name, min_value=opts[0], max_value=opts[1], step=0.05, format="%.2f", **kw)
    elif kind == "lr":
        ui.bind(st.number_input, label, name, min_value=opts[0], max_value=opts[1], step=1e-5, format="%.1e", **kw)
    elif kind == "bool":
        ui.bind(st.checkbox, label, name, **kw)
    else:
        ui.bind(st.selectbox, label, name, options=list(opts), **kw)


def number_setting(name: str, step: int, **kw) -> None:
    """A number input for a workbench-wide setting, with its config setting's label and limits."""
    low, high = LIMITS[name]
    ui.bind(
        st.number_input,
        spec(WORKBENCH_SETTINGS[name]).label,
        name,
        page=PAGE,
        min_value=low,
        max_value=high,
        step=step,
        **kw,
    )


def render() -> None:
    """The live job panel, the run set-up (data, model, recipe, seeds, phase settings), and Start / Queue all."""
    ui.header("Train", "Queue a recipe; it trains in the background while you keep using the workbench.")
    mgr = ui.manager()
    choice, ds, data_error = data_cache.current_dataset()
    pending_ids = tuple(j.id for j in mgr.pending())

    @st.fragment(run_every=1.0 if pending_ids else None)
    def live() -> None:
        """The focused job (the running one, else the last queued here): phases, losses, queue."""
        jobs = mgr.jobs()
        if tuple(j.id for j in mgr.pending()) != pending_ids:
            st.rerun()  # a job started or ended: redraw the whole page (buttons, queue, polling)
        focus = (
            mgr.active() or next((j for j in jobs if j.id == st.session_state.get("train.focus")), None) or jobs[-1]
        )
        s = focus.status()
        label, color = ui.STATE_BADGE.get(s["state"], (s["state"], "gray"))
        with st.container(border=True):
            head, badge, stop_col, clear_col = st.columns([5, 0.8, 1, 1.2], vertical_alignment="center")
            head.markdown(
                f"#### {focus.config.recipe} · {dataset_label(focus.config.dataset)} · "
                f"{model_label(focus.config.model)} · seed {focus.config.seed}"
            )
            badge.badge(label, color=color)
            stop_col.button(
                "Stop",
                icon=":material/stop:",
                width="stretch",
                key="train:stop",
                on_click=stop,
                disabled=mgr.active() is None,
                help="Stop the running job at its next step; finished phases stay on disk.",
            )
            clear_col.button(
                "Clear queue",
                icon=":material/clear_all:",
                width="stretch",
                key="train:clear",
                on_click=clear_queue,
                disabled=not any(j.state == "queued" for j in mgr.pending()),
                help="Remove the runs waiting in the queue.",
            )
            left = estimate_view.remaining_text(s)
            st.caption(
                f"Run folder `{focus.run.path}` · elapsed {fmt_seconds(s['elapsed_s'])}"
                + (f" · **{left}** (whole run)" if left else "")
            )
            if s.get("lora"):
                lo = s["lora"]
                st.caption(
                    f":material/tune: LoRA trains {lo['trainable_params']:,} of {lo['total_params']:,} encoder "
                    f"parameters ({lo['trainable_share']:.2%})."
                )
            cols = st.columns(len(focus.config.phases))
            for col, phase in zip(cols, focus.config.phases, strict=True):
                if phase in s["phases_done"]:
                    col.progress(1.0, text=f"**{phase.upper()}** · done in {fmt_seconds(s['phase_walls'].get(phase))}")
                elif phase == s["phase"] and s["state"] == "running":
                    eta = f" · ETA {fmt_seconds(s['eta_s'])}" if s["eta_s"] is not None else ""
                    col.progress(
                        min(s["fraction"], 1.0), text=f"**{phase.upper()}** · step {s['step']}/{s['total']}{eta}"
                    )
                else:
                    col.progress(
                        0.0,
                        text=(
                            f"**{phase.upper()}** · {'waiting' if s['state'] in ('queued', 'running') else 'not run'}"
                        ),
                    )
            if s["state"] == "failed":
                st.error(f"The run failed: {s['message']}", icon=":material/error:")
            elif s["state"] == "cancelled":
                st.warning(f"Stopped: {s['message'] or 'cancelled'}.", icon=":material/stop_circle:")
            elif s["state"] == "done":
                st.success("Done. The maps of each phase and the scores are ready.", icon=":material/check_circle:")
                a, b, _ = st.columns([1, 1, 3])
                a.page_link(nav.page("embeddings"), label="Embedding maps", icon=":material/scatter_plot:")
                b.page_link(nav.page("results"), label="Results", icon=":material/leaderboard:")
            losses = loss_frame(s["losses"])
            if len(losses):
                st.plotly_chart(
                    charts.loss_curves(losses, list(focus.config.phases), s["evals"], height=230),
                    key="train_loss",
                    config={"displayModeBar": False},
                )
            elif s["state"] in ("queued", "running"):
                st.caption(
                    ":material/hourglass_top: Loading the data and the model; loss curves appear with the first steps."
                )
        if len(jobs) > 1:
            with st.expander(f"Queue and earlier runs of this session ({len(jobs)})", expanded=len(pending_ids) > 1):
                rows = []
                for j in reversed(jobs):
                    js = j.status()
                    rows.append(
                        {
                            "#": j.id,
                            "state": js["state"],
                            "recipe": j.config.recipe,
                            "dataset": dataset_label(j.config.dataset),
                            "model": model_label(j.config.model),
                            "seed": j.config.seed,
                            "now": ui.job_caption(js),
                            "queued by": owner_text(j.owner, ui.session_id()),
                            "run": j.run.id,
                        }
                    )
                st.dataframe(rows, hide_index=True, width="stretch")

    if mgr.jobs():
        live()
    else:
        st.caption(
            "No run in this workbench session yet: set one up below. Past runs are on the Results and Embeddings "
            "pages."
        )

    st.subheader("New run")
    if ds is not None:  # small validation/test splits: the scores of this data cannot rank recipes
        ui.split_warnings(
            ds.summary()["class_counts"], "Too few texts to tell recipes apart (split sizes: Data page)."
        )
    c1, c2, c3 = st.columns([1.1, 1.2, 1], gap="large")
    with c1:
        st.markdown("**Data and model**")
        with st.container(border=True):
            if data_error:
                st.error(f"Dataset: {data_error}", icon=":material/error:")
            else:
                st.markdown(
                    f"Dataset **{dataset_label(choice['spec'])}** · {len(ds.train):,} train rows · {ds.num_classes} "
                    "classes"
                )
            st.page_link(nav.page("data"), label="Change the data", icon=":material/table:")
        kind = ui.bind(
            st.radio,
            "Model",
            "wb.model_kind",
            page=PAGE,
            options=list(MODELS),
            format_func=MODELS.get,
            help=(
                "The packaged MiniLM works offline. The tiny random BERT only shows the machinery (its accuracy "
                "means nothing)."
            ),
        )
        if kind == "path":
            ui.bind(
                st.text_input,
                "Model folder",
                "wb.model_path",
                page=PAGE,
                placeholder="/path/to/sentence-transformers-model",
            )
        elif kind == "hub":
            ui.bind(
                st.text_input,
                "Hub id",
                "wb.model_hub",
                page=PAGE,
                placeholder="sentence-transformers/all-MiniLM-L12-v2",
            )
    with c2:
        st.markdown("**Recipe**")
        paper = [n for n, r in RECIPES.items() if r.group == "paper"]
        study = [n for n, r in RECIPES.items() if r.group != "paper"]
        recipe = ui.bind(
            st.selectbox,
            "Recipe",
            "wb.recipe",
            page=PAGE,
            options=paper + study,
            format_func=lambda n: f"{n}  ({'paper' if RECIPES[n].group == 'paper' else 'companion study'})",
        )
        r = RECIPES[recipe]
        st.markdown(" → ".join(f"`{p.upper()}`" for p in r.phases))
        st.caption(r.description)
        ui.bind(
            st.text_input,
            "Seeds",
            "wb.seeds",
            page=PAGE,
            help="One run per seed: 0, or 0,1,2, or 0-4. Several seeds give the mean ± std on the Results page.",
        )
    with c3:
        st.markdown("**Run**")
        devices = device_choices(len(gpu_devices()), "CPU" not in ui.device_label())
        if st.session_state["wb.device"] not in devices:
            st.session_state["wb.device"] = "auto"
        ui.bind(
            st.selectbox,
            "Device",
            "wb.device",
            page=PAGE,
            options=devices,
            help=f"auto picks the GPU when there is one; all N GPUs: one run on every GPU (data parallel, "
            f"batch sizes per GPU). This machine: {ui.device_label()}.",
        )
        on_gpu = "CPU" not in ui.device_label() and st.session_state["wb.device"] != "cpu"
        st.button(
            "GPU speed settings",
            icon=":material/bolt:",
            key="train:gpu_preset",
            on_click=apply_gpu_preset,
            args=(recipe,),
            disabled=not on_gpu or bool(data_error),
            help="Batch sizes and learning rates for this dataset's size and this GPU's memory: on large data "
            "(30k+ rows) big batches with rates tuned on validation, since on a GPU a small model's step costs about "
            "the same at batch 32 as at 512 (see README, Performance); on small data an untuned starting point."
            + ("" if on_gpu else " Needs a GPU."),
        )
        number_setting("wb.max_steps", 5, help="Caps every phase: a quick look at the machinery, not a real result.")
        with st.expander("Size limits"):
            number_setting("wb.max_length", 16)
            number_setting(
                "wb.max_train_rows", 1000, help="A stratified sample of the training split, for CPU runs on big data."
            )
            number_setting("wb.embed_rows", 500)

    base = recipe_defaults(recipe)
    fixed = recipe_fixed_fields(recipe)
    tabs = st.tabs([PHASE_TABS[p] for p in base.phases])
    for tab, phase in zip(tabs, base.phases, strict=True):
        with tab:
            cols = st.columns(4)
            for i, (key, label, kind_, opts) in enumerate(FIELDS[phase]):
                with cols[i % 4]:
                    field(recipe, key, label, kind_, opts, fixed, base, ds)
            if phase in ("cl", "joint"):
                if phase == "cl" and st.session_state.get(setting_name(recipe, "cl.loss"), base.cl.loss) == "simclr":
                    st.caption("No imbalance correction: SimCLR uses no labels.")
                elif "cl.imbalance" in fixed:
                    st.caption(
                        f"Imbalance correction: **{base.cl.imbalance}** {IMBALANCE_PRESETS[base.cl.imbalance]}, set "
                        "by this recipe."
                    )
                else:
                    r_min, r_max = float(st.session_state["wb.min_ratio"]), float(st.session_state["wb.max_ratio"])
                    paper = "" if st.session_state["wb.preset"] == "normal" else " The paper's method uses **normal**."
                    st.caption(
                        f"Imbalance correction: **{st.session_state['wb.preset']}** (r_min {r_min:g}, r_max "
                        f"{r_max:g}), "
                        f"from the Imbalance & noise page.{paper}"
                    )
                    ratio_warning = ratio_problem(r_min, r_max)
                    if ratio_warning:
                        st.warning(ratio_warning, icon=":material/warning:")
                st.page_link(nav.page("imbalance"), label="Tune imbalance and noise", icon=":material/tune:")

    b1, b2, _ = st.columns([1, 1.3, 2])
    b1.button(
        "Start",
        type="primary",
        icon=":material/play_arrow:",
        width="stretch",
        key="train:start",
        on_click=queue,
        args=([recipe],),
        help="Queue this recipe (one run per seed). Runs go one at a time.",
    )
    paper_recipes = [n for n, rr in RECIPES.items() if rr.group == "paper"]
    b2.button(
        f"Queue all {len(paper_recipes)} paper recipes",
        icon=":material/playlist_add:",
        width="stretch",
        key="train:ablation",
        on_click=queue,
        args=(paper_recipes, recipe),
        help="The paper's method and ablations with these seeds and the settings on screen (each recipe takes the "
        "ones its phases have, except what it fixes itself, like extra_imb's imbalance preset): fills the Results "
        "comparison.",
    )
    try:
        n_seeds = len(parse_seeds(st.session_state["wb.seeds"]))
        st.caption(
            f"Start queues {n_seeds} run{'s' if n_seeds > 1 else ''} (one per seed); "
            f"Queue all queues {n_seeds * len(paper_recipes)} ({len(paper_recipes)} recipes × {n_seeds} "
            f"seed{'s' if n_seeds > 1 else ''})."
        )
    except ValueError as exc:
        st.caption(f":material/warning: Seeds: {exc}")
    if ds is not None:
        st.caption(estimate_view.start_estimate(recipe, ds))
    with st.expander("Command line", icon=":material/terminal:"):
        command, why_not = command_preview(recipe)
        if command:
            st.caption("The same run from a terminal (first seed), to copy:")
            st.code(command, language="bash")
        else:
            st.caption(f":material/warning: No command yet: {why_not}")
    if st.session_state.get("train.error"):
        st.error(st.session_state.pop("train.error"), icon=":material/error:")
    if st.session_state.get("train.notice"):
        st.toast(st.session_state.pop("train.notice"))


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
