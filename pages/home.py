"""Home: the method in three sentences, a one-click demo run, and the latest runs."""

from __future__ import annotations

import streamlit as st

from pages._parts import estimate_view, nav, ui
from threephase_core import workbench as wb

INTRO = (
    "**The method in three sentences.** "
    "First, a denoising auto-encoder (TSDAE) teaches the encoder your domain by rebuilding each sentence from "
    "a copy with most of its words deleted, without any labels. "
    "Second, supervised contrastive learning pulls texts of the same class together and pushes other classes "
    "apart, on pairs drawn after oversampling the small classes. "
    "Third, a small classification head is fine-tuned together with the encoder, and the best epoch is chosen "
    "on the validation split."
)
PAPER = (
    "López-Ávila & Suárez-Paniagua, *Combining Denoising Autoencoders with Contrastive Learning to fine-tune "
    "Transformer Models*, EMNLP 2023."
)


def demo_config():
    """The run the demo button queues: 3-Phase on the demo data with the Train page's model,
    device and step cap (the button says so when a cap is set). ConfigError for a bad choice."""
    from threephase_core.recipes import build_config

    return build_config(
        "three_phase",
        {
            "dataset": "demo",
            "model": ui.model_spec(),
            "device": st.session_state["wb.device"],
            "max_steps": int(st.session_state["wb.max_steps"]),
        },
    )


def start_demo() -> None:
    """Queue the 3-Phase recipe on the demo data with the workbench's model and run size."""
    from threephase_core.config import ConfigError

    model = ui.model_spec()
    problem = wb.model_choice_problem(st.session_state["wb.model_kind"], model)
    if problem:
        st.session_state["home.error"] = f"Model (chosen on the Train page): {problem}"
        return
    try:
        job = ui.manager().submit(demo_config(), owner=ui.session_id())
    except (ConfigError, ValueError) as exc:
        st.session_state["home.error"] = str(exc)
        return
    except OSError as exc:
        root = ui.store().root
        st.session_state["home.error"] = (
            wb.runs_dir_problem(root) or f"cannot create a run folder in {root}: {exc.strerror or exc}"
        )
        return
    st.session_state["wb.run"] = job.run.id
    st.session_state["home.started"] = True


def demo_label(cap: int) -> str:
    """The button's words; a step cap from the Train page is stated on it, never applied quietly."""
    return "Run 3-Phase on the demo data" + (f" · {cap} steps per phase" if cap else "")


def demo_panel(runs) -> None:
    """The device, the run count, the button that queues 3-Phase on the demo data, how long it
    will take here, and the job on now."""
    from threephase_core.config import ConfigError

    mgr = ui.manager()
    m1, m2 = st.columns([2, 1])
    device = ui.device_label()
    m1.metric("Device", device if len(device) <= 18 else device.replace("NVIDIA ", ""), border=True, help=device)
    queued = mgr.pending()
    m2.metric(
        "Runs on disk", len(runs), delta=f"{len(queued)} in queue" if queued else None, delta_color="off", border=True
    )
    model = wb.model_label(ui.model_spec())
    cap = int(st.session_state.get("wb.max_steps") or 0)
    st.button(
        demo_label(cap),
        type="primary",
        icon=":material/play_arrow:",
        width="stretch",
        on_click=start_demo,
        key="home:start",
        help=f"Queues DAE → CL → FT on the bundled demo dataset with {model} (the model chosen on the Train page).",
    )
    if st.session_state.get("home.error"):
        st.error(st.session_state.pop("home.error"), icon=":material/error:")
    try:
        estimate = estimate_view.demo_estimate(demo_config())
    except ConfigError:
        estimate = ""
    capped = (
        f" Capped at {cap} steps per phase (the Train page's step cap): a quick look, not a result." if cap else ""
    )
    st.caption(f"{estimate} Model: {model}.{capped} Runs train in the background; watch them on the Train page.")
    job = next((j for j in queued if j.state == "running"), queued[0] if queued else None)
    if job is not None:
        status = job.status()
        st.info(
            f"**{job.config.recipe} · {wb.dataset_label(job.config.dataset)}**: {estimate_view.job_caption(status)}",
            icon=":material/model_training:",
        )
        st.page_link(nav.page("train"), label="Watch it on the Train page", icon=":material/monitoring:")


def recent_runs(runs) -> None:
    """The last eight runs, with links to their maps and the comparison."""
    st.subheader("Recent runs")
    if not len(runs):
        st.info(
            "No runs yet. Press **Run 3-Phase on the demo data**, or set one up on the Train page.",
            icon=":material/info:",
        )
        return
    from threephase_core.workbench.result_tables import recent_runs_table

    st.dataframe(recent_runs_table(runs.head(8)), hide_index=True, width="stretch")
    a, b = st.columns(2)
    a.page_link(nav.page("embeddings"), label="See the embedding maps", icon=":material/scatter_plot:")
    b.page_link(nav.page("results"), label="Compare all runs", icon=":material/leaderboard:")


def render() -> None:
    if st.session_state.pop("home.started", False):  # the demo was queued: watch it train, before drawing anything
        st.switch_page(nav.page("train"))
    ui.header(
        "threephase workbench",
        "Fine-tune transformer text classifiers with the 3-Phase method, "
        "and see what each phase does to the embedding space.",
    )
    mgr = ui.manager()
    runs = wb.runs_frame(mgr.store, wb.live_status(mgr))
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown(INTRO)
        st.caption(PAPER)
        c1, c2, c3 = st.columns([1, 1.5, 1.2])
        c1.page_link(nav.page("data"), label="Pick the data", icon=":material/table:")
        c2.page_link(nav.page("imbalance"), label="Tune imbalance & noise", icon=":material/tune:")
        c3.page_link(nav.page("train"), label="Train and watch", icon=":material/model_training:")
    with right:
        demo_panel(runs)
    recent_runs(runs)


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
