"""threephase workbench: `streamlit run app.py`.

The entry point: page set-up, navigation and the sidebar frame. Each page is a module in
``pages/`` with a `render()` (the page table is ``pages/_parts/nav.py``); the engine is
``threephase_core`` (the pages only read and write it).
"""

from __future__ import annotations

import streamlit as st

from pages._parts import nav, ui

st.set_page_config(page_title="threephase workbench", page_icon=":material/hub:", layout="wide")
ui.init_state()

current = st.navigation([nav.page(name) for name in nav.PAGES])
ui.sidebar_status()
ui.runs_dir_warning()
current.run()
ui.persist_state()  # the settings a refresh or a new tab starts from
ui.warm_up()  # after the page is drawn: its imports and UMAP compile would slow the first paint
