"""The Embeddings page's inspection sections, under the maps: the selection's table, a text's
neighbours, drift, suspect labels and per-class geometry. One section is drawn at a time (a
segmented control), so a page redraw computes only what is on screen. The numbers come from
`threephase_core.inspection` / `neighbours` / `label_issues`; the figures from `maps`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages._parts import maps
from threephase_core import inspection as ins
from threephase_core import label_issues, map_selection
from threephase_core import neighbours as nb
from threephase_core import workbench as wb

SECTIONS = {
    "selection": "Selection",
    "neighbours": "Neighbours",
    "drift": "Drift",
    "suspects": "Suspect labels",
    "classes": "Per class",
}
LIST_ROWS = 20  # rows of the "moved most" and "joined its class" lists
OTHER_CLASS = "background-color: #fde2e2"
RENAME = {"replaced": "replaced", "same_before": "own class before", "same_after": "own class after", "gain": "gain"}


def title(phase: str) -> str:
    return wb.PHASE_TITLES.get(phase, phase)


def short(text: str, n: int = 90) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def select_button(label: str, run_id: str, ids, key: str) -> None:
    """A button that puts these texts in the maps' selection."""
    st.button(
        label,
        key=key,
        icon=":material/select_all:",
        on_click=maps.apply_selection,
        args=(st.session_state, run_id, [int(i) for i in ids]),
        kwargs={"focus": maps.KEEP},
    )


def render(run, points: ins.Points, names: list[str], k: int, layouts, colouring: str) -> None:
    """The section picker and the chosen section; ``layouts()`` gives the maps' layouts (for the
    animation), or None."""
    if st.session_state.get("emb.section") not in SECTIONS:
        st.session_state["emb.section"] = "selection"
    section = st.segmented_control(
        "Inspect",
        list(SECTIONS),
        format_func=SECTIONS.get,
        key="emb.section",
        required=True,
        label_visibility="collapsed",
    )
    if section == "selection":
        selection(run, points, names, k)
    elif section == "neighbours":
        neighbours(run, points, names, k)
    elif section == "drift":
        drift(run, points, names, k, layouts, colouring)
    elif section == "suspects":
        suspects(run, points, names)
    else:
        per_class(points, names)


def selection(run, points: ins.Points, names: list[str], k: int) -> None:
    ids = st.session_state.get(maps.selection_key(run.id), [])
    if not ids:
        st.info(
            "Drag a lasso (or a box) around points on any map: the same texts light up on every map and "
            "are listed here, "
            "with the FT prediction and the majority class of their neighbours in each phase. Click one "
            "point to pick it "
            "(see Neighbours).",
            icon=":material/gesture_select:",
        )
        return
    table = ins.selection_table(points, ids, k, names)
    a, b = st.columns([4, 1])
    hidden = len(ids) - len(table)
    a.markdown(
        f"**{len(table):,} selected text{'s' if len(table) != 1 else ''}**"
        + (f" ({hidden:,} more selected among the texts not shown now)" if hidden else "")
        + f" · neighbours' majority of {k} in each phase"
    )
    b.button(
        "Clear selection",
        key="emb:clear",
        icon=":material/deselect:",
        on_click=maps.apply_selection,
        args=(st.session_state, run.id, []),
        kwargs={"focus": None},
    )
    config = {"confidence": st.column_config.ProgressColumn("confidence", format="%.2f", min_value=0.0, max_value=1.0)}
    st.dataframe(table, hide_index=True, column_config=config, key="emb:selection_table")
    st.download_button(
        "Selection (CSV)",
        table.to_csv(index=False).encode(),
        file_name=f"{run.id}_selection.csv",
        mime="text/csv",
        icon=":material/download:",
        key="emb:selection_csv",
    )


def pick_text(run_id: str) -> None:
    """Search box choice: the picked text."""
    picked = st.session_state.get("emb:search_pick")
    if picked is not None:
        maps.apply_selection(
            st.session_state, run_id, st.session_state.get(maps.selection_key(run_id), []), focus=int(picked)
        )


