"""The lecturer's path through the workbench in a real browser at 1280 × 800, the smallest width
the workbench supports: Home's one-click demo → Train → Imbalance & noise → Embeddings → Results
(→ Data), checking on every page that no label or value is cut off.

"Cut off" is measured, not judged from a screenshot: a text is cut when it is wider than a box
that hides what overflows (its own box with an ellipsis, or any ancestor up to the page whose
overflow is not visible), or when it lies outside the page's main column. The labels a first try
found cut are named one by one ("CPU (2 cores)", a wall time, "Validation accuracy", the
comparison table's last column, the sample texts on the Data page); on top of that every page is
swept for any element that clips its text, and for rows of options (segmented controls, pills)
that scroll out of sight. Also checked: the loss chart has a legend and no empty panel, a map's
tooltip stays inside the map, and a map's "reset view" button brings a zoomed map back.

The demo run is kept light through the workbench's own saved settings (the tiny random model, a
step cap of a few steps per phase), which a new browser session starts from. Waits are for
events (the run folder's status, elements appearing), with guards of minutes, never sleeps.
Without /usr/bin/chromium the test is skipped, except in CI, as the other browser tests.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from test_browser import browser_page, no_exception, settled, shot, streamlit_server

PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

pytestmark = pytest.mark.timeout(3600)  # a hang guard
WIDTH, HEIGHT = 1280, 800
STEPS = 3  # max steps per phase of the demo run

# The text of an element is cut when it is wider than its own box (ellipsis) or than an ancestor
# that hides overflow; returns a description of each cut, [] when the text fits.
CUT_JS = """
(el) => {
  const cuts = [];
  const range = document.createRange();
  range.selectNodeContents(el);
  const text = range.getBoundingClientRect();
  const cs = getComputedStyle(el);
  if (el.scrollWidth > el.clientWidth + 1 && (cs.overflowX !== 'visible' || cs.textOverflow === 'ellipsis'))
    cuts.push(`its own box (${el.scrollWidth} > ${el.clientWidth} px)`);
  const main = document.querySelector('[data-testid="stMain"]');
  for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
    const ucs = getComputedStyle(up);
    if (ucs.overflowX !== 'visible') {
      const box = up.getBoundingClientRect();
      if (text.left < box.left - 1 || text.right > box.right + 1)
        cuts.push(`${up.getAttribute('data-testid') || up.tagName} (text ${text.left | 0}-${text.right | 0}, `
                  + `box ${box.left | 0}-${box.right | 0})`);
    }
    if (up === main) break;
  }
  return cuts;
}
"""

# Every element on the page that clips its own text, and every row of options scrolled out of view.
SWEEP_JS = """
() => {
  const out = [];
  for (const el of document.querySelectorAll('[data-testid="stMain"] *, [data-testid="stSidebar"] *')) {
    if (!el.offsetParent) continue;
    const cs = getComputedStyle(el);
    const text = (el.innerText || '').trim();
    if (!text || el.closest('[data-testid="stDataFrame"], [data-testid="stCode"], pre, .js-plotly-plot')) continue;
    const clips = ['hidden', 'clip'].includes(cs.overflowX) || cs.textOverflow === 'ellipsis';
    if (clips && el.scrollWidth > el.clientWidth + 1) out.push(`clipped: ${text.slice(0, 60)}`);
  }
  for (const g of document.querySelectorAll('[data-testid="stButtonGroup"] > div:last-child')) {
    if (g.scrollWidth > g.clientWidth + 1) out.push(`options out of view: ${g.innerText.replace(/\\n/g, ' | ')}`);
  }
  return out;
}
"""


def assert_fits(pg, locator, what: str) -> None:
    """The element's text is neither cut by a box nor outside the viewport."""
    locator.first.wait_for()
    cuts = locator.first.evaluate(CUT_JS)
    assert not cuts, f"{what}: {locator.first.inner_text()!r} is cut off by {cuts}"
    box = locator.first.bounding_box()
    assert box and box["x"] + box["width"] <= WIDTH + 1, f"{what} runs past the window's right edge: {box}"


