"""Tests for threephase_core.projection: PCA/UMAP layouts, alignment, cluster quality, warm-up."""

import subprocess
import sys

import numpy as np
import pytest

from threephase_core import projection as proj


def blobs(n_per=80, n_classes=3, dim=32, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per)
    return (centres[y] + noise * rng.normal(size=(len(y), dim))).astype(np.float32), y


def random_rotation(dim, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q


def test_import_is_lazy():
    code = "import sys, threephase_core.projection; print('umap' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_warm_up_once(monkeypatch):
    monkeypatch.setattr(proj, "_umap_warm", False)
    monkeypatch.setattr(proj, "_warm_done", False)
    monkeypatch.setattr(proj, "_warm_thread", None)
    calls = []
    original = proj._warm_up
    monkeypatch.setattr(proj, "_warm_up", lambda: (calls.append(1), original()))
    thread = proj.warm_up_umap()
    assert thread is not None and thread.daemon
    again = proj.warm_up_umap()
    assert again is thread or (again is None and not thread.is_alive())
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert proj.is_umap_warm()
    assert proj.warm_up_umap() is None
    assert proj.warm_up_umap(background=False) is None
    assert len(calls) == 1


def test_pca_shape_dtype_deterministic_and_cosine():
    x, _ = blobs()
    a = proj.pca_2d(x, seed=0)
    assert a.shape == (len(x), 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, proj.pca_2d(x, seed=0))
    # Rows are L2-normalised first: rescaling rows changes nothing.
    scales = np.random.default_rng(1).uniform(0.1, 10, size=(len(x), 1))
    np.testing.assert_allclose(proj.pca_2d(x * scales), a, atol=1e-5)
    assert proj.pca_2d(x[:1]).shape == (1, 2)


@pytest.mark.parametrize("reflect", [False, True])
def test_align_to_recovers_similarity_transform(reflect):
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(200, 2))
    theta = 1.1
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    if reflect:
        rot = rot @ np.diag([1.0, -1.0])
    layout = 3.7 * ref @ rot + np.array([5.0, -2.0])
    aligned = proj.align_to(ref, layout)
    assert aligned.shape == ref.shape
    np.testing.assert_allclose(aligned, ref, atol=1e-4)
    with pytest.raises(ValueError):
        proj.align_to(ref, layout[:10])


def test_project_phases_pca_aligns_rotated_copy():
    x, _ = blobs()
    phases = {"base": x, "dae": x @ random_rotation(x.shape[1]), "ft": 2.0 * x}
    out = proj.project_phases(phases, method="pca")
    assert list(out) == ["base", "dae", "ft"]
    for layout in out.values():
        assert layout.shape == (len(x), 2)
        np.testing.assert_allclose(layout, out["base"], atol=1e-4)


def test_project_phases_rejects_bad_input():
    x, _ = blobs()
    with pytest.raises(ValueError, match="unknown projection method"):
        proj.project_phases({"base": x}, method="tsne")
    with pytest.raises(ValueError, match="same number of rows"):
        proj.project_phases({"base": x, "ft": x[:10]}, method="pca")
    assert proj.project_phases({}, method="umap") == {}


def test_umap_separates_blobs_and_is_deterministic():
    x, y = blobs()
    a = proj.umap_2d(x, seed=0)
    assert a.shape == (len(x), 2) and a.dtype == np.float32
    assert proj.cluster_quality(a, y)["knn_acc"] == 1.0
    np.testing.assert_allclose(proj.umap_2d(x, seed=0), a, atol=1e-5)


def test_umap_tiny_inputs():
    x, _ = blobs()
    assert proj.umap_2d(x[:3]).shape == (3, 2)  # PCA fallback
    for n in (4, 6, 10):
        layout = proj.umap_2d(x[:n], n_neighbors=15)
        assert layout.shape == (n, 2) and np.isfinite(layout).all()


def test_project_phases_umap_keeps_successive_maps_comparable():
    # Overlapping classes around a common offset (one connected graph), then a slightly noisier copy.
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 75)
    x = rng.normal(size=(300, 32)) + 2 * rng.normal(size=32) + rng.normal(size=(4, 32))[y]
    x = x.astype(np.float32)
    later = (x + 0.1 * rng.normal(size=x.shape)).astype(np.float32)
    out = proj.project_phases({"base": x, "ft": later}, method="umap", seed=0)
    base, ft = out["base"], out["ft"]
    np.testing.assert_allclose(base, proj.umap_2d(x, seed=0), atol=1e-5)
    # Wiring: previous layout (standardised) as init, then Procrustes onto it.
    expected = proj.align_to(base, proj.umap_2d(later, seed=0, init=proj._standardise(base)))
    np.testing.assert_allclose(ft, expected, atol=1e-5)
    assert proj.cluster_quality(ft, y)["knn_acc"] > 0.95
    # The init is really used, and alignment brings the map closer to the previous one.
    unaligned = proj.umap_2d(later, seed=0, init=proj._standardise(base))
    assert not np.allclose(unaligned, proj.umap_2d(later, seed=0))

    def rms(layout):
        return float(np.sqrt(((layout - base) ** 2).sum(axis=1).mean()))

    assert rms(ft) < rms(unaligned)
    assert rms(ft) < rms(proj.umap_2d(later, seed=0))


def test_cluster_quality_separated_shuffled_single():
    x, y = blobs()
    good = proj.cluster_quality(x, y)
    assert good["silhouette"] > 0.5 and good["knn_acc"] == 1.0
    shuffled = proj.cluster_quality(x, np.random.default_rng(0).permutation(y))
    assert abs(shuffled["knn_acc"] - 1 / 3) < 0.15
    assert shuffled["silhouette"] < 0.1
    single = proj.cluster_quality(x, np.zeros(len(x), dtype=int))
    assert np.isnan(single["silhouette"]) and single["knn_acc"] == 1.0
    # String labels work too.
    assert proj.cluster_quality(x, np.array(["abc"[i] for i in y]))["knn_acc"] == 1.0


def test_cluster_quality_tie_goes_to_nearest():
    # Points on the unit circle at 0, 10 and 25 degrees; k=2 makes 1-1 ties.
    ang = np.deg2rad([0.0, 10.0, 25.0])
    x = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    labels = np.array(["a", "z", "a"])
    # Point 0: neighbours z (10 deg), a (25 deg) -> tie -> nearest "z" (wrong).
    # Point 1: neighbours a, a -> "a" (wrong). Point 2: z (15 deg), a (25 deg) -> "z" (wrong).
    assert proj.cluster_quality(x, labels, k=2)["knn_acc"] == 0.0
    assert np.isnan(proj.cluster_quality(x[:2], labels[:2], k=2)["silhouette"])  # n <= k
    # Duplicated rows: leave-one-out still excludes only the point itself.
    dup = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    q = proj.cluster_quality(dup, [0, 0, 1, 1], k=1)
    assert (q["silhouette"], q["knn_acc"]) == (1.0, 1.0)
