"""The workbench in a real browser: Debian's chromium driven by Playwright.

Starts `streamlit run app.py` on a free localhost port with an empty runs folder, opens every
page, runs the 3-Phase recipe on the demo data with the tiny model to the end, checks that the
Embeddings page shows one map per phase, measures page switches while a job trains (reported
against a 2 s target), and saves screenshots under ``artifacts/``. With
``THREEPHASE_UPDATE_SCREENSHOTS=1`` the Embeddings screenshot also goes to ``docs/embeddings.png``.

A deep link on a fresh server: for two pages, a new server whose very first request is the
page's URL must draw the page inside app.py's frame (Streamlit's legacy page-folder mode runs
``pages/<page>.py`` as a script until a session has run app.py; see ``pages/_parts/nav.py``).

Knobs (for making README screenshots with a real model): ``THREEPHASE_E2E_MODEL`` (default
``tiny``: the model radio's key) and ``THREEPHASE_E2E_STEPS`` (max steps per phase, default 12).

Without /usr/bin/chromium the test is skipped, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = {  # sidebar label -> (page title, text of the page's last element: the whole page was sent)
    "Home": ("threephase workbench", re.compile("Compare all runs|No runs yet")),
    "Data": ("Data", re.compile("Other samples")),
    "Imbalance & noise": ("Imbalance & noise", re.compile("Per-class numbers")),
    "Train": ("Train", re.compile("Queue all 7 paper recipes")),
    "Embeddings": (
        "Embeddings",
        re.compile("validation texts of run|No run has embeddings|is loading its data and model|is queued behind"),
    ),
    "Results": ("Results", re.compile(r"Trained model \(zip\)|No runs in")),
}
MODEL_LABELS = {"tiny": "Tiny random BERT (fast demo)", "minilm": "MiniLM-L6 (packaged, default)"}
SWITCH_TARGET_S = 2.0

REPORT: list[str] = []  # figures for the terminal summary
pytestmark = pytest.mark.timeout(
    1800 if os.environ.get("THREEPHASE_E2E_MODEL", "tiny") == "tiny" else 3000
)  # hang guards


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _need_browser() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI: tests/e2e/install_browser.sh should have installed it")
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium); run tests/e2e/install_browser.sh as root")
    pytest.importorskip("playwright.sync_api")


@contextlib.contextmanager
def streamlit_server(tmp_path_factory):
    """A freshly started `streamlit run app.py` on a free port with an empty runs folder: yields
    (url, runs folder); stops the server's process group after, and fails on a logged traceback."""
    _need_browser()
    runs = tmp_path_factory.mktemp("e2e-runs")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("e2e-log") / "streamlit.log", "w+")
    env = {**os.environ, "THREEPHASE_RUNS_DIR": str(runs), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a guard: the loop ends when the server answers
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"streamlit did not start:\n{log.read()[-3000:]}")
        time.sleep(0.3)
    try:
        yield url, runs
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and only its own process group
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.seek(0)
        text = log.read()
        log.close()
    assert "Traceback" not in text, f"the server logged a traceback:\n{text[-4000:]}"


