"""The workbench's pages in navigation order, and the way into app.py's frame.

app.py builds its `st.navigation` from `PAGES` with `page()`; a page that links to or switches to
another page builds the same `st.Page` with `page(name)` (a page given as a callable is reached
through its `st.Page`, not a file path).

Streamlit's legacy page-folder mode: on a freshly started server, until some session has run
app.py (whose `st.navigation` call ends that mode), Streamlit treats ``pages/*.py`` as pages of
its own, so a first request to /embeddings runs ``pages/embeddings.py`` as a script. Each page
file then calls `run_app()`, which runs app.py in its place: app.py's navigation resolves the same
URL path to that page's `render`, drawn inside the app's frame (navigation, sidebar, settings).
"""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[2] / "app.py"
DEFAULT = "home"
# url path (= module name in pages/) -> (title, icon)
PAGES: dict[str, tuple[str, str]] = {
    "home": ("Home", ":material/home:"),
    "data": ("Data", ":material/table:"),
    "imbalance": ("Imbalance & noise", ":material/tune:"),
    "train": ("Train", ":material/model_training:"),
    "embeddings": ("Embeddings", ":material/scatter_plot:"),
    "results": ("Results", ":material/leaderboard:"),
}


def page(name: str) -> st.Page:
    """The `st.Page` of ``pages/<name>.py``: its `render`, title, icon and URL path `name`."""
    module = importlib.import_module(f"pages.{name}")
    title, icon = PAGES[name]
    return st.Page(module.render, title=title, icon=icon, url_path=name, default=name == DEFAULT)


def run_app() -> None:
    """Run app.py in place of a page file that Streamlit's legacy page-folder mode ran as a script."""
    runpy.run_path(str(APP), run_name="__main__")
