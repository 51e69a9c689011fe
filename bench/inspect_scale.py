"""How the Embeddings page copes with a 20,000-text map: UMAP wall time (warm) and redraw time.

    python bench/inspect_scale.py --out bench/results/inspect_scale_cpu.md
    python bench/inspect_scale.py --rows 5000 --no-browser     # a quick look, no file written without --out

Builds one synthetic finished run (``--rows`` validation texts, 384-d, 10 classes, the phases
base, DAE, CL and FT drawn as clusters that tighten phase by phase, FT class probabilities) in a
temporary runs folder, then measures:

1. UMAP, warm (numba compiled by `projection.warm_up_umap` first): one phase's map
   (`projection.umap_2d`) and all phases' aligned maps (`workbench.compute_projection`, the
   page's background job).
2. The page's server-side redraw: `streamlit.testing.v1.AppTest` runs app.py on the Embeddings
   page with the UMAP maps cached, and times a rerun after the colouring changes (the script
   builds and sends every map).
3. With Debian's chromium and Playwright (skipped otherwise, or with ``--no-browser``): a real
   server and browser; the time from choosing another colouring until every map is drawn again,
   and the first load of the page.

The figures go to stdout and, with ``--out``, to a Markdown file with the command, the commit
and the package versions. Synthetic embeddings: the timings depend on the number of points and
dimensions, not on what the texts say.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from provenance import commit, versions_text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PHASES = ("base", "dae", "cl", "ft")
SPREAD = {"base": 2.2, "dae": 2.0, "cl": 0.9, "ft": 0.6}  # within-class noise per phase: the clusters tighten
CHROMIUM = "/usr/bin/chromium"
LOAD_AT_START = 0.0
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def make_run(root: Path, rows: int, classes: int = 10, dim: int = 384, seed: int = 0) -> Path:
    """A finished run folder the workbench lists, with synthetic embeddings of ``rows`` texts."""
    from threephase_core.config import save_config
    from threephase_core.recipes import build_config
    from threephase_core.runstore import RunStore

    rng = np.random.default_rng(seed)
    run = RunStore(root).create("three_phase", "synthetic", seed)
    save_config(build_config("three_phase", {"model": "tiny", "embed_rows": rows}), run.path / "config.json")
    names = [f"class {c}" for c in range(classes)]
    run.write("data.json", {"label_names": names, "rows": {"validation": rows}})
    run.write("metrics.json", {"phases": {p: {} for p in PHASES}})
    run.update_status(state="done", created=time.time(), message="synthetic")
    labels = rng.integers(0, classes, rows)
    words = np.array(
        "the a refund order song play alarm weather set find my please tomorrow music turn up cancel".split()
    )
    texts = [" ".join(rng.choice(words, rng.integers(4, 14))) for _ in range(rows)]
    centres = rng.normal(size=(classes, dim))
    for phase in PHASES:
        emb = centres[labels] + rng.normal(scale=SPREAD[phase], size=(rows, dim))
        run.save_embeddings(phase, emb.astype(np.float32), labels, texts)
    logits = rng.normal(size=(rows, classes)) + 4 * np.eye(classes)[labels]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    with np.load(run.path / "embeddings" / "ft.npz") as z:
        arrays = {k: z[k] for k in z.files}
    np.savez_compressed(run.path / "embeddings" / "ft.npz", **arrays, proba=proba.astype(np.float32))
    return run.path


def time_umap(run_path: Path) -> dict:
    from threephase_core import projection
    from threephase_core import workbench as wb
    from threephase_core.runstore import Run

    t0 = time.perf_counter()
    projection.warm_up_umap(background=False)
    compile_s = time.perf_counter() - t0
    run = Run(run_path)
    emb = {}
    for phase in ("cl", "ft"):
        with np.load(run_path / "embeddings" / f"{phase}.npz") as z:
            emb[phase] = z["embeddings"]
    t0 = time.perf_counter()
    projection.umap_2d(emb["cl"], seed=0)  # above 10,000 rows umap's own neighbour search compiles on first use
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    projection.umap_2d(emb["ft"], seed=0)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    layouts = wb.compute_projection(run, "umap")
    every = time.perf_counter() - t0
    assert list(layouts) == list(PHASES)
    return {"warm_up_s": compile_s, "first_map_s": first, "one_map_s": warm, "all_maps_s": every}


def time_apptest(runs: Path, repeats: int) -> dict:
    """Server-side redraw: the page's script after a colouring change (UMAP maps cached)."""
    os.environ["THREEPHASE_RUNS_DIR"] = str(runs)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
    at.switch_page("pages/embeddings.py")
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    spec_bytes = sum(len(el.proto.spec) for el in at.get("plotly_chart"))
    times = []
    for i in range(repeats):
        at.selectbox(key="emb:emb.colour").set_value("correct" if i % 2 == 0 else "class")
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, [e.value for e in at.exception]
    return {
        "first_s": first,
        "redraw_s": statistics.median(times),
        "redraws": times,
        "spec_mb": spec_bytes / 1e6,
        "maps": len(at.get("plotly_chart")),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_browser(runs: Path, repeats: int) -> dict | None:
    """A real server and Chromium: first load, then a colouring change until every map is drawn."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    port = _free_port()
    env = {**os.environ, "THREEPHASE_RUNS_DIR": str(runs), "HF_HUB_OFFLINE": "1"}
    log = tempfile.TemporaryFile()
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
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start")
            time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            pg = browser.new_page(viewport={"width": 1500, "height": 1100})
            pg.set_default_timeout(300_000)
            t0 = time.perf_counter()
            pg.goto(f"{url}/embeddings")
            _drawn(pg, len(PHASES))
            first = time.perf_counter() - t0
            times = []
            for i in range(repeats):
                label = "Correct / wrong" if i % 2 == 0 else "True class"
                before = pg.evaluate(COLOURS)
                t0 = time.perf_counter()
                _choose(pg, "Colour by", label)
                while pg.evaluate(COLOURS) == before:  # the new figures have arrived
                    pg.wait_for_timeout(10)
                _drawn(pg, len(PHASES))
                times.append(time.perf_counter() - t0)
            browser.close()
        return {
            "first_s": first,
            "redraw_s": statistics.median(times),
            "redraws": times,
            "chromium": subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip(),
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# The last map's first trace's colours as Plotly drew them: changes when the new figures arrive.
COLOURS = """() => {
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const gd = charts[charts.length - 1];
  return gd && gd._fullData && gd._fullData.length ? JSON.stringify(gd._fullData[0].marker.color).slice(0, 400) : '';
}"""


def _choose(pg, label: str, option: str) -> None:
    pg.get_by_role("combobox", name=label).focus()
    pg.keyboard.press("ArrowDown")  # opens the list (a click on the field does not)
    pg.get_by_role("option", name=option, exact=True).click()


def _drawn(pg, maps: int) -> None:
    """Wait until the script is idle and at least ``maps`` Plotly charts have drawn their canvas."""
    pg.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    pg.wait_for_timeout(100)
    while True:
        status = pg.locator('[data-testid="stStatusWidget"]')
        running = status.count() > 0 and "Running" in (status.first.inner_text() or "")
        drawn = pg.locator('[data-testid="stPlotlyChart"] .main-svg').count()
        if not running and drawn >= maps and not pg.locator('[data-testid="stSkeleton"]').count():
            return
        pg.wait_for_timeout(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0]  # other work on the machine slows every figure here
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    runs = Path(tempfile.mkdtemp(prefix="inspect-scale-"))
    try:
        run_path = make_run(runs, args.rows)
        umap = time_umap(run_path)
        print(
            f"UMAP warm-up {umap['warm_up_s']:.1f} s; first {args.rows:,}-point map {umap['first_map_s']:.1f} s, "
            f"then warm {umap['one_map_s']:.2f} s; all {len(PHASES)} aligned maps {umap['all_maps_s']:.1f} s",
            flush=True,
        )
        server = time_apptest(runs, args.repeats)
        print(
            f"AppTest: first draw {server['first_s']:.2f} s, redraw median {server['redraw_s']:.2f} s "
            f"({', '.join(f'{t:.2f}' for t in server['redraws'])}); {server['maps']} maps, "
            f"{server['spec_mb']:.1f} MB of figures",
            flush=True,
        )
        browser = None if args.no_browser else time_browser(runs, args.repeats)
        if browser:
            print(
                f"Browser: first load {browser['first_s']:.2f} s, redraw median {browser['redraw_s']:.2f} s "
                f"({', '.join(f'{t:.2f}' for t in browser['redraws'])})",
                flush=True,
            )
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    if args.out:
        write(args, umap, server, browser)


def write(args, umap: dict, server: dict, browser: dict | None) -> None:
    from pages._parts.maps import DRAW_CAP

    drawn = min(args.rows, DRAW_CAP)
    lines = [
        "# Embeddings page at scale (CPU)",
        "",
        f"Command: `python bench/inspect_scale.py --rows {args.rows} --repeats {args.repeats}"
        + (" --no-browser" if args.no_browser else "")
        + f" --out {args.out}`  ",
        f"Commit {commit(REPO)}, {time.strftime('%Y-%m-%d')}; load average {LOAD_AT_START:.1f} when it "
        f"started; {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"{versions_text('numpy', 'scikit-learn', 'umap-learn', 'numba', 'plotly', 'streamlit', 'playwright')}"
        + (f"; {browser['chromium']}" if browser else "")
        + ".",
        "",
        f"One synthetic finished run: {args.rows:,} validation texts, 384-d, 10 classes, phases {', '.join(PHASES)} "
        f"(4 maps), FT probabilities. Each map draws {drawn:,} points (cap {DRAW_CAP:,}).",
        "",
        "| what | seconds |",
        "|---|---|",
        f"| UMAP warm-up (numba compile, once per process, in the background at start-up) | {umap['warm_up_s']:.1f} |",
        f"| UMAP of a first {args.rows:,}-point map in the process (above 10,000 rows umap's neighbour search "
        f"compiles on first use) | {umap['first_map_s']:.1f} |",
        f"| UMAP of one {args.rows:,}-point map, warm | {umap['one_map_s']:.2f} |",
        f"| UMAP of all {len(PHASES)} aligned maps (the page's background job) | {umap['all_maps_s']:.1f} |",
        f"| page script, first draw (AppTest; loads the run, {server['spec_mb']:.1f} MB of figures) | "
        f"{server['first_s']:.2f} |",
        f"| page script, redraw after a colouring change (AppTest, median of {args.repeats}) | "
        f"{server['redraw_s']:.2f} |",
    ]
    if browser:
        lines += [
            f"| browser, first load of the page until every map is drawn | {browser['first_s']:.2f} |",
            f"| browser, colouring change until every map is drawn again (median of {args.repeats}) | "
            f"{browser['redraw_s']:.2f} |",
        ]
    else:
        lines.append("| browser | not measured (no chromium/Playwright, or --no-browser) |")
    lines += [
        "",
        "Notes. The browser is headless Chromium started with --disable-gpu, so WebGL draws in software on the "
        "same two cores as the server: a desktop browser with a GPU draws faster. Other work on the machine (the "
        "load average above) slows every row. A redraw remounts all four maps (a changed figure is a new chart "
        "for Streamlit), so it costs about what the first draw of the maps does.",
        "",
        "Redraws: AppTest "
        + ", ".join(f"{t:.2f}" for t in server["redraws"])
        + " s"
        + ("; browser " + ", ".join(f"{t:.2f}" for t in browser["redraws"]) + " s" if browser else "")
        + ".",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
