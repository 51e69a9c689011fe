"""The Embeddings page's inspection, through AppTest on a finished demo run (tiny model).

AppTest does not drive chart interactions, so a lasso is made here the way Plotly makes it: the
points of the CL map inside a polygon become a selection event (curve, index, customdata), which
goes through the same functions the page's on_select callback calls (`map_selection.selected_ids`,
`maps.apply_selection`). The real-browser test (tests/e2e/test_inspection_browser.py) drags a
real lasso. Expected values are computed here directly from the run folder's files.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from pages._parts import maps
from threephase_core import inspection as ins
from threephase_core import label_issues, map_selection
from threephase_core import neighbours as nb
from threephase_core.runstore import RunStore

TITLES = ("Base encoder", "After DAE", "After CL", "After FT")
PHASES = ("base", "dae", "cl", "ft")


# ---- helpers ------------------------------------------------------------------------------
def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def values(v) -> list:
    """A trace's data as a list: plotly writes numpy arrays as typed arrays {dtype, bdata}."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def array(v) -> np.ndarray:
    """A typed array of any shape (a heatmap's z: {dtype, bdata, shape: "rows, cols"})."""
    if isinstance(v, dict) and "bdata" in v:
        shape = tuple(int(n) for n in str(v.get("shape", "-1")).split(","))
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).reshape(shape)
    return np.asarray(v, dtype=float)


def phase_maps(at) -> dict[str, dict]:
    """phase -> the figure of its map (the charts whose title is 'After CL · UMAP' and so on)."""
    out = {}
    for el in at.get("plotly_chart"):
        fig = json.loads(el.proto.spec)
        title = (fig["layout"].get("title") or {}).get("text", "")
        for phase, name in zip(PHASES, TITLES):
            if title.startswith(name + " · "):
                out[phase] = fig
    return out


def id_traces(fig: dict) -> list[dict]:
    return [t for t in fig["data"] if "customdata" in t]


def drawn_ids(fig: dict) -> list[int]:
    return [int(i) for t in id_traces(fig) for i in values(t["customdata"])]


def selected_on(fig: dict) -> set[int]:
    out = set()
    for t in id_traces(fig):
        ids = values(t["customdata"])
        out |= {int(ids[i]) for i in t.get("selectedpoints") or []}
    return out


def marker_colours(trace: dict) -> list[str]:
    """Each point's colour: one colour for the trace, or numbers on a stepped colour scale."""
    colour = trace["marker"]["color"]
    if isinstance(colour, str):
        return [colour] * len(values(trace["customdata"]))
    scale = trace["marker"]["colorscale"]
    return [scale[int(v)][1] for v in values(colour)]


