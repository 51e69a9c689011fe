"""The Embeddings page's inspection in a real browser (Debian's chromium through Playwright).

Reuses test_browser.py's fixtures (a fresh `streamlit run app.py` on an empty runs folder, and
one browser page). A finished demo run of the 3-Phase recipe is made in that runs folder by the
engine (tiny model by default), then the test:

1. drags a real lasso over the CL map and checks that the same texts are selected on every map
   (read from the Plotly charts in the page) and that they are the CL map's points inside the
   lasso, and that the table lists that many texts;
2. finds a text by words, picks it, and checks that the rings drawn around it on each map are
   its k nearest neighbours by a direct cosine computation on the run's saved embeddings;
3. switches to training and validation texts and counts the points drawn;
4. saves ``artifacts/inspect.png`` (the selection and the neighbours); with
   ``THREEPHASE_UPDATE_SCREENSHOTS=1`` also ``docs/inspect.png``.

Knobs as in test_browser.py: ``THREEPHASE_E2E_MODEL`` (``tiny`` or ``minilm``, the model of the
demo run; use minilm for the docs screenshot) and ``THREEPHASE_E2E_STEPS`` (max steps per
phase; default 12 with tiny, 0 = full with another model).
"""

from __future__ import annotations

import os
import re
import shutil
import time

import numpy as np
import pytest
from test_browser import REPO, goto_nav, no_exception, page, server, settled, shot  # noqa: F401 (fixtures)

MODEL = os.environ.get("THREEPHASE_E2E_MODEL", "tiny")
STEPS = int(os.environ.get("THREEPHASE_E2E_STEPS", "12" if MODEL == "tiny" else "0"))
PHASES = ("base", "dae", "cl", "ft")
TITLES = {"base": "Base encoder", "dae": "After DAE", "cl": "After CL", "ft": "After FT"}
K = 10  # the page's default number of neighbours

pytestmark = pytest.mark.timeout(900 if MODEL == "tiny" else 1800)

# Each map's points: {id: [x, y]} of the traces that carry ids, the selected ids, and the rings'
# (neighbours overlay) coordinates; plus the plot area's axes to turn pixels into data.
READ_MAPS = """() => {
  const out = {};
  for (const el of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    const gd = el.querySelector('.js-plotly-plot');
    if (!gd || !gd._fullData || !gd.layout || !gd.layout.title) continue;
    const title = (gd.layout.title.text || '').replace(/<[^>]*>/g, '');  // Streamlit's theme makes titles bold
    const points = {}, selected = [], rings = [];
    for (const t of gd._fullData) {  // decoded arrays (gd.data may hold them base64-encoded)
      if (!t.customdata) {  // overlays: the picked text's neighbours are rings
        if (t.name === 'neighbours') for (let i = 0; i < t.x.length; i++) rings.push([t.x[i], t.y[i]]);
        continue;
      }
      for (let i = 0; i < t.customdata.length; i++) points[t.customdata[i]] = [t.x[i], t.y[i]];
      for (const i of (t.selectedpoints || [])) selected.push(t.customdata[i]);
      if (t.customdata[0] === undefined) throw new Error('no ids in a map trace');
    }
    out[title] = {points, selected, rings};
  }
  return out;
}"""
TO_DATA = """([title, pixels]) => {
  for (const el of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    const gd = el.querySelector('.js-plotly-plot');
    if (!gd || !gd.layout || !gd.layout.title) continue;
    if ((gd.layout.title.text || '').replace(/<[^>]*>/g, '') !== title) continue;
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
    return pixels.map(([px, py]) => [xa.p2d(px - box.left), ya.p2d(py - box.top)]);
  }
  return null;
}"""


def by_phase(maps: dict) -> dict:
    """phase -> its map's data (READ_MAPS); phases not drawn (yet) are missing."""
    out = {}
    for phase in PHASES:
        found = [v for t, v in maps.items() if t.startswith(TITLES[phase] + " · ")]
        if found:
            out[phase] = found[0]
    return out


