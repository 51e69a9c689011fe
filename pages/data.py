"""Data: pick the dataset (demo, a dataset folder, an uploaded file, a hub id) and look at it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from pages._parts import charts, data_cache, label_tree, nav, ui, unlabelled_texts
from threephase_core import workbench as wb
from threephase_core.data import DataError, available_datasets
from threephase_core.data_root import ENV_VAR, data_root, root_problem

PAGE = "data"
SOURCES = {"demo": "Bundled demo", "folder": "Dataset folder", "upload": "Upload a file", "hub": "Hugging Face hub"}


def use(spec: str, text_column: str, label_column: str, shown_as: str | None = None, label_sep: str = "") -> bool:
    """Load a candidate; make it the workbench dataset if it loads, else show why not."""
    choice = {"spec": spec, "text_column": text_column, "label_column": label_column, "label_sep": label_sep}
    try:
        data_cache.load_dataset(choice)
    except (DataError, OSError) as exc:
        text = str(exc) if isinstance(exc, DataError) else f"cannot read it ({exc.strerror or exc})"
        message = text.replace(spec, shown_as) if shown_as else text
        st.error(f"This dataset cannot be used: {message}", icon=":material/error:")
        return False
    if st.session_state["wb.dataset"] != choice:
        st.session_state["wb.dataset"] = choice
    return True


def column_pickers(spec: str, df) -> tuple[str, str, str]:
    """Text and label column selectboxes for a table, pre-set to the current or guessed columns,
    and how the labels' levels are given: (text column, label column setting, level separator)."""
    cols = [str(c) for c in df.columns]
    cur = st.session_state["wb.dataset"]
    guess_text, guess_label = wb.guess_columns(df)
    if cur.get("spec") == spec:
        guess_text = cur.get("text_column", guess_text) if cur.get("text_column") in cols else guess_text
        top = str(cur.get("label_column", "")).split(",")[0]  # the top level of labels with levels
        guess_label = top if top in cols else guess_label
    with st.expander(f"First rows of the file ({len(cols)} columns)"):
        st.dataframe(df.head(5), hide_index=True, width="stretch")
    a, b = st.columns(2)
    key = hashlib.md5(spec.encode()).hexdigest()[:8]
    text_col = a.selectbox("Text column", cols, index=cols.index(guess_text), key=f"data:text:{key}")
    label_col = b.selectbox("Label column", cols, index=cols.index(guess_label), key=f"data:label:{key}")
    if text_col == label_col:
        st.warning("The text and label columns are the same column; pick two different ones.")
    return text_col, *label_tree.level_fields(key, cols, text_col, label_col)


def data_root_field() -> str:
    """The data root (empty: ``$THREEPHASE_DATA_ROOT`` or ``./data``) and what it holds, or why it holds nothing."""
    if not isinstance(st.session_state.get("wb.data_root"), str):  # first visit, or a damaged saved value
        st.session_state["wb.data_root"] = ""
    root = ui.bind(
        st.text_input,
        "Data root",
        "wb.data_root",
        page=PAGE,
        placeholder=str(data_root()),
        help=f"The folder that holds your dataset folders. Empty: ${ENV_VAR} if set, else ./data "
        "(the command line's --data-root).",
    ).strip()
    problem = root_problem(root)
    if problem:
        st.info(
            f"No dataset folders listed: {problem}. Type the folder that holds your dataset folders above, "
            "or pick **Another folder…** below.",
            icon=":material/folder_off:",
        )
    return root