def neighbours(run, points: ins.Points, names: list[str], k: int) -> None:
    query = st.text_input(
        "Find a text by words",
        key="emb:search",
        placeholder="e.g. refund my order",
        help="Texts that contain every word (any case); pick one to see its neighbours.",
    )
    hits = map_selection.search(points.texts, query, limit=50)
    if query.strip() and not len(hits):
        st.caption("No text shown here contains all these words.")
    if len(hits):
        st.selectbox(
            f"{len(hits)} matching text{'s' if len(hits) != 1 else ''}",
            [int(i) for i in points.ids[hits]],
            index=None,
            placeholder="Pick a text",
            key="emb:search_pick",
            on_change=pick_text,
            args=(run.id,),
            format_func=lambda i: (
                f"{short(points.texts[points.positions([i])[0]])} · {names[points.labels[points.positions([i])[0]]]}"
            ),
        )
    focus_id = st.session_state.get(maps.focus_key(run.id))
    pos = points.positions([focus_id]) if focus_id is not None else np.zeros(0, int)
    if not len(pos):
        st.info(
            "Click a point on any map, or find a text by words: its nearest neighbours in each phase appear here "
            "(and as rings on the maps).",
            icon=":material/touch_app:",
        )
        return
    p = int(pos[0])
    st.markdown(f"**Picked text** ({points.split[p]}, *{names[points.labels[p]]}*): {points.texts[p]}")
    tables = ins.neighbours_of(points, p, k)
    per_row = min(2, len(points.phases))  # two phases side by side: room for the texts
    config = {
        "text": st.column_config.TextColumn(width="medium"),
        "cos": st.column_config.NumberColumn(format="%.3f", width="small"),
    }
    for start in range(0, len(points.phases), per_row):
        for col, phase in zip(st.columns(per_row, gap="medium"), points.phases[start : start + per_row]):
            t = tables[phase]
            frame = pd.DataFrame({"text": t["text"], "label": [names[c] for c in t["label"]], "cos": t["similarity"]})
            other = t["other_class"].to_numpy()
            styled = frame.style.apply(
                lambda _, other=other: [OTHER_CLASS if o else "" for o in other], subset=["label"]
            )
            with col:
                st.markdown(f"**{title(phase)}** · {int(other.sum())} of {len(t)} of another class")
                st.dataframe(styled, hide_index=True, column_config=config, key=f"emb:neigh_{phase}")
    st.caption(
        f"The {k} most cosine-similar texts in each phase's full embedding space, among the texts shown; "
        "labels of another class than the picked text's are tinted red."
    )