def inside(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    x, y = points[:, 0], points[:, 1]
    result = np.zeros(len(points), dtype=bool)
    for i in range(len(poly)):
        (x1, y1), (x2, y2) = poly[i], poly[i - 1]
        result ^= ((y1 > y) != (y2 > y)) & (x < (x2 - x1) * (y - y1) / (y2 - y1 + 1e-300) + x1)
    return result


def direct_neighbours(emb: np.ndarray, row: int, k: int) -> list[int]:
    u = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    s = u @ u[row]
    s[row] = -np.inf
    return list(np.argsort(-s, kind="stable")[:k])


def wait_for(pg, check, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            shot(pg, "inspect_timeout")
            raise AssertionError(f"{what} did not happen in {timeout_s:.0f} s; see artifacts/inspect_timeout.png")
        pg.wait_for_timeout(200)


@pytest.fixture(scope="module")
def finished(server):  # noqa: F811 (test_browser's fixture)
    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    _, runs = server
    run, result = run_recipe(build_config("three_phase", {"model": MODEL, "max_steps": STEPS}), runs)
    assert result["state"] == "done", result
    return run


def test_select_follow_and_read_neighbours_in_the_browser(server, page, finished):  # noqa: F811 (fixtures)
    url, _ = server
    pg = page
    run = finished
    pg.goto(f"{url}/embeddings")
    settled(pg, "Embeddings", timeout_s=180, min_charts=4)
    wait_for(pg, lambda: pg.locator('[data-testid="stPlotlyChart"]', has_text="UMAP").count() >= 4, "UMAP maps", 240)
    settled(pg, "Embeddings", min_charts=4)
    no_exception(pg, "Embeddings")

    # 1. A real lasso on the CL map (the maps' drag mode is lasso).
    cl_title = f"{TITLES['cl']} · UMAP"
    area = pg.locator('[data-testid="stPlotlyChart"]', has_text=cl_title).locator(".nsewdrag").first.bounding_box()
    cx, cy, w, h = area["x"], area["y"], area["width"], area["height"]
    lasso = [
        (cx + w * fx, cy + h * fy) for fx, fy in ((0.05, 0.05), (0.55, 0.08), (0.6, 0.6), (0.3, 0.95), (0.04, 0.7))
    ]
    pg.mouse.move(*lasso[0])
    pg.mouse.down()
    for point in lasso[1:] + lasso[:1]:
        pg.mouse.move(*point, steps=8)
    pg.mouse.up()
    wait_for(pg, lambda: pg.get_by_text("selected text").count() > 0, "the selection table")
    settled(pg, "Embeddings", min_charts=4)
    no_exception(pg, "Embeddings after a lasso")
    maps = by_phase(pg.evaluate(READ_MAPS))
    chosen = set(maps["cl"]["selected"])
    assert chosen, "the lasso selected nothing"
    for phase in PHASES:
        assert set(maps[phase]["selected"]) == chosen, f"{phase} map does not show the CL selection"
    poly = np.array(pg.evaluate(TO_DATA, [cl_title, lasso]))
    ids = np.array([int(i) for i in maps["cl"]["points"]])
    xy = np.array(list(maps["cl"]["points"].values()), dtype=float)
    assert chosen == set(ids[inside(xy, poly)].tolist()), "the selection is not the CL map's points inside the lasso"
    assert pg.get_by_text(f"{len(chosen)} selected text").count() == 1

    # 2. Find a text by words and read its neighbours (rings on the maps, tables below).
    with np.load(run.path / "embeddings" / "base.npz") as z:
        texts = [str(t) for t in z["texts"]]
    target = sorted(chosen)[0]
    pg.get_by_role("radio", name="Neighbours").click()  # the section picker (a segmented control)
    box = pg.get_by_role("textbox", name="Find a text by words")
    box.wait_for()
    settled(pg, "Embeddings", min_charts=4)
    words = " ".join(texts[target].split()[:4])
    matches = pg.get_by_role("combobox", name=re.compile("matching text"))
    for _ in range(3):  # typing during a redraw can be lost: type again until the search answers
        box.fill(words)
        box.press("Enter")
        try:
            matches.wait_for(timeout=15_000)
            break
        except Exception:
            continue
    option = pg.get_by_role("option").filter(has_text=texts[target][:40]).first
    for _ in range(5):  # a redraw between focus and key press closes the list: open it again
        settled(pg, "Embeddings", min_charts=4)
        matches.focus()
        pg.keyboard.press("ArrowDown")  # opens the list (a click on the field does not)
        try:
            option.wait_for(timeout=20_000)
            break
        except Exception:
            continue
    option.click()
    wait_for(pg, lambda: pg.get_by_text("Picked text").count() > 0, "the picked text")
    settled(pg, "Embeddings", min_charts=4)
    no_exception(pg, "Embeddings after a search")
    maps = by_phase(pg.evaluate(READ_MAPS))
    for phase in PHASES:
        with np.load(run.path / "embeddings" / f"{phase}.npz") as z:
            want = direct_neighbours(z["embeddings"], target, K)
        where = {tuple(np.round(v, 5)): int(i) for i, v in maps[phase]["points"].items()}
        rings = [where[tuple(np.round(v, 5))] for v in maps[phase]["rings"]]
        assert rings == want, f"{phase}: the rings are not the {K} nearest neighbours by cosine"
    pg.set_viewport_size({"width": 1500, "height": 2000})  # the maps and the neighbour tables in one picture
    pg.locator('[data-testid="stMain"]').evaluate("main => main.scrollTo(0, 0)")
    pg.wait_for_timeout(500)
    settled(pg, "Embeddings", min_charts=4)
    path = shot(pg, "inspect", down_to=pg.locator('[data-testid="stDataFrame"]').last)
    pg.set_viewport_size({"width": 1500, "height": 1100})
    if os.environ.get("THREEPHASE_UPDATE_SCREENSHOTS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(path, REPO / "docs" / "inspect.png")

    # 3. Training and validation texts: the points drawn per map.
    n_val = len(texts)
    train_file = run.path / "embeddings" / "train" / "base.npz"
    assert train_file.exists(), "the run saved no training-text embeddings"
    with np.load(train_file) as z:
        n_train = len(z["labels"])
    for label, count in (("Both", n_val + n_train), ("Training", n_train), ("Validation", n_val)):
        pg.locator('[data-testid="stButtonGroup"]', has_text="Both").get_by_role("button", name=label, exact=True).or_(
            pg.get_by_role("radio", name=label)
        ).first.click()
        wait_for(
            pg,
            lambda c=count: [len(m["points"]) for m in by_phase(pg.evaluate(READ_MAPS)).values()] == [c] * len(PHASES),
            f"{label}: {count} points per map",
        )
        no_exception(pg, f"Embeddings with {label} texts")