def folder_source() -> None:
    """A dataset folder under the data root, or a typed path; then its text and label columns."""
    root = data_root_field()
    folders = [(spec, desc) for spec, desc in available_datasets(root) if spec != "demo"]
    if not folders and not root_problem(root):
        st.info(
            f"No dataset folders under {data_root(root)}: a dataset folder holds a train.parquet, train.csv "
            "or train.jsonl file.",
            icon=":material/folder_open:",
        )
    options = [spec for spec, _ in folders] + ["__other__"]
    cur = st.session_state["wb.dataset"]["spec"]
    if cur in options:
        idx = options.index(cur)
    elif cur != "demo" and Path(cur).expanduser().is_dir():
        # A typed folder in use (after a page switch or a refresh): keep it, not the first listed folder.
        idx = options.index("__other__")
        st.session_state.setdefault("data:folder_path", cur)
    else:
        idx = 0
    pick = st.selectbox(
        "Folder",
        options,
        index=idx,
        key="data:folder",
        format_func=lambda s: "Another folder…" if s == "__other__" else wb.dataset_label(s),
        help="A folder with train / validation / test files (.parquet, .csv or .jsonl) and an optional labels.json. "
        f"The dataset folders under {data_root(root)} are listed.",
    )
    if pick == "__other__":
        pick = st.text_input("Folder path", key="data:folder_path", placeholder="/path/to/dataset").strip()
    if pick:
        table = wb.table_file(pick)
        if table is None:
            st.error(
                f"No train file (train.parquet, train.csv or train.jsonl) found in {pick!r}.", icon=":material/error:"
            )
        else:
            try:
                peek = data_cache.peek_table(table)
                problem = wb.columns_problem(peek, table.name)
                if problem:
                    raise DataError(problem)
                text_col, label_col, sep = column_pickers(pick, peek)
                if text_col != label_col:
                    use(pick, text_col, label_col, label_sep=sep)
            except DataError as exc:
                st.error(str(exc), icon=":material/error:")
            except OSError as exc:
                st.error(f"{table} cannot be read: {exc.strerror or exc}", icon=":material/error:")


def upload_source() -> None:
    """An uploaded table, kept once under the runs folder, then its text and label columns."""
    limit = st.get_option("server.maxUploadSize")
    up = st.file_uploader(
        "CSV, JSONL or parquet file",
        type=["csv", "jsonl", "json", "parquet"],
        key="data:upload",
        help=f"One row per text, with a text column and a label column; an optional 'split' column "
        f"(train / validation / test) assigns rows to splits, otherwise they are carved from train. Up to {limit} MB.",
    )
    if up is not None:
        path = None
        try:
            kept = st.session_state.setdefault("data.kept_uploads", {})
            path = kept.get(up.file_id)
            if path is None or not Path(path).exists():  # hash and keep each uploaded file once, not on every rerun
                path = kept[up.file_id] = wb.save_upload(up.name, up.getvalue(), ui.store().root)
            peek = data_cache.peek_table(path)
            problem = wb.columns_problem(peek, up.name)
            if problem:
                raise DataError(problem)
            text_col, label_col, sep = column_pickers(str(path), peek)
            if text_col != label_col:
                use(str(path), text_col, label_col, shown_as=up.name, label_sep=sep)
        except DataError as exc:
            st.error(str(exc).replace(str(path), up.name) if path else str(exc), icon=":material/error:")
        except OSError as exc:  # the runs folder cannot keep the file
            why = wb.runs_dir_problem(ui.store().root) or f"{exc.strerror or exc}"
            st.error(f"{up.name} could not be kept for the runs: {why}", icon=":material/error:")
    else:
        st.caption(f"Files up to {limit} MB (`server.maxUploadSize` in .streamlit/config.toml).")


def hub_source() -> None:
    """A Hugging Face hub dataset id and its columns, loaded on request."""
    st.caption("Needs a network connection; the hub is not reachable when HF_HUB_OFFLINE=1.")
    a, b, c = st.columns([2, 1, 1])
    hub_id = a.text_input("Dataset id", key="data:hub_id", placeholder="e.g. SetFit/sst5")
    b.text_input("Text column", value="text", key="data:hub_text")  # read by request() from the session state
    c.text_input("Label column", value="label", key="data:hub_label")

    def request() -> None:
        ss = st.session_state
        ss["data.hub_request"] = (ss["data:hub_id"].strip(), ss["data:hub_text"].strip(), ss["data:hub_label"].strip())

    st.button("Load from the hub", key="data:hub_load", disabled=not hub_id.strip(), on_click=request)
    if "data.hub_request" in st.session_state:
        use(*st.session_state.pop("data.hub_request"))  # the dataset cache shows a spinner


FRACTIONS = [round(0.05 * i, 2) for i in range(1, 10)]  # 5 % .. 45 % (the config allows up to 50 %)


