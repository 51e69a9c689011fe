"""Imbalance & noise: phase 2's oversampling rule and phase 1's word deletion, live on the data."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages._parts import charts, data_cache, form, nav, ui
from threephase_core.carving import capped_train
from threephase_core.config import IMBALANCE_PRESETS, spec
from threephase_core.workbench.datasets import source_stamp
from threephase_core.workbench.previews import (
    class_table,
    imbalance_curve,
    noise_preview,
    outgrow_note,
    pair_score_note,
    preset_for,
    ratio_problem,
    stopword_preview,
    threshold_size,
)

PAGE = "imb"
PRESETS = list(IMBALANCE_PRESETS) + ["custom"]


# The page's own copies of the settings it explores (session only): the Train page's values
# (``wb.*``) change only through "Use these values as the Train defaults".
TRIED = {
    "preset": "wb.preset",
    "min_ratio": "wb.min_ratio",
    "max_ratio": "wb.max_ratio",
    "augmentation": "wb.augmentation",
    "noise": "wb.noise",
}
SLIDERS = ("min_ratio", "max_ratio", "augmentation", "noise")  # in the form: applied together by "Apply"


def tried(name: str):
    return st.session_state[f"imb.{name}"]


def preset_picked() -> None:
    """A preset click applies at once (a click is one value, not a drag); clearing the pills keeps the preset."""
    preset = st.session_state["imb:preset"]
    if preset is None:
        st.session_state["imb:preset"] = tried("preset")
        return
    st.session_state["imb.preset"] = preset
    if preset in IMBALANCE_PRESETS:
        st.session_state["imb.min_ratio"], st.session_state["imb.max_ratio"] = IMBALANCE_PRESETS[preset]


def apply_form() -> None:
    """The form's sliders, applied together when released and submitted: never a half-dragged value."""
    for name in SLIDERS:
        st.session_state[f"imb.{name}"] = st.session_state[f"imb:{name}"]
    st.session_state["imb.preset"] = preset_for(tried("min_ratio"), tried("max_ratio"))


def differs_from_train() -> list[str]:
    """The settings whose tried value differs from the Train page's, by label."""
    return [
        label(wb_key) if wb_key in form.WORKBENCH_SETTINGS else "Preset"
        for name, wb_key in TRIED.items()
        if st.session_state[f"imb.{name}"] != st.session_state[wb_key]
    ]


def use_for_train() -> None:
    for name, wb_key in TRIED.items():
        st.session_state[wb_key] = st.session_state[f"imb.{name}"]
    st.session_state["imb.notice"] = "The Train page now starts from these values."


PRESET_LABELS = {"normal": "normal (1.5, 4)", "extra": "extra (1.5, 20)", "none": "none (1, 1)", "custom": "custom"}


def label(name: str) -> str:
    """The label of the config setting a workbench-wide widget shows."""
    return spec(form.WORKBENCH_SETTINGS[name]).label


def limits(name: str) -> dict:
    """A widget's min_value and max_value: the limits of the config setting it shows."""
    low, high = form.LIMITS[name]
    return {"min_value": low, "max_value": high}


def paragraph(words: list[tuple[str, bool]]) -> str:
    """A preview's words (kept, or struck through) as one HTML paragraph."""
    return f"<div style='font-size:0.95rem;line-height:1.6'>{ui.words_html(words)}</div>"


def train_defaults() -> None:
    """Whether the Train page uses the values tried here, and the choice to hand them over."""
    notice = st.session_state.pop("imb.notice", None)
    if notice:
        st.success(notice, icon=":material/check:")
    changed = differs_from_train()
    if not changed:
        st.caption(":material/check: The Train page uses these values.")
        return
    st.caption(f"The Train page still uses its own values for: {', '.join(changed)}.")
    st.button(
        "Use these values as the Train defaults",
        icon=":material/input:",
        key="imb:use",
        on_click=use_for_train,
        help="Recipes that fix their own correction (extra_imb, no_imb) keep it.",
    )


