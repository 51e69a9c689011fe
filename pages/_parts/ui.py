"""Streamlit plumbing shared by the pages: the job manager, the workbench state that survives
page switches, and a few display helpers (the cached datasets: `data_cache`).

State. A setting lives in ``st.session_state`` under a ``wb.*`` key (see `DEFAULTS`); a widget
showing it is created with `bind`, which loads the ``wb.*`` value into the widget before it
is drawn and copies it back on change. So the Data page's choice and the Imbalance page's
ratios reach the Train page, and come back after any page switch (Streamlit drops the state
of widgets that are not on the current page; the ``wb.*`` keys are not widgets). After every
run app.py saves them under the runs folder (`persist_state`); a new browser session starts
from that file, so a refresh keeps the settings.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import streamlit as st

from pages._parts import form
from threephase_core.config import spec
from threephase_core.runstore import RunStore, default_runs_dir
from threephase_core.workbench import sessions
from threephase_core.workbench.datasets import dataset_label, prune_uploads
from threephase_core.workbench.job_managers import manager_for
from threephase_core.workbench.runs import runs_dir_problem
from threephase_core.workbench.settings import clean_settings, load_settings, save_settings

DEFAULTS: dict[str, Any] = {
    **form.config_defaults(),  # data, model, recipe, seeds, imbalance, noise and run-wide settings
    "wb.source": "demo",
    "wb.model_path": "",
    "wb.model_hub": "",
    "wb.run": None,  # the run shown on the Embeddings and Results pages
}


NOT_PERSISTED = {"wb.run", "wb._restored", "wb._session"}  # the shown run is per tab; the session id its own


def users_mode() -> str:
    """'single' or 'shared' (`workbench.sessions`); a value it cannot read counts as shared, the
    safer reading (the sidebar says so)."""
    try:
        return sessions.users_mode()
    except ValueError:
        return "shared"


def session_id() -> str:
    """This browser session's id (who queued a run). On a shared server it is kept in the page's
    address (``?session=…``), so that a refresh is the same session, with its own settings and runs."""
    ss = st.session_state
    if "wb._session" not in ss:
        given = st.query_params.get("session")
        shared = users_mode() == "shared"
        ss["wb._session"] = given if shared and sessions.valid_session_id(given) else sessions.new_session_id()
    if users_mode() == "shared" and st.query_params.get("session") != ss["wb._session"]:
        st.query_params["session"] = ss["wb._session"]  # a page switch clears the address's parameters
    return ss["wb._session"]


def own_session() -> str | None:
    """The session id settings are saved under: this session's on a shared server, else none
    (one person: the last settings are theirs)."""
    return session_id() if users_mode() == "shared" else None


def init_state() -> None:
    """Defaults for every ``wb.*`` setting; a new browser session (a refresh, a new tab) first
    takes the settings saved last (`persist_state`): on a shared server its own, when it has any."""
    session_id()
    if "wb._restored" not in st.session_state:
        saved = clean_settings(
            load_settings(default_runs_dir(), own_session()), DEFAULTS, setting_choices(), form.LIMITS
        )
        for key, value in saved.items():
            if key.startswith("wb.") and key not in NOT_PERSISTED and key not in st.session_state:
                st.session_state[key] = value
        st.session_state["wb._restored"] = True
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = dict(value) if isinstance(value, dict) else value


def setting_choices() -> dict[str, list]:
    """The values a choice setting can take (a saved value outside them is dropped)."""
    from threephase_core.recipes import RECIPES

    return {
        "wb.recipe": list(RECIPES),
        "wb.preset": [*spec("cl.imbalance").choices, "custom"],
        "wb.source": ["demo", "folder", "upload", "hub"],
        "wb.model_kind": ["minilm", "tiny", "path", "hub"],
        "wb.device": list(spec("device").choices),
    }


def persist_state() -> None:
    """Save the ``wb.*`` settings under the runs folder when they changed (after each run of
    the script), so that they survive a browser refresh."""
    values = {k: v for k, v in st.session_state.items() if k.startswith("wb.") and k not in NOT_PERSISTED}
    if values != st.session_state.get("_wb.saved"):
        try:
            st.session_state["_wb.saved"] = save_settings(values, default_runs_dir(), own_session())
        except OSError:  # a read-only runs folder: settings just do not persist
            st.session_state["_wb.saved"] = values


def bind(widget: Callable, label: str, name: str, *, page: str, on_change: Callable | None = None, **kw) -> Any:
    """Draw `widget` showing the workbench setting `name` (a ``wb.*`` key); see the module doc."""
    wkey = f"{page}:{name}"
    if name not in st.session_state:
        st.session_state[name] = DEFAULTS.get(name)
    st.session_state[wkey] = st.session_state[name]

    def copy_back() -> None:
        st.session_state[name] = st.session_state[wkey]
        if on_change is not None:
            on_change()

    return widget(label, key=wkey, on_change=copy_back, **kw)


def bump(key: str) -> None:
    """Button callback: count `key` up (buttons here act through callbacks, which run before
    the script)."""
    st.session_state[key] = st.session_state.get(key, 0) + 1


# ---- engine objects -------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _manager(runs_dir: str):
    return manager_for(runs_dir)


def manager():
    """The process's job manager (one per runs folder); survives reruns, refreshes, tabs, and a
    cleared cache (the workbench registry keeps it, so a running job is never orphaned)."""
    mgr = _manager(str(default_runs_dir().resolve()))
    if not mgr.alive:  # shut down (tests do): take a fresh one
        _manager.clear()
        mgr = _manager(str(default_runs_dir().resolve()))
    return mgr


def store() -> RunStore:
    return manager().store


def runs_dir_warning() -> None:
    """On every page: say so when the runs folder cannot hold runs (a file in the way, no write
    permission), before a Start or an upload finds out."""
    problem = runs_dir_problem(store().root)
    if problem:
        st.error(problem, icon=":material/folder_off:")


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Once per process: compile UMAP's numba code and import torch in the background, so the
    first Embeddings map and the first Imbalance pair count do not wait for them; keep the
    libraries' loading reports out of the server log."""
    from threephase_core.cli import quiet_libraries
    from threephase_core.projection import warm_up_umap

    quiet_libraries()
    warm_up_umap(background=True)
    try:  # uploads no run used, untouched for 30 days
        prune_uploads(default_runs_dir(), keep={str(st.session_state.get("wb.dataset", {}).get("spec", ""))})
    except OSError:
        pass

    def imports() -> None:
        try:
            import threephase_core.phases.contrastive  # noqa: F401  (torch, sentence-transformers)
        except Exception:
            pass

    threading.Thread(target=imports, name="import-warm-up", daemon=True).start()
    return True