def split_sizes(ds) -> None:
    """The validation and test fractions carved from train (the run settings `val_fraction` and
    `test_fraction`); a dataset with its own validation and test files keeps their sizes."""
    labels = {"validation": ("Validation fraction", "wb.val_fraction"), "test": ("Test fraction", "wb.test_fraction")}
    carved = [split for split in ("validation", "test") if split in ds.carved]
    if not carved:
        st.caption(
            ":material/call_split: This dataset brings its own validation and test files: their sizes are as given."
        )
        return
    with st.container(border=True):
        st.markdown(
            "**Split sizes**: the share of each class held out of train (stratified, each run's seed); "
            "more held-out texts measure accuracy more finely, fewer leave more to train on."
        )
        cols = st.columns(len(carved))
        for col, split in zip(cols, carved, strict=True):
            label, name = labels[split]
            value = float(st.session_state.get(name, ui.DEFAULTS[name]))
            options = sorted({*FRACTIONS, value})  # a value loaded from a run stays selectable
            with col:
                ui.bind(st.select_slider, label, name, page=PAGE, options=options, format_func=lambda v: f"{v:.0%}")


def dataset_in_use() -> None:
    """The dataset in use: its sizes, class balance, notes, and sample texts per class."""
    choice, ds, error = data_cache.current_dataset()
    if error:
        st.error(f"The dataset in use cannot be loaded: {error}", icon=":material/error:")
        st.stop()

    st.subheader(f"In use: {wb.dataset_label(choice['spec'])}")
    source = "uploaded file" if wb.UPLOAD_DIR in Path(choice["spec"]).parts else ds.source
    st.caption(f"{source} · text column `{choice['text_column']}` · label column `{choice['label_column']}`")
    counts = {s: ds.class_counts(s) for s in ("train", "validation", "test")}
    train_counts = [n for n in counts["train"].values() if n > 0]
    cols = st.columns(5)
    cols[0].metric("Train rows", f"{len(ds.train):,}", border=True)
    cols[1].metric("Validation rows", f"{len(ds.validation):,}", border=True)
    cols[2].metric("Test rows", f"{len(ds.test):,}", border=True)
    cols[3].metric("Classes", ds.num_classes, border=True)
    cols[4].metric(
        "Imbalance",
        f"{max(train_counts) / max(min(train_counts), 1):.1f} : 1",
        help="Largest / smallest class in train.",
        border=True,
    )
    unlabelled_texts.counts(ds)
    split_sizes(ds)
    ui.split_warnings(
        {s: ds.class_counts(s) for s in ("train", "validation", "test")},
        "Too few texts to tell recipes apart: their accuracies would differ by chance more than by recipe.",
    )
    if ds.num_classes > 100 or ds.num_classes > 0.5 * len(ds.train):
        st.warning(f"{ds.num_classes} classes for {len(ds.train)} training rows: is the label column right?")
    for note in ds.notes:
        st.info(note, icon=":material/info:")
    label_tree.render(ds)

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Rows per class and split**")
        st.plotly_chart(
            charts.class_distribution(counts, ds.label_names), key="data_dist", config={"displayModeBar": False}
        )
    with right:
        st.markdown("**Sample texts per class**")
        if "data.sample_seed" not in st.session_state:
            st.session_state["data.sample_seed"] = 0
        pick = st.selectbox("Class", ["All classes"] + ds.label_names, key="data:sample_class")
        samples = wb.sample_texts(
            ds.train,
            ds.label_names,
            per_class=3 if pick == "All classes" else 8,
            seed=st.session_state["data.sample_seed"],
        )
        if pick != "All classes":
            samples = samples[samples["class"] == pick]
        with st.container(height=320, border=False):  # a table wraps long texts; a data grid would cut them
            st.table(samples, hide_index=True)
        st.button(
            "Other samples",
            icon=":material/shuffle:",
            key="data:shuffle",
            on_click=ui.bump,
            args=("data.sample_seed",),
        )


def render() -> None:
    """Pick a source (demo, folder, upload, hub), then show the dataset in use."""
    ui.header(
        "Data", "Choose the texts and labels to train on. The choice carries over to the Imbalance and Train pages."
    )
    source = ui.bind(
        st.segmented_control,
        "Source",
        "wb.source",
        page=PAGE,
        options=list(SOURCES),
        format_func=SOURCES.get,
        required=True,
    )
    with st.container(border=True):
        if source == "demo":
            st.markdown(
                "Short customer-support messages in **7 intents**, deliberately imbalanced "
                "(118 to 10 training rows per class), bundled with the project."
            )
            use("demo", "text", label_tree.demo_label_column())
        elif source == "folder":
            folder_source()
        elif source == "upload":
            upload_source()
        else:
            hub_source()
    unlabelled_texts.options()
    dataset_in_use()


if __name__ == "__main__":  # run as a script by Streamlit's legacy page-folder mode: see pages/_parts/nav.py
    nav.run_app()