def drift(run, points: ins.Points, names: list[str], k: int, layouts, colouring: str) -> None:
    phases = points.phases
    if len(phases) < 2:
        st.info("Drift compares two phases: this run has one map so far.", icon=":material/info:")
        return
    a, b = st.columns(2)
    default_after = "cl" if "cl" in phases[1:] else phases[-1]
    before = a.selectbox("From", phases, index=0, format_func=title, key="emb:drift_from")
    after = b.selectbox("To", phases, index=phases.index(default_after), format_func=title, key="emb:drift_to")
    if before == after:
        st.info("Pick two different phases.", icon=":material/info:")
        return
    table = ins.drift_table(points, before, after, k)
    st.markdown(
        f"From **{title(before)}** to **{title(after)}**, a text's {k} nearest neighbours were "
        f"**{table['replaced'].mean():.0%}** replaced on average; the share of neighbours of its own class went from "
        f"**{table['same_before'].mean():.0%}** to **{table['same_after'].mean():.0%}**."
    )
    fmt = {c: st.column_config.NumberColumn(format="%.2f") for c in RENAME.values()}

    def listed(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.assign(label=[names[c] for c in rows["label"]]).rename(columns=RENAME).reset_index()

    left, right = st.columns(2, gap="medium")
    with left:
        moved = nb.moved_most(table, LIST_ROWS)
        st.markdown("**Moved most** (neighbourhood changed most)")
        st.dataframe(listed(moved), hide_index=True, column_config=fmt, key="emb:moved")
        select_button("Select these on the maps", run.id, moved.index, "emb:select_moved")
    with right:
        joined = nb.joined_class(table, LIST_ROWS)
        st.markdown("**Joined its class** (most new neighbours of its own class)")
        if len(joined):
            st.dataframe(listed(joined), hide_index=True, column_config=fmt, key="emb:joined")
            select_button("Select these on the maps", run.id, joined.index, "emb:select_joined")
        else:
            st.caption("No text gained neighbours of its own class.")
    layouts = layouts()
    if layouts:
        st.markdown(
            "**Transition between the phases' maps** (press Play; the same texts glide from one aligned "
            "map to the next)"
        )
        draw = map_selection.draw_sample(len(points), maps.ANIMATION_CAP)
        colours = maps.point_colours(
            points, colouring if colouring in ("class", "prediction", "correct") else "class", names
        )
        st.plotly_chart(
            maps.transition(
                layouts,
                [p for p in phases if p in layouts],
                {p: title(p) for p in phases},
                draw,
                colours,
                maps.labelled_hover(points, names),
            ),
            key="emb_transition",
            config=maps.MAP_CONFIG,
        )
        if len(draw) < len(points):
            st.caption(
                f"The animation moves {len(draw):,} of the {len(points):,} texts (a seeded sample) to stay smooth."
            )


def suspects(run, points: ins.Points, names: list[str]) -> None:
    phase = "ft" if "ft" in points.phases else points.phases[-1]
    st.markdown(
        f"Texts whose given label the embeddings dispute. A logistic regression on the "
        f"**{title(phase)}** embeddings is "
        "cross-validated (5 folds), so each text's class probabilities come from a model that did not see its label; "
        "cleanlab's confident learning then flags the texts whose label looks wrong, worst first."
        + ("" if phase == "ft" else " (This run has no FT phase: the last phase's embeddings are used.)")
    )
    key = (points.source, points.view, points.stamp, phase)
    found = st.session_state.get("emb._suspects")
    if not (found and found[0] == key):
        if not st.button("Find suspect labels", key="emb:suspects", icon=":material/flag:"):
            return
        try:
            with st.spinner("Cross-validating and scoring…"):
                table = label_issues.find_suspects(points.embeddings[phase], points.labels, points.texts, names)
        except label_issues.NotEnoughData as exc:
            st.warning(str(exc), icon=":material/warning:")
            return
        table.insert(0, "id", points.ids[table["row"].to_numpy()])
        table.insert(1, "split", points.split[table["row"].to_numpy()])
        found = st.session_state["emb._suspects"] = (key, table.drop(columns="row"))
    table = found[1]
    if not len(table):
        st.success(f"cleanlab flags none of the {len(points):,} texts.", icon=":material/check_circle:")
        return
    st.markdown(f"**{len(table):,} suspect label{'s' if len(table) != 1 else ''}** among {len(points):,} texts")
    st.dataframe(
        table,
        hide_index=True,
        key="emb:suspect_table",
        column_config={
            c: st.column_config.NumberColumn(format="%.2f") for c in ("p_given", "p_suggested", "label_quality")
        },
    )
    a, b = st.columns([1, 3])
    with a:
        st.download_button(
            "Suspect labels (CSV)",
            table.to_csv(index=False).encode(),
            file_name=f"{run.id}_suspect_labels.csv",
            mime="text/csv",
            icon=":material/download:",
            key="emb:suspects_csv",
        )
    with b:
        select_button("Select these on the maps", run.id, table["id"], "emb:select_suspects")


def per_class(points: ins.Points, names: list[str]) -> None:
    present = [names[c] for c in np.unique(points.labels)]
    if len(present) < 2:
        st.info("Per-class geometry needs at least two classes among the texts shown.", icon=":material/info:")
        return
    st.markdown(
        "**Silhouette per class and phase** (cosine, full embedding space; higher = the class is tighter and "
        "further from the others)"
    )
    sil = ins.per_class_silhouette(points, names)[present]
    st.plotly_chart(
        maps.silhouette_heatmap(sil, wb.PHASE_TITLES), key="emb_class_silhouette", config={"displayModeBar": False}
    )
    a, b = st.columns(2, gap="medium")
    with a:
        phase = st.selectbox(
            "Centroid distances after",
            points.phases,
            index=len(points.phases) - 1,
            format_func=title,
            key="emb:class_phase",
        )
        idx = [names.index(n) for n in present]
        d = nb.centroid_distances(points.embeddings[phase], points.labels, len(names))[np.ix_(idx, idx)]
        st.plotly_chart(maps.centroid_heatmap(d, present), key="emb_centroids", config={"displayModeBar": False})
    with b:
        cls = st.selectbox("A class's distance to the others, across phases", present, key="emb:class_pick")
        frame = nb.class_distances_across_phases(
            {p: points.embeddings[p] for p in points.phases}, points.labels, names.index(cls), names
        )
        frame = frame[[n for n in present if n != cls]]
        st.plotly_chart(
            maps.class_distance_lines(frame, names, wb.PHASE_TITLES, cls),
            key="emb_class_lines",
            config={"displayModeBar": False},
        )
    st.caption(
        "A centroid is the mean of a class's length-normalised embeddings; distance = 1 − cosine "
        "similarity of two centroids."
    )