@contextlib.contextmanager
def browser_page():
    """One page of a headless Debian chromium (see TESTING notes: no network chatter)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        pg = browser.new_page(viewport={"width": 1500, "height": 1100})
        pg.set_default_timeout(180_000)  # a guard for a loaded machine
        try:
            yield pg
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(tmp_path_factory) as started:
        yield started


@pytest.fixture(scope="module")
def page(server):
    with browser_page() as pg:
        yield pg


def settled(pg, label: str, timeout_s: float = 300.0, min_charts: int = 0) -> None:
    """Wait until the page `label` is drawn: its heading and its last element shown, script
    idle, no skeletons, every plotly chart rendered (at least `min_charts`)."""
    title, last = PAGES[label]
    deadline = time.monotonic() + timeout_s
    heading = pg.locator('[data-testid="stApp"] h1', has_text=title)
    end = pg.locator('[data-testid="stMain"]').get_by_text(last)
    while time.monotonic() < deadline:
        if heading.count() and end.count():
            status = pg.locator('[data-testid="stStatusWidget"]')
            running = status.count() > 0 and "Running" in (status.first.inner_text() or "")
            skeleton = pg.locator('[data-testid="stSkeleton"]').count()
            charts = pg.locator('[data-testid="stPlotlyChart"]').count()
            # Charts with their plot drawn (a plotly chart holds two .main-svg layers, so counting
            # those let 3 charts pass for 4).
            drawn = pg.locator('[data-testid="stPlotlyChart"]:has(.main-svg)').count()
            if not running and not skeleton and charts >= min_charts and drawn >= charts:
                return
        pg.wait_for_timeout(50)
    raise AssertionError(f"page {label!r} did not finish drawing in {timeout_s:.0f} s")


def no_exception(pg, where: str) -> None:
    exc = pg.locator('[data-testid="stException"]')
    assert exc.count() == 0, f"{where}: the page shows an exception: {exc.first.inner_text()[:600]}"


def goto_nav(pg, label: str, timeout_s: float = 300.0, min_charts: int = 0) -> float:
    """Click a sidebar link and wait for the page; returns the seconds it took."""
    t0 = time.perf_counter()
    pg.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
    settled(pg, label, timeout_s, min_charts)
    return time.perf_counter() - t0


def shot(pg, name: str, down_to=None) -> Path:
    """Save a screenshot; with `down_to` (a locator), cut it just below that element."""
    path = ARTIFACTS / f"{name}.png"
    box = down_to.bounding_box() if down_to is not None else None
    if box:
        size = pg.viewport_size
        pg.screenshot(
            path=str(path),
            clip={
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": min(size["height"], box["y"] + box["height"] + 28),
            },
        )
    else:
        pg.screenshot(path=str(path), full_page=True)
    return path


def run_state(runs: Path) -> str | None:
    folders = [p for p in runs.iterdir() if (p / "status.json").exists()]
    if not folders:
        return None
    try:
        return json.loads((max(folders, key=lambda p: p.stat().st_mtime) / "status.json").read_text()).get("state")
    except ValueError:
        return None


@pytest.mark.parametrize("first", ["Embeddings", "Imbalance & noise"])
def test_a_page_url_as_the_first_request_on_a_fresh_server_renders_in_the_app_frame(tmp_path_factory, first):
    """Until a session has run app.py (whose st.navigation ends it), Streamlit's legacy
    page-folder mode treats pages/*.py as pages of its own: the very first request to a page's
    URL runs that file as a script. It must hand over to app.py: the page's header, inside
    app.py's frame (the sidebar navigation with all six pages, the sidebar status), and the
    navigation works from there."""
    url_path = {"Embeddings": "embeddings", "Imbalance & noise": "imbalance"}[first]
    with streamlit_server(tmp_path_factory) as (url, _), browser_page() as pg:
        pg.goto(f"{url}/{url_path}")  # the server's first request
        settled(pg, first, timeout_s=240, min_charts=2 if first == "Imbalance & noise" else 0)
        no_exception(pg, f"{first} (the first request)")
        assert pg.url == f"{url}/{url_path}"
        nav = [t.split("\n")[-1].strip() for t in pg.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
        assert nav == list(PAGES), f"the sidebar is not app.py's navigation: {nav}"
        assert pg.locator('[data-testid="stSidebar"]').get_by_text("Device:").count() == 1, (
            "app.py's sidebar status is missing"
        )
        assert pg.locator('[data-testid="stApp"] h1').all_inner_texts() == [PAGES[first][0]]
        goto_nav(pg, "Results")
        no_exception(pg, "Results, after the first request")
        assert pg.url == f"{url}/results"


def test_workbench_end_to_end(server, page):
    url, runs = server
    pg = page
    model = os.environ.get("THREEPHASE_E2E_MODEL", "tiny")
    steps = os.environ.get("THREEPHASE_E2E_STEPS", "12")

    # 1. Every page opens on an empty run store. The first visit is a deep link: on a fresh
    #    server Streamlit's legacy page-folder mode runs pages/data.py as a script, which hands
    #    over to app.py (pages/_parts/nav.py): the page must come with app.py's navigation.
    pg.goto(f"{url}/data")
    settled(pg, "Data", timeout_s=120, min_charts=1)
    nav = pg.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert any("Imbalance & noise" in t for t in nav), f"the sidebar is not app.py's navigation: {nav}"
    goto_nav(pg, "Home")
    assert pg.get_by_role("button", name="Run 3-Phase on the demo data").count() == 1
    assert pg.get_by_text("Device").count() >= 1
    no_exception(pg, "Home")
    shot(pg, "home")
    for label, min_charts, name in (
        ("Data", 1, "data"),
        ("Imbalance & noise", 2, "imbalance"),
        ("Embeddings", 0, None),
        ("Results", 0, None),
        ("Train", 0, None),
    ):
        goto_nav(pg, label, min_charts=min_charts)
        no_exception(pg, label)
        if name:
            shot(pg, name)

    # 2. Start the 3-Phase recipe on the demo data with a small model and a step cap.
    pg.get_by_text(MODEL_LABELS[model], exact=True).click()
    settled(pg, "Train")
    steps_box = pg.get_by_role("spinbutton", name="Max steps per phase (0 = full)")
    steps_box.fill(steps)
    steps_box.press("Enter")
    settled(pg, "Train")
    pg.get_by_role("button", name="Start", exact=True).click()
    deadline = time.monotonic() + 600  # a guard: the loop ends when the run folder says running
    while run_state(runs) != "running" and time.monotonic() < deadline:
        pg.wait_for_timeout(200)
    assert run_state(runs) == "running", "the job did not start"
    pg.locator('[data-testid="stProgress"]').first.wait_for()
    shot(pg, "train_running")

    # 3. Page switches while the job trains: each must draw in under 2 s.
    timings: list[tuple[str, float]] = []
    for label in ("Home", "Data", "Imbalance & noise", "Results", "Embeddings", "Train") * 2:
        if run_state(runs) != "running":
            break
        took = goto_nav(pg, label)
        if run_state(runs) == "running":  # only count switches made while the job was training
            timings.append((label, took))
        no_exception(pg, f"{label} (while training)")
    assert timings, "the job ended before any page switch could be measured"
    figures = ", ".join(f"{label} {t:.2f} s" for label, t in timings)
    worst = max(t for _, t in timings)
    line = (
        f"PAGE SWITCH WHILE TRAINING: n={len(timings)} median {statistics.median(t for _, t in timings):.2f} s, "
        f"max {worst:.2f} s ({figures})"
    )
    print("\n" + line)
    REPORT.append(line)  # printed in pytest's terminal summary even without -s (conftest.py)
    # Every switch above finished drawing (settled); how fast is reported, not asserted: a test's
    # wall-clock limit fails on a loaded machine. SWITCH_TARGET_S is the target the report names.
    if worst >= SWITCH_TARGET_S:
        REPORT.append(
            f"PAGE SWITCH OVER TARGET: {worst:.2f} s (target {SWITCH_TARGET_S} s; a loaded machine slows it)"
        )

    # 4. The job finishes; the Train page says so.
    if "Train" not in pg.locator('[data-testid="stApp"] h1').first.inner_text():
        goto_nav(pg, "Train")
    limit = 1800 if model != "tiny" else 1200  # generous: a busy CI machine slows training, not the pages
    try:
        pg.get_by_text("Done. The maps of each phase and the scores are ready.").wait_for(timeout=limit * 1000)
    except Exception:
        shot(pg, "train_timeout")
        raise AssertionError(
            f"the run did not finish in {limit} s (state {run_state(runs)!r}); see artifacts/train_timeout.png"
        ) from None
    assert run_state(runs) == "done"
    no_exception(pg, "Train (done)")
    shot(pg, "train_done")

    # 5. Embeddings: one map per phase (base, DAE, CL, FT); UMAP swaps in for PCA when ready.
    goto_nav(pg, "Embeddings", min_charts=4)
    no_exception(pg, "Embeddings")
    charts = pg.locator('[data-testid="stPlotlyChart"]')
    assert charts.count() == 4, f"expected one map per phase (4), got {charts.count()}"
    for title in ("Base encoder", "After DAE", "After CL", "After FT"):
        assert pg.locator('[data-testid="stPlotlyChart"]', has_text=title).count() == 1, f"no map titled {title!r}"
    deadline = time.monotonic() + 90
    while pg.locator('[data-testid="stPlotlyChart"]', has_text="UMAP").count() < 4 and time.monotonic() < deadline:
        pg.wait_for_timeout(500)
    settled(pg, "Embeddings", min_charts=4)
    umap_maps = pg.locator("[data-testid=stPlotlyChart]", has_text="UMAP").count()
    print(f"Embeddings maps: {'UMAP' if umap_maps == 4 else 'PCA'}")
    emb = shot(
        pg, "embeddings", down_to=pg.locator('[data-testid="stMain"]').get_by_text(PAGES["Embeddings"][1]).first
    )
    if os.environ.get("THREEPHASE_UPDATE_SCREENSHOTS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(emb, REPO / "docs" / "embeddings.png")

    # 6. Results lists the finished run with its scores.
    goto_nav(pg, "Results", min_charts=2)
    no_exception(pg, "Results")
    assert pg.get_by_text("Recipes compared").count() == 1
    shot(pg, "results")
