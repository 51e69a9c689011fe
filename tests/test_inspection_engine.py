"""inspection.py on small synthetic run folders (npz files written here): points and ids per
view, selection events, search, neighbours, drift and caches, against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from threephase_core import inspection as ins
from threephase_core import inspection_maps as imaps
from threephase_core import map_selection
from threephase_core import neighbours as nb
from threephase_core.runstore import Run

NAMES = ["a", "b", "c"]
N_VAL, N_TRAIN, DIM = 30, 20, 6
PHASES = ("base", "cl", "ft")


def write_phase(folder, phase, emb, labels, texts, proba=None, rows=None):
    folder.mkdir(parents=True, exist_ok=True)
    extra = {} if proba is None else {"proba": proba}
    if rows is not None:
        extra["rows"] = rows
    np.savez_compressed(
        folder / f"{phase}.npz", embeddings=emb.astype(np.float32), labels=labels, texts=np.asarray(texts), **extra
    )


def make_run(path, training=True, proba=True) -> Run:
    rng = np.random.default_rng(0)
    path.mkdir()
    y_val, y_train = rng.integers(0, 3, N_VAL), rng.integers(0, 3, N_TRAIN)
    t_val = [f"validation text {i} about {NAMES[c]}" for i, c in enumerate(y_val)]
    t_train = [f"training text {j}" for j in range(N_TRAIN)]
    for phase in PHASES:
        p_val = rng.dirichlet(np.ones(3), N_VAL) if phase == "ft" and proba else None
        p_train = rng.dirichlet(np.ones(3), N_TRAIN) if phase == "ft" and proba else None
        write_phase(path / "embeddings", phase, rng.normal(size=(N_VAL, DIM)), y_val, t_val, p_val)
        if training:
            write_phase(
                path / "embeddings" / "train",
                phase,
                rng.normal(size=(N_TRAIN, DIM)),
                y_train,
                t_train,
                p_train,
                rows=np.arange(N_TRAIN) * 3,
            )
    return Run(path)


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path / "run")


def direct_neighbours(emb: np.ndarray, row: int, k: int) -> list[int]:
    u = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    s = u @ u[row]
    s[row] = -np.inf
    return list(np.argsort(-s, kind="stable")[:k])


def test_views_count_and_id_texts(run):
    val, train, both = (ins.load_points(run, v) for v in ins.VIEWS)
    assert (len(val), len(train), len(both)) == (N_VAL, N_TRAIN, N_VAL + N_TRAIN)
    assert val.phases == list(PHASES) and both.phases == list(PHASES)
    assert train.ids.tolist() == list(range(N_VAL, N_VAL + N_TRAIN))
    assert both.ids.tolist() == list(range(N_VAL + N_TRAIN))
    assert (both.split == "training").sum() == N_TRAIN and (both.split == "validation").sum() == N_VAL
    # The same id is the same text in every view.
    assert (
        both.texts[both.positions([N_VAL + 4])][0] == train.texts[train.positions([N_VAL + 4])][0] == "training text 4"
    )
    assert both.embeddings["cl"].shape == (N_VAL + N_TRAIN, DIM)
    assert not val.notes and not both.notes


def test_probabilities_follow_the_points(run):
    both = ins.load_points(run, "both")
    with np.load(run.path / "embeddings" / "ft.npz") as v, np.load(run.path / "embeddings" / "train" / "ft.npz") as t:
        want = np.concatenate([v["proba"], t["proba"]])
    assert np.allclose(both.proba, want)
    assert both.predictions().tolist() == want.argmax(1).tolist()


def test_older_runs_say_what_is_missing(tmp_path):
    old = make_run(tmp_path / "old", training=False, proba=False)
    points = ins.load_points(old, "both")
    assert points.view == "validation" and len(points) == N_VAL
    assert points.proba is None
    text = " ".join(points.notes)
    assert "no training-text embeddings" in text and "no class probabilities" in text
    assert not ins.has_training(old)
    table = ins.selection_table(points, [1, 2], 3, NAMES)
    assert "FT prediction" not in table.columns and len(table) == 2


def test_a_damaged_phase_is_left_out_with_a_note(run):
    (run.path / "embeddings" / "cl.npz").write_bytes(b"not a zip")
    points = ins.load_points(run, "validation")
    assert points.phases == ["base", "ft"]
    assert any("'cl'" in n and "cannot be read" in n for n in points.notes)


def test_positions_drop_ids_not_shown(run):
    val = ins.load_points(run, "validation")
    assert val.positions([3, N_VAL + 2, 0]).tolist() == [3, 0]


@pytest.mark.parametrize(
    "event, want",
    [
        (None, []),
        ({"points": [], "point_indices": [], "box": [], "lasso": []}, []),
        ({"points": [{"customdata": 7}, {"customdata": [3]}, {"customdata": 7}, {"x": 1.0}]}, [7, 3]),
        ({"points": [{"customdata": "12"}, {"customdata": None}, {"customdata": "star"}]}, [12]),
    ],
)
def test_selected_ids_from_selection_events(event, want):
    assert map_selection.selected_ids(event) == want


def test_selection_table_matches_direct_neighbours(run):
    points = ins.load_points(run, "both")
    ids = [N_VAL + 1, 5]
    table = ins.selection_table(points, ids, 4, NAMES)
    assert table["id"].tolist() == ids
    assert table["split"].tolist() == ["training", "validation"]
    pos = points.positions(ids)
    assert table["FT prediction"].tolist() == [NAMES[c] for c in points.proba[pos].argmax(1)]
    for phase in PHASES:
        for i, p in enumerate(pos):
            neigh = points.labels[direct_neighbours(points.embeddings[phase], p, 4)]
            counts = np.bincount(neigh, minlength=3)
            winner = next(c for c in neigh if counts[c] == counts.max())  # a tie: the nearest tied neighbour's class
            assert table[f"neighbours · {phase}"].iloc[i] == NAMES[winner]


def test_neighbours_of_match_direct_cosine(run):
    points = ins.load_points(run, "validation")
    got = ins.neighbours_of(points, 9, 5)
    for phase in PHASES:
        want = direct_neighbours(points.embeddings[phase], 9, 5)
        assert got[phase]["position"].tolist() == want
        assert got[phase]["other_class"].tolist() == [points.labels[w] != points.labels[9] for w in want]


def test_drift_table_matches_direct_sets_and_is_cached(run):
    points = ins.load_points(run, "validation")
    table = ins.drift_table(points, "base", "cl", 5)
    assert (run.path / "inspection" / "knn_validation_base.npz").exists()
    for i in range(N_VAL):
        a = set(direct_neighbours(points.embeddings["base"], i, 5))
        b = direct_neighbours(points.embeddings["cl"], i, 5)
        assert table.loc[i, "replaced"] == pytest.approx(len(set(b) - a) / 5)
        assert table.loc[i, "same_after"] == pytest.approx(np.mean(points.labels[b] == points.labels[i]))
    # A second process reads the cache file: same table.
    ins._memo.clear()
    again = ins.neighbour_table(ins.load_points(run, "validation"), "base")
    assert np.array_equal(again, nb.nearest(points.embeddings["base"], ins.K_MAX)[0])


def test_search_finds_texts_with_every_word(run):
    points = ins.load_points(run, "validation")
    hits = map_selection.search(points.texts, "About  TEXT 1")
    assert len(hits) and all(all(w in points.texts[h].lower() for w in ("about", "text", "1")) for h in hits)
    assert points.texts[hits[0]].startswith("validation text 1 ")  # whole word "1" first
    assert map_selection.search(points.texts, "  ").size == 0
    assert map_selection.search(points.texts, "nowhere").size == 0


def test_draw_sample_is_seeded_and_keeps_the_selection():
    keep = [3, 999]
    a, b = map_selection.draw_sample(1000, 100, keep), map_selection.draw_sample(1000, 100, keep)
    assert np.array_equal(a, b) and set(keep) <= set(a) and 100 <= len(a) <= 102
    assert np.array_equal(map_selection.draw_sample(50, 100), np.arange(50))


def test_per_class_silhouette_per_phase(run):
    points = ins.load_points(run, "validation")
    frame = ins.per_class_silhouette(points, NAMES)
    assert list(frame.index) == list(PHASES) and list(frame.columns) == NAMES
    assert np.allclose(frame.loc["cl"].to_numpy(), nb.per_class_silhouette(points.embeddings["cl"], points.labels, 3))


def test_maps_with_training_texts(run):
    layouts, failure = imaps.training_projection(run, "pca")
    assert failure is None and list(layouts) == list(PHASES)
    assert layouts["cl"].shape == (N_VAL + N_TRAIN, 2)
    assert imaps.training_projection_file(run, "pca").exists()
    again = imaps.compute_training_projection(run, "pca")
    assert np.allclose(again["ft"], layouts["ft"])


def test_umap_with_training_texts_in_the_background(run):
    fut = imaps.request_training_projection(run, "umap")
    layouts = fut.result(timeout=300)
    try:
        got, failure = imaps.training_projection(run, "umap")
        assert failure is None and got is layouts
        assert layouts["base"].shape == (N_VAL + N_TRAIN, 2)
    finally:
        imaps.shutdown()


def test_unknown_view_is_a_clear_error(run):
    with pytest.raises(ValueError, match="unknown view"):
        ins.load_points(run, "test")
    assert isinstance(ins.selection_table(ins.load_points(run), [], 3, NAMES), pd.DataFrame)