def sweep(pg, where: str) -> None:
    found = pg.evaluate(SWEEP_JS)
    assert not found, f"{where}: cut-off text at {WIDTH} px: {found}"


GUARD_S = 900  # page draws on a loaded machine: a hang guard, never a timing


def nav(pg, label: str, min_charts: int = 0) -> None:
    pg.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
    settled(pg, label, GUARD_S, min_charts=min_charts)
    no_exception(pg, label)


def option(pg, text: str):
    """One option of a segmented control or of pills."""
    return pg.locator('[data-testid="stButtonGroup"] button').filter(has_text=re.compile(f"^{re.escape(text)}$"))


def metric_value(pg, label: str):
    return pg.locator('[data-testid="stMetric"]', has_text=label).locator('[data-testid="stMetricValue"]')


def run_status(runs: Path) -> dict:
    folders = [p for p in runs.iterdir() if (p / "status.json").exists()]
    if not folders:
        return {}
    try:
        return json.loads((max(folders, key=lambda p: p.stat().st_mtime) / "status.json").read_text())
    except ValueError:  # being written
        return {}


def wait_for_run(pg, runs: Path, guard_s: float = 1200) -> None:
    deadline = time.monotonic() + guard_s
    while run_status(runs).get("state") not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"the demo run did not end in {guard_s:.0f} s: {run_status(runs)}"
        pg.wait_for_timeout(250)
    assert run_status(runs)["state"] == "done", run_status(runs)


def plot_range(chart) -> list:
    return chart.evaluate("el => { const p = el.querySelector('.js-plotly-plot'); return p.layout.xaxis.range; }")


