"""Shared test setup.

At import time (before any `threephase_core` import): offline Hugging Face, no tokenizer
thread pools, a private model cache and Hugging Face hub cache for this session, and the data
root (``$THREEPHASE_DATA_ROOT``, unless set already) at the benchmark datasets beside the
checkout, ``../shared/datasets``; tests that build their own folders point it elsewhere. Fixtures:

* ``tmp_runs``: an empty runs folder, also set as ``$THREEPHASE_RUNS_DIR``;
* ``tiny_model_path``: a 2-layer random BERT (sentence-transformers format), built once;
* ``goto``: makes an AppTest of app.py draw another page on its next run.

A session-end check fails the session when a thread started by the tests is still alive
10 s after the last test: any thread named ``threephase-*`` (the run workers), and any other
non-daemon thread (it would keep the interpreter from exiting). Idle ThreadPoolExecutor
workers are left out: they are joined at interpreter exit and never hang it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
_CACHE = tempfile.mkdtemp(prefix="threephase-test-cache-")
os.environ["THREEPHASE_CACHE"] = _CACHE
os.environ["HF_HUB_CACHE"] = os.path.join(_CACHE, "hub")  # a private, empty hub cache (tests may fill it)
atexit.register(shutil.rmtree, _CACHE, True)
# A fixed thread count: the automatic one follows the machine's load, and a CPU run repeats bit for bit
# only at the same count (tests compare runs exactly). tests/test_threads.py tests the automatic choice.
os.environ.setdefault("THREEPHASE_THREADS", "2")
os.environ.setdefault("THREEPHASE_DATA_ROOT", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))

import pytest  # noqa: E402

_THREAD_GRACE_S = 120.0  # a guard: threads that end normally are joined long before


@pytest.fixture
def tmp_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("THREEPHASE_RUNS_DIR", str(runs))
    return runs


@pytest.fixture
def bench_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/ importable for one test, as running a benchmark script puts it there (its scripts
    import each other by module name)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))


@pytest.fixture
def goto():
    """goto(at, name) -> `at`, set to draw ``pages/<name>.py`` on its next run, as a browser's link does.

    The workbench's pages are callables (``st.Page(render, url_path=name)``), and
    `AppTest.switch_page` finds pages by file: it only works before the first run (a deep link,
    see tests/ui/conftest.py's `open_app`). After that, request the page by the hash of its URL
    path, which is what the browser sends and what `st.navigation` resolves."""
    from streamlit.util import calc_hash

    def _goto(at, name: str):
        at._page_hash = calc_hash(name)
        return at

    return _goto


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    from threephase_core.encoder import make_tiny_encoder

    return str(make_tiny_encoder(tmp_path_factory.getbasetemp() / "tiny"))


def _lingering(before: set[int]) -> list[threading.Thread]:
    out = []
    for t in threading.enumerate():
        if not t.is_alive() or t is threading.main_thread():
            continue
        if t.name.startswith("threephase"):
            out.append(t)
        elif t.ident not in before and not t.daemon and not t.name.startswith("ThreadPoolExecutor"):
            out.append(t)
    return out


@pytest.fixture(scope="session", autouse=True)
def _no_threads_left_behind():
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + _THREAD_GRACE_S
    left = _lingering(before)
    while left and time.monotonic() < deadline:
        for t in left:
            t.join(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
        left = _lingering(before)
    assert not left, (
        f"threads still alive {_THREAD_GRACE_S:.0f} s after the last test: "
        f"{[(t.name, 'daemon' if t.daemon else 'non-daemon') for t in left]}; "
        "a test started a run/worker and did not wait for it or cancel it"
    )
