"""Fixtures for the workbench's AppTests.

* ``finished_runs``: a runs folder holding one finished 3-Phase run (tiny model, 3 steps per
  phase), made once per session; ``finished_store`` copies it for one test and points
  ``$THREEPHASE_RUNS_DIR`` at the copy (pages write projection caches into run folders).
* ``empty_store``: an empty runs folder as ``$THREEPHASE_RUNS_DIR`` (the root ``tmp_runs``).
* every test starts and ends with empty Streamlit caches, and ends with
  `workbench.shutdown_managers()`, which cancels the jobs and stops the worker of every
  JobManager the pages opened, so no ``threephase-worker`` thread outlives its test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="session")
def finished_runs(tmp_path_factory) -> Path:
    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    root = tmp_path_factory.mktemp("finished-runs")
    _, result = run_recipe(build_config("three_phase", {"model": "tiny", "max_steps": 3}), root)
    assert result["state"] == "done", result
    return root


@pytest.fixture
def finished_store(finished_runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    dst = tmp_path / "finished"
    shutil.copytree(finished_runs, dst)
    monkeypatch.setenv("THREEPHASE_RUNS_DIR", str(dst))
    return dst


@pytest.fixture
def empty_store(tmp_runs: Path) -> Path:
    return tmp_runs


@pytest.fixture(autouse=True)
def _fresh_streamlit():
    import streamlit as st

    from threephase_core import workbench

    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
    workbench.shutdown_managers()


@pytest.fixture
def open_app():
    """open_app(page=None) -> an AppTest of app.py that has run once, on `page` if given (a name
    in ``pages/``, e.g. "train"), else on Home.

    The page is requested on the first run, as a browser's first request to its URL (/train):
    with a ``pages/`` folder, Streamlit's legacy page-folder mode runs ``pages/train.py`` as a
    script, which hands over to app.py (``pages/_parts/nav.py``), so every page opened here is
    drawn through app.py's navigation and sidebar. Later switches: the ``goto`` fixture."""
    from streamlit.testing.v1 import AppTest

    def _open(page: str | None = None, timeout: float = 300):  # a guard for a loaded machine
        at = AppTest.from_file(APP, default_timeout=timeout)
        if page:
            at.switch_page(f"pages/{page}.py")  # before the first run it is matched by file name, as a URL path
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return _open