def test_the_lecturers_path_shows_every_label_in_full(tmp_path_factory):
    with streamlit_server(tmp_path_factory) as (url, runs), browser_page() as pg:
        (runs / "_workbench").mkdir(exist_ok=True)  # the settings a new session starts from
        (runs / "_workbench" / "settings.json").write_text(
            json.dumps({"wb.model_kind": "tiny", "wb.max_steps": STEPS})
        )
        pg.set_viewport_size({"width": WIDTH, "height": HEIGHT})

        # Home: the device and the demo button, in full; then the one-click demo.
        pg.goto(url)
        settled(pg, "Home", GUARD_S)
        no_exception(pg, "Home")
        assert_fits(pg, metric_value(pg, "Device"), "Home's device")
        sweep(pg, "Home")
        pg.get_by_role("button", name=re.compile("^Run 3-Phase on the demo data")).click()
        deadline = time.monotonic() + 120
        while not run_status(runs) and time.monotonic() < deadline:
            pg.wait_for_timeout(100)
        assert run_status(runs), "the demo button queued no run"

        # Train: the running job, then the finished one with its wall times and loss curves.
        nav(pg, "Train")
        sweep(pg, "Train (running)")
        wait_for_run(pg, runs)
        nav(pg, "Train")
        pg.get_by_text(re.compile(r"FT · done in")).first.wait_for(timeout=GUARD_S * 1000)
        settled(pg, "Train", GUARD_S, min_charts=1)
        for phase in ("DAE", "CL", "FT"):
            assert_fits(pg, pg.get_by_text(re.compile(rf"{phase} · done in")), f"the {phase} wall time")
        for button in ("Stop", "Clear queue"):
            assert_fits(pg, pg.get_by_role("button", name=button), f"the {button} button")
        loss = pg.locator('[data-testid="stPlotlyChart"]').first
        assert loss.locator(".legend").count() == 1, "the loss chart has no legend"
        legend = " ".join(loss.locator(".legend text").all_text_contents())
        assert "moving average" in legend and "validation accuracy" in legend, legend
        titles = [t for t in loss.locator(".annotation-text").all_text_contents() if t.endswith("loss")]
        assert titles == ["DAE loss", "CL loss", "FT loss"], titles  # one panel per phase with data
        sweep(pg, "Train (done)")
        shot(pg, "lecturer_train")

        # Imbalance & noise: readable presets; at extra (1.5, 20) the note on overgrown classes.
        nav(pg, "Imbalance & noise", min_charts=2)
        for preset in ("normal (1.5, 4)", "extra (1.5, 20)", "none (1, 1)", "custom"):
            assert_fits(pg, option(pg, preset), f"the preset {preset}")
        option(pg, "extra (1.5, 20)").click()
        pg.get_by_text("larger than the largest class").first.wait_for()
        settled(pg, "Imbalance & noise", GUARD_S, min_charts=2)
        assert_fits(pg, pg.get_by_role("button", name="Use these values as the Train defaults"), "the hand-over")
        sweep(pg, "Imbalance & noise")
        shot(pg, "lecturer_imbalance")

        # Embeddings: four maps; a tooltip inside its map; zoom, then reset view.
        nav(pg, "Embeddings", min_charts=4)
        maps = pg.locator('[data-testid="stPlotlyChart"]')
        deadline = time.monotonic() + 300  # UMAP replaces PCA when it is ready (a redraw): wait for it
        while maps.filter(has_text="UMAP").count() < 4 and time.monotonic() < deadline:
            pg.wait_for_timeout(250)
        settled(pg, "Embeddings", GUARD_S, min_charts=4)
        assert maps.count() == 4, maps.count()
        sweep(pg, "Embeddings")
        first = maps.first
        area = first.locator(".nsewdrag").first.bounding_box()
        tip = first.locator(".hoverlayer .hovertext")
        for i in range(400):  # the mouse sweeps the map from its right edge, where a tooltip was cut
            x = area["x"] + area["width"] * (0.97 - 0.9 * (i // 20) / 19)
            pg.mouse.move(x, area["y"] + area["height"] * (0.05 + 0.9 * (i % 20) / 19))
            try:
                tip.first.wait_for(timeout=150)
                break
            except PlaywrightTimeout:
                continue
        assert tip.count(), "no tooltip appeared anywhere on the first map"
        box, frame = tip.first.bounding_box(), first.bounding_box()
        assert box["x"] >= frame["x"] - 1 and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1, (
            f"the tooltip ({box}) sticks out of its map ({frame})"
        )
        before = plot_range(first)
        pg.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
        pg.mouse.wheel(0, -400)  # zoom in (the maps zoom with the wheel)
        deadline = time.monotonic() + 60
        while plot_range(first) == before and time.monotonic() < deadline:
            pg.wait_for_timeout(100)
        assert plot_range(first) != before, "the wheel did not zoom the map"
        first.hover()
        reset = first.locator('.modebar-btn[data-title="Reset axes"]')
        assert reset.count() == 1, "the map has no reset-view button"
        reset.click()
        deadline = time.monotonic() + 60
        while plot_range(first) != before and time.monotonic() < deadline:
            pg.wait_for_timeout(100)
        assert plot_range(first) == pytest.approx(before), "reset view did not bring the whole map back"
        shot(pg, "lecturer_embeddings")

        # Results: the score switch, the training time, the comparison table to its last column.
        nav(pg, "Results", min_charts=1)
        assert_fits(pg, option(pg, "Validation accuracy"), "the score switch")
        assert_fits(pg, metric_value(pg, "Training time"), "the training time")
        table = pg.locator('[data-testid="stTable"]').first
        headers = table.locator("th")
        assert_fits(pg, headers.last, "the comparison table's last column")
        assert_fits(pg, table.locator("tbody tr").first.locator("td").last, "the comparison table's last cell")
        assert "(1 seed)" in table.inner_text() and "± 0.0" not in table.inner_text()
        sweep(pg, "Results")
        shot(pg, "lecturer_results")

        # Data: the sample texts, each in full.
        nav(pg, "Data", min_charts=1)
        samples = pg.locator('[data-testid="stTable"]').last.locator("td")
        assert samples.count() >= 7
        for i in range(samples.count()):
            assert_fits(pg, samples.nth(i), "a sample text")
        sweep(pg, "Data")