def render() -> None:
    """The correction preset and ratios, the f(x) curve on this data, pair counts and the word-deletion preview."""
    ui.header(
        "Imbalance & noise",
        "Phase 2 oversamples small classes before it builds pairs; phase 1 deletes words before it rebuilds the "
        "sentence. Try settings here; the Train page takes them when you choose so.",
    )

    choice, ds, error = data_cache.current_dataset()
    if error:
        st.error(
            f"The dataset in use cannot be loaded: {error}. Pick another one on the Data page.",
            icon=":material/error:",
        )
        st.stop()

    for name, wb_key in TRIED.items():  # the first visit starts from the Train page's values
        if f"imb.{name}" not in st.session_state:
            st.session_state[f"imb.{name}"] = st.session_state[wb_key]
    cap = int(st.session_state.get("wb.max_train_rows") or 0)
    train = capped_train(ds.train, cap, 0)  # what a seed-0 run trains on
    counts = {name: int((train["label"] == i).sum()) for i, name in enumerate(ds.label_names)}
    controls, chart = st.columns([1, 2.4], gap="large")
    with controls:
        st.markdown("**Imbalance correction** (phase 2)")
        st.session_state["imb:preset"] = tried("preset")
        st.pills(
            "Preset",
            PRESETS,
            key="imb:preset",
            format_func=PRESET_LABELS.get,
            on_change=preset_picked,
            help="The paper's presets as (min ratio, max ratio); custom: your own ratios below.",
        )
        for name in SLIDERS:  # the form shows the applied values (a rerun drops an unapplied drag)
            st.session_state[f"imb:{name}"] = tried(name)
        with st.form("imb:form", border=False):
            st.slider(
                label("wb.min_ratio"),
                key="imb:min_ratio",
                **limits("wb.min_ratio"),
                step=0.05,
                help="A class is oversampled only where f(x) ≥ r_min.",
            )
            st.slider(
                label("wb.max_ratio"),
                key="imb:max_ratio",
                **limits("wb.max_ratio"),
                step=0.5,
                help="f(1) = r_max: how many times a class of one row would be repeated.",
            )
            st.number_input(
                label("wb.augmentation"),
                key="imb:augmentation",
                **limits("wb.augmentation"),
                step=1,
                help="Pairs are drawn augmentation × ⌊log2(classes)⌋ times over the (corrected) data.",
            )
            st.markdown("**Word deletion** (phase 1, DAE)")
            st.slider(
                "Noise ratio",
                key="imb:noise",
                **limits("wb.noise"),
                step=0.05,
                help="Each word is deleted with this probability (the paper uses 0.6).",
            )
            st.form_submit_button("Apply", icon=":material/check:", on_click=apply_form, key="imb:apply")
        train_defaults()
    r_min, r_max, aug, noise = (tried(name) for name in SLIDERS)

    ratio_warning = ratio_problem(r_min, r_max)
    if ratio_warning:
        st.warning(ratio_warning, icon=":material/warning:")
    table = class_table(counts, r_min, r_max)
    largest = int(table["rows"].max())
    xs, ys = imbalance_curve(largest, r_max)
    threshold = threshold_size(largest, r_min, r_max)
    with chart:
        st.markdown(
            f"**f(x) = r_max · ln(M/x) / ln(M)** with M = {largest} (the largest class); classes with f(x) ≥ r_min "
            "are repeated round(f(x)) times"
        )
        ui.legend(ds.label_names)
        st.plotly_chart(
            charts.imbalance_curve(xs, ys, table, r_min, r_max, threshold, ds.label_names),
            key="imb_curve",
            config={"displayModeBar": False},
        )

    if len(train) < len(ds.train):
        st.caption(
            f":material/content_cut: Training rows capped at {cap:,} of {len(ds.train):,} (Train page › Size limits): "
            "the counts and pairs here are seed 0's stratified sample, as a seed-0 run would see."
        )
    stats = data_cache.pair_stats(
        choice["spec"],
        choice["text_column"],
        choice["label_column"],
        source_stamp(choice["spec"]),
        float(r_min),
        float(r_max),
        int(aug),
        cap,
        data_cache.split_fractions(),
        choice.get("label_sep", ""),
        data_cache.text_settings(),
    )
    over = table[table["oversampled"]]
    m = st.columns(4)
    m[0].metric(
        "Oversampled classes",
        f"{len(over)} of {len(table)}",
        height="stretch",
        help=(
            f"Classes of at most {threshold:.1f} rows (x ≤ M^(1 − max(r_min, 1.5)/r_max): a repeat count rounds "
            "f(x), and below 1.5 it is 1)."
        )
        if threshold >= 1
        else "No class is small enough.",
        border=True,
    )
    m[1].metric(
        "Phase-2 rows",
        f"{stats['rows_after']:,}",
        height="stretch",
        delta=f"+{stats['rows_after'] - stats['rows_before']:,}"
        if stats["rows_after"] > stats["rows_before"]
        else None,
        border=True,
    )
    m[2].metric(
        "Training pairs",
        f"{stats['pairs']:,}",
        height="stretch",
        help="Unique pairs after balancing to 50% same-class / 50% different-class.",
        border=True,
    )
    m[3].metric("Same-class pairs", f"{stats['positive_pairs']:,}", height="stretch", border=True)
    if ds.hierarchy is not None:
        st.caption(pair_score_note(stats["scores"], ds.hierarchy.level_names))

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Class counts before and after correction**")
        overshoot = outgrow_note(table, r_max)
        if overshoot:
            st.info(overshoot, icon=":material/trending_up:")
        st.plotly_chart(
            charts.counts_before_after(table, ds.label_names), key="imb_counts", config={"displayModeBar": False}
        )
    with right:
        st.markdown("**Noise on a training text**")
        if "imb.sample" not in st.session_state:
            st.session_state["imb.sample"] = 0
        rng = np.random.default_rng(st.session_state["imb.sample"])
        texts = ds.train["text"].tolist()
        long_texts = [t for t in texts if len(t.split()) >= 8] or texts
        text = long_texts[int(rng.integers(len(long_texts)))]
        st.markdown(
            paragraph(noise_preview(text, noise, st.session_state["imb.sample"])),
            unsafe_allow_html=True,
        )
        st.caption(
            f"DAE input at noise ratio {noise:.2f}: struck-through words are deleted; the decoder must rebuild the "
            "full sentence."
        )
        if len(over):
            cls = over.sort_values("rows").iloc[0]["class"]
            k = ds.label_names.index(cls)
            small = ds.train[ds.train["label"] == k]["text"].tolist()
            small = [t for t in small if len(t.split()) >= 5] or small
            copy_text = small[int(rng.integers(len(small)))]
            st.markdown(
                paragraph(stopword_preview(copy_text, st.session_state["imb.sample"] + 1)),
                unsafe_allow_html=True,
            )
            st.caption(
                f"An extra copy of a `{cls}` text (oversampled ×{int(over.set_index('class').loc[cls, 'repeats'])}): "
                "copies lose some stop words."
            )
        st.button("Another text", icon=":material/shuffle:", key="imb:shuffle", on_click=ui.bump, args=("imb.sample",))

    with st.expander("Per-class numbers"):
        st.dataframe(
            table.assign(oversampled=table["oversampled"].map({True: "yes", False: ""})),
            hide_index=True,
            width="stretch",
            column_config={
                "f": st.column_config.NumberColumn("f(x)", format="%.2f"),
                "rows_after": "rows after",
                "repeats": "×",
            },
        )


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
