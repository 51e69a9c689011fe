"""The Data page's "Unlabelled texts and label budget": texts without labels for the label-free
phases (a file, or the dataset's rows without a label), a label budget, and the counts of
labelled and unlabelled texts a run will have (engine: threephase_core/unlabelled.py)."""

from __future__ import annotations

import streamlit as st

from pages._parts import ui
from threephase_core.config import spec

PAGE = "data"


def options() -> None:
    """The settings, in a closed expander unless one is in use; a run reads them from the session."""
    ss = st.session_state
    in_use = bool(
        ss["wb.unlabelled"] or ss["wb.unlabelled_rows"] or ss["wb.labels_per_class"] or ss["wb.label_fraction"]
    )
    with st.expander("Unlabelled texts and label budget", expanded=in_use, icon=":material/label_off:"):
        st.caption(
            "Texts without labels train only the label-free phases (the DAE, and CL with the SimCLR loss); "
            "pairs, fine-tuning and every score use the labelled texts alone."
        )
        ui.bind(
            st.text_input,
            spec("unlabelled").label,
            "wb.unlabelled",
            page=PAGE,
            placeholder="/path/to/texts.txt",
            help="A .txt file with one text per line, or a CSV / JSON lines / parquet file with the text column.",
        )
        ui.bind(
            st.checkbox,
            spec("unlabelled_rows").label,
            "wb.unlabelled_rows",
            page=PAGE,
            help="Rows whose label cell is empty become unlabelled texts instead of being refused.",
        )
        a, b = st.columns(2)
        low, high = spec("labels_per_class").bounds()
        ui.bind(
            a.number_input,
            spec("labels_per_class").label + " (0 = all)",
            "wb.labels_per_class",
            page=PAGE,
            min_value=low,
            step=1,
            help="Keep this many labelled training texts per class (stratified, drawn with the run's seed); "
            "the rest of train becomes unlabelled text.",
        )
        ui.bind(
            b.number_input,
            spec("label_fraction").label + " (0 = all)",
            "wb.label_fraction",
            page=PAGE,
            min_value=0.0,
            max_value=1.0,
            step=0.05,
            format="%.2f",
            help="Or keep this fraction of each class labelled. Give the budget one way.",
        )


def counts(ds) -> None:
    """Labelled and unlabelled text counts of the dataset in use (a seed-0 draw of the budget)."""
    a, b = st.columns(2)
    a.metric("Labelled training texts", f"{len(ds.train):,}", border=True)
    b.metric(
        "Unlabelled texts",
        f"{len(ds.unlabelled):,}",
        border=True,
        help="For the label-free phases only. With a label budget, each run draws its labelled texts with its "
        "own seed; the counts are the same.",
    )