@st.cache_resource(show_spinner=False)
def device_label() -> str:
    from threephase_core.device_info import device_label as label

    return label()


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def _classifier(model_dir: str, stamp: float, device: str):
    from threephase_core.classifier import load_classifier

    return load_classifier(model_dir, device=device)


def classifier(run):
    """The run's saved classifier on the session's device, loaded once per model and device (a
    retrained folder has a new classifier.json time, so it is loaded again). Raises ModelError
    for a damaged model."""
    stamp = (run.model_dir / "classifier.json").stat().st_mtime
    return _classifier(str(run.model_dir), stamp, str(st.session_state.get("wb.device", "auto")))


def model_spec() -> str:
    kind = st.session_state.get("wb.model_kind", "minilm")
    if kind == "path":
        return (st.session_state.get("wb.model_path") or "").strip()
    if kind == "hub":
        return (st.session_state.get("wb.model_hub") or "").strip()
    return kind


# ---- display --------------------------------------------------------------------------
STATE_BADGE = {
    "queued": ("Queued", "gray"),
    "running": ("Running", "blue"),
    "done": ("Done", "green"),
    "failed": ("Failed", "red"),
    "cancelled": ("Cancelled", "orange"),
    "interrupted": ("Interrupted", "orange"),
}


def header(title: str, subtitle: str) -> None:
    st.title(title)
    st.caption(subtitle)


def legend(names: list[str]) -> None:
    """Class colours as one compact row (the maps themselves carry no legend)."""
    from pages._parts.charts import class_colors

    colors = class_colors(names)
    items = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:0 14px 4px 0;font-size:0.85rem;">'
        f'<span style="width:11px;height:11px;border-radius:50%;background:{colors[n]};display:inline-block;'
        f'margin-right:6px;"></span>'
        f"{html.escape(n)}</span>"
        for n in names
    )
    st.markdown(f'<div style="display:flex;flex-wrap:wrap;">{items}</div>', unsafe_allow_html=True)