def inside(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Ray casting: which points lie inside the polygon (as Plotly's lasso decides)."""
    result = np.zeros(len(x), dtype=bool)
    px, py = poly[:, 0], poly[:, 1]
    for i in range(len(poly)):
        j = i - 1
        crosses = ((py[i] > y) != (py[j] > y)) & (x < (px[j] - px[i]) * (y - py[i]) / (py[j] - py[i] + 1e-300) + px[i])
        result ^= crosses
    return result


def lasso_event(fig: dict, poly: np.ndarray) -> dict:
    """The selection event Plotly sends for a lasso drawn as ``poly`` on this figure."""
    points = []
    for curve, t in enumerate(fig["data"]):
        if "customdata" not in t:
            continue
        x, y, ids = np.array(values(t["x"])), np.array(values(t["y"])), values(t["customdata"])
        for i in np.flatnonzero(inside(x, y, poly)):
            points.append(
                {
                    "curve_number": curve,
                    "point_number": int(i),
                    "point_index": int(i),
                    "x": float(x[i]),
                    "y": float(y[i]),
                    "customdata": ids[i],
                }
            )
    return {
        "points": points,
        "point_indices": [p["point_index"] for p in points],
        "box": [],
        "lasso": [{"x": poly[:, 0].tolist(), "y": poly[:, 1].tolist()}],
    }


def load_npz(run, phase: str, training: bool = False) -> dict:
    folder = run.path / "embeddings" / ("train" if training else "")
    with np.load(folder / f"{phase}.npz") as z:
        return {k: z[k] for k in z.files}


def direct_neighbours(emb: np.ndarray, row: int, k: int) -> list[int]:
    u = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    s = u @ u[row]
    s[row] = -np.inf
    return list(np.argsort(-s, kind="stable")[:k])


@pytest.fixture
def run(finished_store):
    return RunStore(finished_store).list()[0]


@pytest.fixture
def page(run, open_app):
    at = open_app("embeddings")
    ok(at)
    return at


def section(at, name: str):
    at.segmented_control(key="emb.section").set_value(name).run()
    ok(at)
    return at


# ---- tests ---------------------------------------------------------------------------------
def test_lasso_on_the_cl_map_selects_the_same_texts_on_every_map_and_fills_the_table(run, page):
    at = page
    figs = phase_maps(at)
    assert list(figs) == list(PHASES)
    cl = figs["cl"]
    xs = np.concatenate([values(t["x"]) for t in id_traces(cl)])
    ys = np.concatenate([values(t["y"]) for t in id_traces(cl)])
    lo, hi = np.percentile(xs, 5), np.median(xs)
    poly = np.array(
        [[lo, ys.min() - 1], [hi, ys.min() - 1], [hi, ys.max() + 1], [lo, ys.max() + 1], [(lo + hi) / 2, ys.mean()]]
    )
    event = lasso_event(cl, poly)
    ids = map_selection.selected_ids(event)
    assert 2 <= len(ids) < len(drawn_ids(cl))
    maps.apply_selection(at.session_state, run.id, ids)  # what the CL map's on_select callback does
    at.run()
    ok(at)
    for phase, fig in phase_maps(at).items():
        assert selected_on(fig) == set(ids), phase  # the same texts on every map
    table = at.dataframe[0].value
    assert table["id"].tolist() == ids
    val = {p: load_npz(run, p) for p in PHASES}
    assert table["text"].tolist() == [str(val["base"]["texts"][i]) for i in ids]
    names = json.loads((run.path / "data.json").read_text())["label_names"]
    assert table["true label"].tolist() == [names[c] for c in val["base"]["labels"][ids]]
    if "proba" in val["ft"]:
        assert table["FT prediction"].tolist() == [names[c] for c in val["ft"]["proba"][ids].argmax(1)]
    k = at.slider(key="emb:k").value
    for phase in PHASES:
        row = ids[0]
        neigh = val[phase]["labels"][direct_neighbours(val[phase]["embeddings"], row, k)]
        counts = np.bincount(neigh)
        winner = next(c for c in neigh if counts[c] == counts.max())
        assert table[f"neighbours · {phase}"].iloc[0] == names[winner]
    assert at.get("download_button")
    # Clearing empties the selection on every map.
    at.button(key="emb:clear").click().run()
    ok(at)
    assert all(not selected_on(f) for f in phase_maps(at).values())
    assert any("Drag a lasso" in i.value for i in at.info)


def test_selection_survives_switching_the_projection_and_the_texts_shown(run, page):
    at = page
    ids = drawn_ids(phase_maps(at)["dae"])[:5]
    maps.apply_selection(at.session_state, run.id, ids)
    at.run()
    for method in ("pca", "umap", "pca"):
        at.segmented_control(key="emb:emb.method").set_value(method).run()
        ok(at)
        assert all(selected_on(f) == set(ids) for f in phase_maps(at).values())
    if ins.has_training(run):
        at.segmented_control(key="emb:emb.view").set_value("both").run()
        ok(at)
        assert all(selected_on(f) == set(ids) for f in phase_maps(at).values())
        at.segmented_control(key="emb:emb.view").set_value("training").run()
        ok(at)
        assert all(not selected_on(f) for f in phase_maps(at).values())  # validation texts are not shown
        assert any("more selected among the texts not shown" in m.value for m in at.markdown)


def test_a_clicked_or_searched_text_shows_its_cosine_neighbours_in_each_phase(run, page):
    at = page
    at.slider(key="emb:k").set_value(5).run()
    section(at, "neighbours")
    val = {p: load_npz(run, p) for p in PHASES}
    texts = [str(t) for t in val["base"]["texts"]]
    target = 7
    words = " ".join(texts[target].split()[:3])
    at.text_input(key="emb:search").input(words).run()
    ok(at)
    assert any(texts[target][:40] in o for o in at.selectbox(key="emb:search_pick").options)
    at.selectbox(key="emb:search_pick").set_value(target).run()
    ok(at)
    assert at.session_state[maps.focus_key(run.id)] == target
    tables = [df.value for df in at.dataframe]
    assert len(tables) == len(PHASES)
    for phase, table in zip(PHASES, tables):
        want = direct_neighbours(val[phase]["embeddings"], target, 5)
        assert table["text"].tolist() == [texts[i] for i in want], phase
    # The maps ring the same neighbours around the picked text (a star).
    for fig in phase_maps(at).values():
        names = [t.get("name") for t in fig["data"]]
        assert "picked text" in names and "neighbours" in names
        ring = next(t for t in fig["data"] if t.get("name") == "neighbours")
        assert len(values(ring["x"])) == 5
    # A click on one point (a one-point selection) picks that text instead.
    maps.apply_selection(at.session_state, run.id, [3])
    at.run()
    ok(at)
    assert at.dataframe[0].value["text"].tolist() == [
        texts[i] for i in direct_neighbours(val["base"]["embeddings"], 3, 5)
    ]


def test_colour_by_correctness_matches_the_runs_predictions(run, page):
    from threephase_core.classifier import load_classifier

    at = page
    options = at.selectbox(key="emb:emb.colour").options
    assert "Correct / wrong" in options, f"the run has FT probabilities, so correct/wrong must be offered: {options}"
    at.selectbox(key="emb:emb.colour").set_value("correct").run()
    ok(at)
    val = load_npz(run, "ft")
    clf = load_classifier(run.model_dir, device="cpu")
    names = clf.label_names
    predicted = clf.predict([str(t) for t in val["texts"]])
    right = {i: predicted[i] == names[c] for i, c in enumerate(val["labels"])}
    for phase, fig in phase_maps(at).items():
        for t in id_traces(fig):
            ids = values(t["customdata"])
            assert [c == maps.CORRECT for c in marker_colours(t)] == [right[i] for i in ids], phase


def test_drift_equals_a_direct_computation(run, page):
    at = page
    at.slider(key="emb:k").set_value(5).run()
    section(at, "drift")
    at.selectbox(key="emb:drift_from").set_value("base").run()
    at.selectbox(key="emb:drift_to").set_value("cl").run()
    ok(at)
    base, cl = load_npz(run, "base"), load_npz(run, "cl")
    labels = base["labels"]

    def direct(i: int) -> tuple[float, float, float]:
        a, b = direct_neighbours(base["embeddings"], i, 5), direct_neighbours(cl["embeddings"], i, 5)
        return len(set(b) - set(a)) / 5, np.mean(labels[a] == labels[i]), np.mean(labels[b] == labels[i])

    moved = at.dataframe[0].value
    assert len(moved) > 0
    for _, row in moved.iterrows():
        replaced, before, after = direct(int(row["id"]))
        assert row["replaced"] == pytest.approx(replaced)
        assert row["own class before"] == pytest.approx(before)
        assert row["own class after"] == pytest.approx(after)
    assert moved["replaced"].is_monotonic_decreasing
    # The animated transition has one frame per step between consecutive phases.
    anim = [json.loads(el.proto.spec) for el in at.get("plotly_chart") if json.loads(el.proto.spec).get("frames")]
    assert len(anim) == 1 and anim[0]["frames"][0]["name"] == "base" and anim[0]["frames"][-1]["name"] == "ft"
    # Colour by drift: the CL map's colour is each text's share of neighbours replaced since DAE.
    at.selectbox(key="emb:emb.colour").set_value("drift").run()
    ok(at)
    dae = load_npz(run, "dae")
    fig = phase_maps(at)["cl"]
    for t in id_traces(fig):
        for i, c in zip(values(t["customdata"]), values(t["marker"]["color"])):
            a, b = direct_neighbours(dae["embeddings"], i, 5), direct_neighbours(cl["embeddings"], i, 5)
            assert c == pytest.approx(len(set(b) - set(a)) / 5)


def test_training_validation_toggle_shows_the_right_counts(run, page):
    at = page
    n_val = len(load_npz(run, "base")["labels"])
    assert all(len(drawn_ids(f)) == n_val for f in phase_maps(at).values())
    assert ins.has_training(run), "the run folder has no training-text embeddings (embeddings/train/)"
    n_train = len(load_npz(run, "base", training=True)["labels"])
    at.segmented_control(key="emb:emb.view").set_value("training").run()
    ok(at)
    for fig in phase_maps(at).values():
        assert sorted(drawn_ids(fig)) == list(range(n_val, n_val + n_train))
    assert any(f"{n_train:,} training texts of run" in c.value for c in at.caption)
    at.segmented_control(key="emb:emb.view").set_value("both").run()
    ok(at)
    for fig in phase_maps(at).values():
        assert sorted(drawn_ids(fig)) == list(range(n_val + n_train))
        opacity = {t["legendgroup"]: t["marker"]["opacity"] for t in id_traces(fig)}
        assert opacity["training"] < opacity["validation"]  # training faded
    assert any(f"{n_val:,} validation texts and {n_train:,} training texts (faded)" in c.value for c in at.caption)


def test_suspect_labels_are_listed_downloadable_and_selectable(run, page):
    at = section(page, "suspects")
    at.button(key="emb:suspects").click().run()
    ok(at)
    ft = load_npz(run, "ft")
    names = json.loads((run.path / "data.json").read_text())["label_names"]
    want = label_issues.find_suspects(ft["embeddings"], ft["labels"], ft["texts"], names)
    if not len(want):
        assert any("flags none" in s.value for s in at.success)
        return
    table = at.dataframe[0].value
    assert table["id"].tolist() == want["row"].tolist()
    assert table["given"].tolist() == want["given"].tolist()
    assert any(b.proto.label == "Suspect labels (CSV)" for b in at.get("download_button"))
    at.button(key="emb:select_suspects").click().run()
    ok(at)
    assert all(selected_on(f) == set(want["row"]) for f in phase_maps(at).values())


def test_per_class_section_matches_the_engine(run, page):
    at = section(page, "classes")
    val = {p: load_npz(run, p) for p in PHASES}
    names = json.loads((run.path / "data.json").read_text())["label_names"]
    heat = next(
        json.loads(el.proto.spec)
        for el in at.get("plotly_chart")
        if json.loads(el.proto.spec)["data"][0].get("colorbar", {}).get("title", {}).get("text") == "silhouette"
    )
    z = array(heat["data"][0]["z"])
    for row, phase in enumerate(PHASES):
        want = nb.per_class_silhouette(val[phase]["embeddings"], val[phase]["labels"], len(names))
        present = np.unique(val[phase]["labels"])
        assert np.allclose(z[row], want[present], equal_nan=True)
    at.selectbox(key="emb:class_pick").set_value(names[int(val["base"]["labels"][0])]).run()
    ok(at)


def test_a_run_without_training_texts_or_probabilities_says_what_is_missing(run, open_app):
    import shutil

    shutil.rmtree(run.path / "embeddings" / "train", ignore_errors=True)
    ft = load_npz(run, "ft")
    ft.pop("proba", None)
    np.savez_compressed(run.path / "embeddings" / "ft.npz", **ft)
    at = open_app("embeddings")
    ok(at)
    assert at.segmented_control(key="emb:emb.view").disabled
    assert "Correct / wrong" not in at.selectbox(key="emb:emb.colour").options
    assert any("no class probabilities" in c.value for c in at.caption)
    maps.apply_selection(at.session_state, run.id, [0, 1])
    at.run()
    ok(at)
    table = at.dataframe[0].value
    assert table["id"].tolist() == [0, 1] and "FT prediction" not in table.columns


def test_a_click_is_not_lost_when_umap_becomes_ready(run, open_app):
    """The page opens while UMAP computes (PCA shown, the maps poll); UMAP finishes before the next
    click: that click's run draws the UMAP maps and still acts on the click."""
    from threephase_core import workbench as wb

    at = open_app("embeddings")
    ok(at)
    if wb.cached_projection(run, "umap") is None:
        assert all(title.endswith("PCA") for title in (f["layout"]["title"]["text"] for f in phase_maps(at).values()))
    wb.request_projection(run, "umap").result(timeout=600)
    at = section(at, "suspects")
    at.button(key="emb:suspects").click().run()
    ok(at)
    assert all(f["layout"]["title"]["text"].endswith("UMAP") for f in phase_maps(at).values())
    assert at.dataframe or at.success, "the click on 'Find suspect labels' was lost"


def test_a_failed_umap_shows_pca_and_says_why(run, open_app, monkeypatch):
    from threephase_core import projection
    from threephase_core import workbench as wb

    def fails(*args, **kwargs):
        raise RuntimeError("no luck")

    monkeypatch.setattr(projection, "umap_2d", fails)
    at = open_app("embeddings")
    ok(at)
    with pytest.raises(RuntimeError, match="no luck"):
        wb.request_projection(run, "umap").result(timeout=600)
    at.run()  # a page that kept rerunning itself would never come back here
    ok(at)
    assert any("UMAP failed (RuntimeError: no luck)" in c.value for c in at.caption)
    assert all(f["layout"]["title"]["text"].endswith("PCA") for f in phase_maps(at).values())
