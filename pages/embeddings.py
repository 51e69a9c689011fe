"""Embeddings: the same texts after each phase, side by side (base → DAE → CL → FT), to inspect.

PCA is drawn at once; UMAP is computed in a background thread, cached in the run folder
(``projections/umap.npz``) and swapped in when ready, so a restart shows it immediately.

Inspection (the engine's `threephase_core.inspection` and `neighbours`, figures in
`pages/_parts/maps.py`): a box or lasso selection on any map selects the same texts on every
map and lists them; a clicked or searched text shows its nearest neighbours in each phase; drift,
suspect labels and per-class geometry have a section each. The selection and the picked text are
kept per run as text ids, so they survive switching the projection or the texts shown.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from pages._parts import inspect_sections, label_tree, maps, nav, ui
from threephase_core import inspection as ins
from threephase_core import inspection_maps as imaps
from threephase_core import map_selection
from threephase_core import workbench as wb

PAGE = "emb"
METHODS = {"umap": "UMAP", "pca": "PCA"}
VIEWS = {"validation": "Validation", "training": "Training", "both": "Both"}
DRAG = {"lasso": "Lasso", "select": "Box", "pan": "Pan"}
K_DEFAULT = 10


def delta(value: float, before: float | None, scale: float, fmt: str, tiny: float) -> str | None:
    """The change from the previous phase in display units, or None when it rounds to zero."""
    if before is None or math.isnan(value) or math.isnan(before) or abs(value - before) * scale < tiny:
        return None
    return fmt.format((value - before) * scale)


def choice(widget, label: str, name: str, default, options: list, **kw):
    """A page control whose value survives page switches (an ``emb.*`` key, not saved to disk)."""
    if st.session_state.get(name) not in options:
        st.session_state[name] = default
    return ui.bind(widget, label, name, page=PAGE, options=options, **kw)


def render() -> None:
    """Pick a run, then draw its maps (one per phase), polling while it trains or UMAP computes,
    and the inspection sections below them."""
    ui.header(
        "Embeddings",
        "Each map shows the same texts, embedded by the encoder after that phase. "
        "Select texts on any map to follow them across the phases.",
    )
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
        wait_for(mgr, waiting, runs)
    if not runs:
        st.info(
            "No run has embeddings yet. Start one on the Train page: the base encoder's map appears as "
            "soon as the data is loaded.",
            icon=":material/info:",
        )
        st.page_link(nav.page("train"), label="Go to Train", icon=":material/model_training:")
        st.stop()

    ids = list(rows)
    if st.session_state.get("wb.run") not in rows:
        st.session_state["wb.run"] = ids[0]
    c1, c2, c3 = st.columns([3, 1, 1.4], gap="medium")
    with c1:
        run_id = ui.bind(
            st.selectbox, "Run", "wb.run", page=PAGE, options=ids, format_func=lambda i: ui.run_label(rows[i])
        )
    run = mgr.store.get(run_id)
    has_training = ins.has_training(run)
    with c2:
        method = choice(
            st.segmented_control,
            "Projection",
            "emb.method",
            "umap",
            list(METHODS),
            format_func=METHODS.get,
            required=True,
            help="UMAP (cosine) shows neighbourhoods; PCA is the instant linear view. Each phase's map "
            "is aligned to the previous one.",
        )
    if not has_training:  # a run without training texts shows validation texts (and says so on the control)
        st.session_state["emb.view"] = "validation"
    view = st.session_state.get("emb.view", "validation")
    points = ins.load_points(run, view)
    names = wb.label_names(run, points.labels)
    with c3:
        highlight = choice(st.selectbox, "Highlight a class", "emb.highlight", "All classes", ["All classes"] + names)
    d1, d2, d3, d4 = st.columns([1.6, 1.4, 1.2, 1.2], gap="medium")
    with d1:
        colourings = [m for m in maps.COLOURINGS if points.proba is not None or m not in maps.NEEDS_PROBA]
        colouring = choice(
            st.selectbox,
            "Colour by",
            "emb.colour",
            "class",
            colourings,
            format_func=maps.COLOURINGS.get,
            help="FT prediction, correct/wrong and confidence come from the run's fine-tuned classifier; "
            "drift is the share of a text's nearest neighbours replaced since the previous phase.",
        )
        level = label_tree.level_picker(run) if colouring == "class" else 0  # labels with levels only
    with d2:
        choice(
            st.segmented_control,
            "Texts",
            "emb.view",
            "validation",
            list(VIEWS),
            format_func=VIEWS.get,
            required=True,
            disabled=not has_training,
            help="Validation texts (unseen in training), training texts, or both (training texts faded)."
            + ("" if has_training else " This run saved no training-text embeddings."),
        )
    with d3:
        dragmode = choice(
            st.segmented_control,
            "Drag to",
            "emb.drag",
            "lasso",
            list(DRAG),
            format_func=DRAG.get,
            required=True,
            help="Lasso or box: select texts (the same texts light up on every map). Click one point to pick it. "
            "Double-click a map to clear. Pan: move the map; scroll to zoom.",
        )
    with d4:
        k = st.slider(
            "Neighbours (k)",
            1,
            ins.K_MAX,
            st.session_state.get("emb.k", K_DEFAULT),
            key="emb:k",
            help="How many nearest neighbours (cosine, full embedding space) the table, drift and "
            "neighbour lists use.",
        )
        st.session_state["emb.k"] = k
    for note in points.notes:
        st.caption(f":material/info: {note}")

    state = rows[run_id]["state"]
    training = state in wb.ACTIVE_STATES
    umap_layouts, umap_failure = layouts_for(run, points, "umap", request=False) if method == "umap" else ({}, None)
    umap_pending = umap_layouts is None and not umap_failure
    st.session_state["emb._fragment"] = False
    options = dict(
        mgr=mgr,
        run_id=run_id,
        method=method,
        view=points.view,
        colouring=colouring,
        highlight=highlight,
        dragmode=dragmode,
        k=k,
        training=training,
        level=level,
    )
    if umap_pending or training:  # a fragment polls for new phases and for UMAP
        st.fragment(run_every=1.5)(draw_maps)(**options)
    else:
        draw_maps(**options)
    st.caption(
        f"{summary(points)} of run `{run_id}`. Hover a point to read its text; scroll to zoom. "
        "Maps are 2-D views of the embeddings; the scores below each map, the neighbours and the drift are computed "
        "in the full embedding space."
    )
    shown = st.session_state.get("emb.shown", method)
    inspect_sections.render(
        run, points, names, k, lambda: layouts_for(run, points, shown, request=False)[0], colouring
    )


def wait_for(mgr, waiting: str, runs) -> None:
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
        st.info(
            f"Run {waiting} {now}: the base encoder's map appears here once it starts, then one map after each phase.",
            icon=":material/hourglass_top:",
        )

    wait_for_first_map()
    if runs and st.button("Show an earlier run meanwhile", key="emb:earlier", icon=":material/history:"):
        st.session_state["wb.run"] = runs[0].id
        st.rerun()
    st.stop()


def summary(points: ins.Points) -> str:
    counts = {s: int((points.split == s).sum()) for s in ("validation", "training")}
    parts = [
        f"{n:,} {s} texts" + (" (faded)" if s == "training" and counts["validation"] else "")
        for s, n in counts.items()
        if n
    ]
    return " and ".join(parts) or "No texts"


def layouts_for(run, points: ins.Points, method: str, request: bool = True) -> tuple[dict | None, str | None]:
    """(layouts of this view's points {phase: (n, 2)} or None while UMAP computes, failure)."""
    if points.view == "validation":
        layouts = wb.ready_projection(run, method) if method == "umap" else wb.projection(run, "pca")
        failure = wb.projection_failure(run, method) if method == "umap" else None
        if layouts is None and request and not failure:
            wb.request_projection(run, method)
    else:
        layouts, failure = imaps.training_projection(run, method, start=request)
        if layouts is not None and points.view == "training":
            layouts = {p: xy[points.ids] for p, xy in layouts.items()}
    if layouts is not None:
        layouts = {p: xy for p, xy in layouts.items() if len(xy) == len(points)}
    return layouts, failure


# ---- selection state (per run, as text ids) ------------------------------------------------
def on_map_select(chart_key: str, run_id: str) -> None:
    """A map's selection changed: keep its ids (one clicked point is also the picked text)."""
    event = st.session_state.get(chart_key)
    maps.apply_selection(
        st.session_state, run_id, map_selection.selected_ids(event.get("selection") if event else None)
    )
    st.session_state["emb._changed"] = True


def draw_maps(
    mgr,
    run_id: str,
    method: str,
    view: str,
    colouring: str,
    highlight: str,
    dragmode: str,
    k: int,
    training: bool,
    level: int = 0,
) -> None:
    # A fragment run (the maps polling on their own) hands over to a whole-page run when there is
    # more to redraw than the maps: a selection made meanwhile, new phases, UMAP ready or failed,
    # training over. A whole-page run just draws what is there (a rerun would drop a click).
    fragment_run = st.session_state.get("emb._fragment", False)
    st.session_state["emb._fragment"] = True
    if st.session_state.pop("emb._changed", False) and fragment_run:
        st.rerun()
    try:
        current = mgr.store.get(run_id)
    except KeyError:  # deleted from another tab
        st.rerun()
    points = ins.load_points(current, view)
    names = wb.label_names(current, points.labels)
    layouts, note, shown, failure = None, None, method, None
    if method == "umap":
        layouts, failure = layouts_for(current, points, "umap")
        if layouts is None:
            shown = "pca"
            note = (
                f"UMAP failed ({failure}); showing PCA."
                if failure
                else "Computing UMAP in the background (the first map after a start takes longest); PCA meanwhile."
            )
    phases = current.embedding_phases()
    seen = st.session_state.setdefault("emb._phases", {})
    new_phases = seen.get(run_id, phases) != phases
    seen[run_id] = phases
    still_polling = training or (method == "umap" and layouts is None and not failure)
    if fragment_run and (new_phases or not still_polling):
        st.rerun()
    st.session_state["emb.shown"] = shown
    if layouts is None:
        layouts, _ = layouts_for(current, points, "pca")
    if note:
        st.caption(f":material/hourglass_top: {note}")
    for damaged in wb.embedding_notes(current):
        st.warning(damaged, icon=":material/broken_image:")
    shown_phases = [p for p in points.phases if p in layouts]
    if not shown_phases:
        st.info("None of this run's embeddings files can be read, so there is no map to show.", icon=":material/info:")
        return
    by_level = label_tree.level_colours(current, points.labels, level) if colouring == "class" else None
    if colouring == "class":
        ui.legend(by_level[1] if by_level else names)
    elif colouring in ("correct", "prediction"):
        ui.legend(names) if colouring == "prediction" else st.caption(
            f"<span style='color:{maps.CORRECT}'>●</span> FT prediction correct · <span "
            f"style='color:{maps.WRONG}'>●</span> wrong",
            unsafe_allow_html=True,
        )

    selected = points.positions(st.session_state.get(maps.selection_key(run_id), []))
    focus_id = st.session_state.get(maps.focus_key(run_id))
    focus = points.positions([focus_id])[0] if focus_id is not None and len(points.positions([focus_id])) else None
    rings = (
        {p: ins.neighbours_of(points, focus, k)[p]["position"].to_numpy() for p in shown_phases}
        if focus is not None
        else {}
    )
    keep = np.concatenate([selected] + list(rings.values()) + ([np.array([focus])] if focus is not None else []))
    draw = map_selection.draw_sample(len(points), maps.DRAW_CAP, keep)
    hover = maps.hover_texts(points)
    quality = wb.phase_quality(current.metrics, shown_phases)
    cols = st.columns(len(shown_phases), gap="small")
    prev, prev_phase = None, None
    for i, (col, phase) in enumerate(zip(cols, shown_phases)):
        with col:
            drift = None
            if colouring == "drift" and prev_phase is not None:
                drift = ins.drift_table(points, prev_phase, phase, k)["replaced"].to_numpy()
            colours = by_level[0] if by_level else maps.point_colours(points, colouring, names, drift)
            title = f"{wb.PHASE_TITLES.get(phase, phase)} · {METHODS[shown]}"
            fig = maps.phase_map(
                layouts[phase],
                points,
                draw,
                colours,
                hover,
                title,
                names,
                mode=colouring,
                selected=selected,
                focus=focus,
                focus_neighbours=rings.get(phase, ()),
                highlight=names.index(highlight) if highlight in names else None,
                dragmode=dragmode,
                colourbar=i == len(shown_phases) - 1,
                height=340 if len(shown_phases) <= 4 else 300,
            )
            key = f"emb_map_{phase}"
            st.plotly_chart(
                fig,
                key=key,
                on_select=lambda key=key: on_map_select(key, run_id),
                selection_mode=("points", "box", "lasso"),
                config=maps.MAP_CONFIG,
            )
            q = quality[phase]
            a, b = st.columns(2)
            sil, knn = q["silhouette"], q["knn_acc"]
            d_sil = delta(sil, prev and prev["silhouette"], 1, "{:+.3f}", 0.0005)
            d_knn = delta(knn, prev and prev["knn_acc"], 100, "{:+.1f} pt", 0.05)
            a.metric(
                "Silhouette",
                "–" if math.isnan(sil) else f"{sil:.3f}",
                delta=d_sil,
                help="Cosine silhouette of the true classes of the validation texts in the full embedding space "
                "(−1 to 1; higher = tighter, better separated).",
            )
            b.metric(
                "kNN acc",
                "–" if math.isnan(knn) else f"{knn:.1%}",
                delta=d_knn,
                help="Leave-one-out 5-nearest-neighbour accuracy (cosine) of the validation texts in the "
                "full embedding space.",
            )
            prev, prev_phase = q, phase
    if len(draw) < len(points):
        st.caption(
            f":material/filter_alt: Each map draws {len(draw):,} of the {len(points):,} texts (a seeded "
            f"sample, the same on every "
            "map, plus the selected texts) to stay responsive; tables, neighbours and scores use all of them."
        )
    if training:
        st.caption("This run is still training: maps of later phases appear as the phases finish.")


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
