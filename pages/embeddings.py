"""Embeddings: the same validation texts after each phase, side by side (base → DAE → CL → FT).

PCA is drawn at once; UMAP is computed in a background thread, cached in the run folder
(``projections/umap.npz``) and swapped in when ready, so a restart shows it immediately.
"""
from __future__ import annotations

import math

import streamlit as st

from pages._parts import charts, nav, ui
from threephase_core import workbench as wb

PAGE = "emb"
METHODS = {"umap": "UMAP", "pca": "PCA"}


def delta(value: float, before: float | None, scale: float, fmt: str, tiny: float) -> str | None:
    """The change from the previous phase in display units, or None when it rounds to zero."""
    if before is None or math.isnan(value) or math.isnan(before) or abs(value - before) * scale < tiny:
        return None
    return fmt.format((value - before) * scale)


def render() -> None:
    """Pick a run, then draw its maps (one per phase), polling while it trains or UMAP computes."""
    ui.header("Embeddings", "Each map shows the same validation texts, embedded by the encoder after that phase. Colour = true class.")
    mgr = ui.manager()
    live = wb.live_status(mgr)
    runs = [r for r in mgr.store.list() if r.embedding_phases()]
    rows = {r.id: wb.run_row(r, live) for r in runs}
    pending = [j.run.id for j in mgr.pending()]
    wanted = st.session_state.get("wb.run")
    # A run just started (Home's demo button, Train) has no embeddings until its data and model are
    # loaded: wait for it here instead of falling back to an older run, and redraw when its first map lands.
    waiting = wanted if wanted in pending and wanted not in rows else (pending[0] if pending and not runs else None)
    if waiting:
        @st.fragment(run_every=2.0)
        def wait_for_first_map() -> None:
            try:
                started = mgr.store.get(waiting)
            except KeyError:  # its folder was removed while it waited: say so, do not loop
                st.warning(f"Run {waiting}'s folder is gone; it cannot show maps.", icon=":material/warning:")
                return
            order = [j.run.id for j in mgr.pending()]  # the running job first, then the queue
            if started.embedding_phases() or waiting not in order:
                st.rerun()
            ahead = order.index(waiting)
            now = f"is queued behind {ahead} run{'s' if ahead > 1 else ''}" if ahead else "is loading its data and model"
            st.info(f"Run {waiting} {now}: the base encoder's map appears here once it starts, then one map after each phase.",
                    icon=":material/hourglass_top:")

        wait_for_first_map()
        if runs and st.button("Show an earlier run meanwhile", key="emb:earlier", icon=":material/history:"):
            st.session_state["wb.run"] = runs[0].id
            st.rerun()
        st.stop()
    if not runs:
        st.info("No run has embeddings yet. Start one on the Train page: the base encoder's map appears as soon as the data is loaded.",
                icon=":material/info:")
        st.page_link(nav.page("train"), label="Go to Train", icon=":material/model_training:")
        st.stop()

    ids = list(rows)
    if st.session_state.get("wb.run") not in rows:
        st.session_state["wb.run"] = ids[0]
    c1, c2, c3 = st.columns([3, 1, 1.4], gap="medium")
    with c1:
        run_id = ui.bind(st.selectbox, "Run", "wb.run", page=PAGE, options=ids, format_func=lambda i: ui.run_label(rows[i]))
    run = mgr.store.get(run_id)
    phases, labels, texts = wb.run_points(run)
    names = wb.label_names(run, labels)
    with c2:
        if "emb.method" not in st.session_state:
            st.session_state["emb.method"] = "umap"
        method = ui.bind(st.segmented_control, "Projection", "emb.method", page=PAGE, options=list(METHODS), format_func=METHODS.get, required=True,
                         help="UMAP (cosine) shows neighbourhoods; PCA is the instant linear view. Each phase's map is aligned to the previous one.")
    with c3:
        if "emb.highlight" not in st.session_state or st.session_state["emb.highlight"] not in ["All classes"] + names:
            st.session_state["emb.highlight"] = "All classes"
        highlight = ui.bind(st.selectbox, "Highlight a class", "emb.highlight", page=PAGE, options=["All classes"] + names)

    state = rows[run_id]["state"]
    training = state in wb.ACTIVE_STATES

    umap_pending = method == "umap" and wb.ready_projection(run, "umap") is None and not wb.projection_failure(run, "umap")

    @st.fragment(run_every=1.5 if umap_pending or training else None)
    def maps() -> None:
        try:
            current = mgr.store.get(run_id)
        except KeyError:  # deleted from another tab
            st.rerun()
        now_phases = current.embedding_phases()
        layouts, shown, note = None, method, None
        if method == "umap":
            layouts = wb.ready_projection(current, "umap")
            if layouts is None:
                failure = wb.projection_failure(current, "umap")
                if failure:
                    note = f"UMAP failed ({failure}); showing PCA."
                    if umap_pending and not training:
                        st.rerun()  # redraw the page once, without the polling it started with
                else:
                    wb.request_projection(current, "umap")
                    note = "Computing UMAP in the background (the first map after a start takes longest); PCA meanwhile."
                shown = "pca"
        if now_phases != phases or (method == "umap" and layouts is not None and st.session_state.get("emb.shown") == "pca"):
            st.session_state["emb.shown"] = shown
            st.rerun()  # new phases arrived, or UMAP is ready: redraw the page with them
        st.session_state["emb.shown"] = shown
        if layouts is None:
            layouts = wb.projection(current, "pca")
        if note:
            st.caption(f":material/hourglass_top: {note}")
        for damaged in wb.embedding_notes(current):
            st.warning(damaged, icon=":material/broken_image:")
        shown_phases = [p for p in phases if p in layouts]  # a phase saved with other rows is left out
        if not shown_phases:
            st.info("None of this run's embeddings files can be read, so there is no map to show.", icon=":material/info:")
            return
        ui.legend(names)
        quality = wb.phase_quality(current.metrics, shown_phases)
        cols = st.columns(len(shown_phases), gap="small")
        prev = None
        for col, phase in zip(cols, shown_phases):
            with col:
                title = f"{wb.PHASE_TITLES.get(phase, phase)} · {METHODS[shown]}"
                fig = charts.embedding_map(layouts[phase], labels, texts, names, title, None if highlight == "All classes" else highlight,
                                           height=340 if len(shown_phases) <= 4 else 300)
                st.plotly_chart(fig, key=f"emb_map_{phase}", config={"displayModeBar": False, "scrollZoom": True})
                q = quality[phase]
                a, b = st.columns(2)
                sil, knn = q["silhouette"], q["knn_acc"]
                d_sil = delta(sil, prev and prev["silhouette"], 1, "{:+.3f}", 0.0005)
                d_knn = delta(knn, prev and prev["knn_acc"], 100, "{:+.1f} pt", 0.05)
                a.metric("Silhouette", "–" if math.isnan(sil) else f"{sil:.3f}", delta=d_sil,
                         help="Cosine silhouette of the true classes in the full embedding space (−1 to 1; higher = tighter, better separated).")
                b.metric("kNN acc", "–" if math.isnan(knn) else f"{knn:.1%}", delta=d_knn,
                         help="Leave-one-out 5-nearest-neighbour accuracy (cosine) in the full embedding space.")
                prev = q
        if training:
            st.caption("This run is still training: maps of later phases appear as the phases finish.")

    maps()
    st.caption(
        f"{len(labels):,} validation texts of run `{run_id}`. Hover a point to read its text; drag to pan, scroll to zoom. "
        "Maps are 2-D views of the embeddings; the scores below each map are computed in the full embedding space."
    )


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