def split_warnings(class_counts: dict, lead: str = "") -> list[str]:
    """The engine's small-split warnings (`split_size.split_size_warnings`) as one warning box,
    after `lead`; returns them (empty: nothing drawn)."""
    from threephase_core.split_size import split_size_warnings

    found = split_size_warnings(class_counts)
    if found:
        items = "\n".join(f"- {message}" for message in found)
        st.warning(f"{lead or 'Too few texts to tell recipes apart.'}\n\n{items}", icon=":material/straighten:")
    return found


def words_html(words: list[tuple[str, bool]]) -> str:
    """Kept words plain, deleted ones struck through in red."""
    out = []
    for word, kept in words:
        w = html.escape(word)
        out.append(w if kept else f'<span style="color:#dc2626;text-decoration:line-through;opacity:0.75;">{w}</span>')
    return " ".join(out)


def run_label(row: dict) -> str:
    acc = row.get("test_acc")
    acc_s = f" · test {acc:.1%}" if isinstance(acc, float) and acc == acc else ""
    return (
        f"{row['recipe']} · {row['dataset']} · {row['model']} · seed {row['seed']}{acc_s} · {row['state']} · "
        f"{row['run'][:15]}"
    )


def pct(x) -> str:
    return "–" if x is None or x != x else f"{x:.1%}"


def job_caption(status: dict) -> str:
    from pages._parts.estimate_view import job_caption as caption

    return caption(status)


# Streamlit cuts a label that does not fit its box with an ellipsis ("CPU (2 cor…", "Clear q…"):
# metric labels and values, button and link labels, widget labels, segmented controls and pills
# (whose row of options scrolls out of sight in a narrow column). Here they wrap instead (a
# long word still breaks rather than overflow), and metric values shrink with the window.
NO_CLIPPING_CSS = """
<style>
[data-testid="stMetricLabel"] *, [data-testid="stMetricValue"], [data-testid="stMetricValue"] *,
[data-testid="stWidgetLabel"] *, [data-testid="stPageLink"] *, button [data-testid="stMarkdownContainer"],
button [data-testid="stMarkdownContainer"] * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  overflow-wrap: break-word;
}
[data-testid="stMetricValue"] { font-size: clamp(1.3rem, 2.1vw, 2.25rem); line-height: 1.2; }
button[kind] { height: auto; min-height: 2.5rem; }
[data-testid="stButtonGroup"] > div:last-child { flex-wrap: wrap; row-gap: 0.25rem; overflow: visible; }
</style>
"""


def shared_note() -> None:
    """On a shared server: which session this browser is, and what that allows."""
    if users_mode() != "shared":
        return
    try:
        sessions.users_mode()
    except ValueError as exc:
        st.error(f"{exc}. Running as a shared server.", icon=":material/error:")
    st.caption(
        f"Shared server · this browser is session **{session_id()}**: your settings are your own; runs and "
        "the queue are everyone's, and you can stop only the runs you queued."
    )


def page_style() -> None:
    """The workbench's few CSS rules (`NO_CLIPPING_CSS`), on every page."""
    st.html(NO_CLIPPING_CSS)


def sidebar_status() -> None:
    """Device and the running job in the sidebar of every page; polls only while a job is on.
    (It also sets the page style: app.py calls it on every page.)"""
    page_style()
    with st.sidebar:
        st.caption(f"Device: **{device_label()}**")
        shared_note()
        mgr = manager()
        pending = bool(mgr.pending())

        @st.fragment(run_every=2.0 if pending else None)
        def _status() -> None:
            jobs = mgr.pending()
            if not jobs:
                if pending:
                    st.rerun()
                st.caption("No job running.")
                return
            job = next((j for j in jobs if j.state == "running"), jobs[0])
            s = job.status()
            st.progress(
                min(max(s["fraction"], 0.0), 1.0),
                text=f"{job.config.recipe} · {dataset_label(job.config.dataset)} — {job_caption(s)}",
            )
            if len(jobs) > 1:
                st.caption(f"{len(jobs) - 1} more in the queue")

        _status()
