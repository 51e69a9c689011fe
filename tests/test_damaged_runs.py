"""Damaged run folders and a full disk: what the pages read keeps working, no finished work is
lost, and failures say what happened.

* a run folder whose files a crash, a full disk or a hand edit damaged shows in the runs table
  (with empty cells) next to the healthy runs, and the Home, Results and Embeddings pages
  render with it;
* a damaged embeddings file loses only its own map;
* a saved model is whole or not a model at all, and a damaged one fails to load with a
  ModelError naming the folder;
* a full disk during a run ends it as 'failed' with a disk-full message, also when the
  failure handler's own writes fail; a model that cannot be saved keeps the metrics.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threephase_core import workbench as wb
from threephase_core.runstore import Run, RunStore

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PHASES = ("base", "dae", "ft")


def _good_run(store: RunStore, created: float = 1_700_000_000.0, rows: int = 12) -> Run:
    """A finished run folder as the runner leaves it (without a model), made without training."""
    run = store.create("three_phase", "demo", 0)
    run.write(
        "config.json",
        {"recipe": "three_phase", "dataset": "demo", "model": "tiny", "seed": 0, "phases": ["dae", "ft"]},
    )
    run.write("data.json", {"label_names": ["a", "b", "c"]})
    run.update_status(state="done", created=created, wall_s=12.0)
    rng = np.random.default_rng(0)
    labels = np.arange(rows) % 3
    for phase in PHASES:
        run.save_embeddings(phase, rng.normal(size=(rows, 8)), labels, [f"text {i}" for i in range(rows)])
    per_class = {n: {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 4} for n in "abc"}
    split = {"accuracy": 0.75, "f1_macro": 0.7, "per_class": per_class, "confusion_matrix": np.eye(3).tolist()}
    run.write(
        "metrics.json",
        {"validation": split, "test": split, "phases": {p: {"silhouette": 0.1, "knn_acc": 0.5} for p in PHASES}},
    )
    for step, loss in enumerate((1.0, 0.8, 0.6)):
        run.append_event({"type": "loss", "phase": "ft", "step": step, "loss": loss})
    return run


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _corrupt_inside(path: Path) -> None:
    """Flip bytes in the middle of a zip: the archive's end record is intact, a member is not."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid - 40 : mid + 40] = bytes(b ^ 0xFF for b in data[mid - 40 : mid + 40])
    path.write_bytes(bytes(data))


# What the reviewer found, one damage per folder; each one used to raise in RunStore.list(),
# runs_frame, losses_from_events, phase_quality or the embedding loaders.
DAMAGES = {
    "status_list": lambda r: (r.path / "status.json").write_text("[1, 2]"),
    "created_text": lambda r: (r.path / "status.json").write_text(
        json.dumps({"state": "done", "created": "yesterday"})
    ),
    "created_huge": lambda r: (r.path / "status.json").write_text(json.dumps({"state": "done", "created": 1e300})),
    "state_list": lambda r: (r.path / "status.json").write_text(json.dumps({"state": ["done"], "created": 5.0})),
    "events_bytes": lambda r: (
        (r.path / "events.jsonl")
        .open("ab")
        .write(b'{"type": "loss", "phase": "ft", "step": 9, "loss": 0.1, "x": "\xff"}\n')
    ),
    "events_not_objects": lambda r: (
        (r.path / "events.jsonl").open("a").write('5\n"str"\n[1]\n{"type": "loss", "step": "x", "loss": "y"}\n')
    ),
    "metrics_list": lambda r: (r.path / "metrics.json").write_text("[1, 2]"),
    "metrics_sections": lambda r: (r.path / "metrics.json").write_text(
        json.dumps(
            {
                "validation": [1],
                "test": {"accuracy": "high", "per_class": [1], "confusion_matrix": "x"},
                "phases": {"base": 5, "ft": {"silhouette": "?"}},
            }
        )
    ),
    "config_list": lambda r: (r.path / "config.json").write_text(
        json.dumps({"recipe": ["x"], "dataset": "a\x00b", "seed": "zero", "phases": [1, 2]})
    ),
    "config_types": lambda r: (r.path / "config.json").write_text(json.dumps({"recipe": "ft", "phases": 5})),
    "data_types": lambda r: (r.path / "data.json").write_text(json.dumps({"label_names": 5, "notes": 7})),
    "base_npz_cut": lambda r: _cut(r.path / "embeddings" / "base.npz"),
    "base_npz_corrupt": lambda r: _corrupt_inside(r.path / "embeddings" / "base.npz"),
    "every_npz_corrupt": lambda r: [_corrupt_inside(r.path / "embeddings" / f"{p}.npz") for p in PHASES],
}


@pytest.fixture
def store(tmp_runs) -> RunStore:
    return RunStore(tmp_runs)


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_one_damaged_folder_does_not_break_the_runs_table(store, damage):
    good = _good_run(store, created=1_700_000_000.0)
    bad = _good_run(store, created=1_600_000_000.0)
    DAMAGES[damage](bad)
    assert {r.id for r in store.list()} == {good.id, bad.id}
    df = wb.runs_frame(store)
    assert set(df["run"]) == {good.id, bad.id}
    row = df.set_index("run").loc[good.id]
    assert row["state"] == "done" and row["test_acc"] == 0.75 and row["phases"] == 3
    for col in ("val_acc", "test_acc", "test_f1", "wall_s"):  # numbers or missing, whatever the file held
        assert df[col].isna().all() or pd.api.types.is_float_dtype(df[col]), (col, df[col].tolist())
    assert pd.api.types.is_datetime64_any_dtype(df["created"])
    # What the Results page builds from the damaged run.
    wb.recipe_comparison(df)
    metrics = bad.metrics
    for split in ("test", "validation"):
        wb.per_class_frame(metrics, split)
        wb.confusion(metrics, split)
    wb.loss_frame(wb.losses_from_events(bad.events()))
    wb.config_rows(bad.config)
    quality = wb.phase_quality(metrics, list(PHASES))
    assert all(isinstance(v, float) for q in quality.values() for v in q.values())


def test_losses_from_events_skips_entries_that_are_not_loss_objects():
    events = [
        5,
        "str",
        None,
        [1],
        {"type": "loss", "phase": "ft", "step": "x", "loss": 1.0},
        {"type": "loss", "phase": "ft", "step": 1, "loss": "nan?"},
        {"type": "loss", "phase": ["ft"], "step": 2, "loss": 0.5},
        {"type": "loss", "phase": "ft", "step": 3, "loss": 0.25},
    ]
    assert wb.losses_from_events(events) == {"['ft']": [(2, 0.5)], "ft": [(3, 0.25)]}


@pytest.mark.parametrize("damage", ["base_npz_cut", "base_npz_corrupt"])
def test_a_damaged_embeddings_file_loses_only_its_own_map(store, damage):
    run = _good_run(store)
    DAMAGES[damage](run)
    phases, embs, labels, texts = wb.load_run_embeddings(run)
    assert phases == ["dae", "ft"] and set(embs) == {"dae", "ft"} and len(labels) == len(texts) == 12
    # run_points: the phases exactly as the Embeddings page lists them (it reruns when they
    # differ), the rows from a file that reads.
    points, labels, texts = wb.run_points(run)
    assert points == run.embedding_phases()
    assert len(labels) == len(texts) == 12
    layouts = wb.projection(run, "pca")
    assert set(layouts) == {"dae", "ft"}
    # The cache is valid for what is on disk (else the page would recompute, and poll for
    # UMAP, forever).
    cached = wb.cached_projection(run, "pca")
    assert cached is not None and set(cached) == {"dae", "ft"}
    assert any("embeddings/base.npz" in note for note in wb.embedding_notes(run))


def test_projection_is_returned_when_its_cache_cannot_be_written(store, monkeypatch):
    """The Embeddings page calls `projection` directly: a full disk must cost the cache only."""
    run = _good_run(store)

    def full_disk(path, **arrays):
        Path(path).write_bytes(b"PK half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    layouts = wb.projection(run, "pca")
    assert set(layouts) == set(PHASES) and all(xy.shape == (12, 2) for xy in layouts.values())
    assert not (run.path / "projections").exists() or os.listdir(run.path / "projections") == []


def test_no_readable_embeddings_gives_empty_points(store):
    run = _good_run(store)
    for phase in PHASES:
        _corrupt_inside(run.path / "embeddings" / f"{phase}.npz")
    phases, labels, texts = wb.run_points(run)
    assert phases == run.embedding_phases() and len(labels) == 0 and len(texts) == 0
    assert wb.load_run_embeddings(run)[0] == []
    assert wb.projection(run, "pca") == {}


def test_pages_render_with_damaged_folders_next_to_a_good_one(store, goto):
    from streamlit.testing.v1 import AppTest

    ids = [_good_run(store, created=1_700_000_000.0).id]
    for k, damage in enumerate(DAMAGES):
        bad = _good_run(store, created=1_600_000_000.0 + k)
        DAMAGES[damage](bad)
        ids.append(bad.id)
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        for page in ("results", "embeddings"):
            goto(at, page)
            at.session_state["emb.method"] = "pca"  # UMAP would be computed in the background
            for run_id in ids:  # every run, damaged or not, shown in detail
                at.session_state["wb.run"] = run_id
                at.run()
                assert not at.exception, (page, run_id, [e.value for e in at.exception])
                assert not at.error, (page, run_id, [e.value for e in at.error])
    finally:
        import streamlit as st

        st.cache_resource.clear()
        st.cache_data.clear()
        wb.shutdown_managers()


def test_embeddings_page_names_damaged_files_and_survives_when_none_can_be_read(store, goto):
    from streamlit.testing.v1 import AppTest

    some, every = _good_run(store, created=1_700_000_001.0), _good_run(store, created=1_700_000_002.0)
    DAMAGES["base_npz_corrupt"](some)
    DAMAGES["every_npz_corrupt"](every)
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        goto(at, "embeddings")
        at.session_state["emb.method"] = "pca"
        at.session_state["wb.run"] = some.id
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("base.npz" in w.value and "damaged" in w.value for w in at.warning)
        at.session_state["wb.run"] = every.id
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("can be read" in i.value for i in at.info)
    finally:
        import streamlit as st

        st.cache_resource.clear()
        st.cache_data.clear()
        wb.shutdown_managers()


# ---- saved models ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_model(tiny_model_path, tmp_path_factory) -> Path:
    import torch

    from threephase_core.classifier import Classifier
    from threephase_core.encoder import load_encoder

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("saved") / "run"
    Classifier(load_encoder(tiny_model_path, device="cpu"), ["a", "b"], head_hidden=8).save(folder / "model")
    return folder


@pytest.fixture
def model_run(saved_model, tmp_path) -> Run:
    import shutil

    shutil.copytree(saved_model, tmp_path / "run")
    return Run(tmp_path / "run")


def test_a_whole_saved_model_loads(model_run):
    from threephase_core.classifier import load_classifier

    assert model_run.has_model()
    assert load_classifier(model_run.path, device="cpu").predict(["hello"])[0] in ("a", "b")


@pytest.mark.parametrize("name", ["classifier.json", "head.safetensors"])
def test_a_truncated_model_file_is_a_model_error_naming_the_folder(model_run, name):
    from threephase_core.classifier import load_classifier
    from threephase_core.encoder import ModelError

    _cut(model_run.model_dir / name)
    with pytest.raises(ModelError, match=rf"the saved model in .*{model_run.path.name}.* is damaged \({name}"):
        load_classifier(model_run.path, device="cpu")


@pytest.mark.parametrize("content", ["[1, 2]", '{"label_names": "ab"}', '{"label_names": ["a", "b"]}'])
def test_a_classifier_json_of_the_wrong_shape_is_a_model_error(model_run, content):
    from threephase_core.classifier import load_classifier
    from threephase_core.encoder import ModelError

    (model_run.model_dir / "classifier.json").write_text(content)
    with pytest.raises(ModelError, match="is damaged"):
        load_classifier(model_run.path, device="cpu")


def test_a_head_of_another_shape_is_a_model_error(model_run):
    from threephase_core.classifier import load_classifier
    from threephase_core.encoder import ModelError

    meta = json.loads((model_run.model_dir / "classifier.json").read_text())
    (model_run.model_dir / "classifier.json").write_text(json.dumps({**meta, "label_names": ["a", "b", "c"]}))
    with pytest.raises(ModelError, match=r"damaged \(head.safetensors"):
        load_classifier(model_run.path, device="cpu")


def test_a_model_folder_without_classifier_json_is_no_model(model_run):
    (model_run.model_dir / "classifier.json").unlink()  # the save stopped before its last file
    assert not model_run.has_model()
    with pytest.raises(FileNotFoundError):
        wb.model_zip(model_run)


def test_a_resave_that_fails_leaves_no_model_that_looks_whole(model_run, monkeypatch):
    """Saving into a folder that held a model, and failing half-way (the encoder is written, the
    head is not): the old classifier.json must not make the mix of old and new files look whole."""
    import safetensors.torch

    from threephase_core.classifier import load_classifier

    clf = load_classifier(model_run.path, device="cpu")

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    with pytest.raises(OSError):
        clf.save(model_run.model_dir)
    assert not model_run.has_model()
    monkeypatch.undo()
    clf.save(model_run.model_dir)
    assert model_run.has_model()
    assert [p.name for p in model_run.model_dir.iterdir() if p.name.startswith(".")] == []  # no temp files


# ---- a full disk during a run ----------------------------------------------------------
def _enospc(path="") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_disk_full_mid_run_fails_the_job_with_a_clear_message(tiny_model_path, tmp_path, monkeypatch):
    """The disk fills while the last phase's embeddings are written; from then on every write
    fails, the failure handler's too. The job ends 'failed' (it stayed 'running' and the
    handler's OSError escaped), with a message that says the disk is full and where."""
    from threephase_core.jobs import JobManager
    from threephase_core.recipes import build_config

    full = {"on": False}
    real_save, real_event, real_status, real_write = (
        Run.save_embeddings,
        Run.append_event,
        Run.update_status,
        Run.write,
    )

    def save_embeddings(self, phase, *a, **k):
        if phase == "ft":
            full["on"] = True
        if full["on"]:
            raise _enospc(self.path / "embeddings" / f"{phase}.npz")
        return real_save(self, phase, *a, **k)

    def failing(real):
        def write(self, *a, **k):
            if full["on"]:
                raise _enospc(self.path)
            return real(self, *a, **k)

        return write

    monkeypatch.setattr(Run, "save_embeddings", save_embeddings)
    monkeypatch.setattr(Run, "append_event", failing(real_event))
    monkeypatch.setattr(Run, "update_status", failing(real_status))
    monkeypatch.setattr(Run, "write", failing(real_write))
    manager = JobManager(tmp_path / "runs")
    try:
        job = manager.submit(build_config("ft", {"model": tiny_model_path, "max_steps": 2, "embed_rows": 10}))
        assert job.wait(600)
        assert job.state == "failed"
        message = job.status()["message"]
        assert message.startswith(f"disk full while writing {job.run.path}: free some space"), message
        assert job.result == {"state": "failed", "message": message, "input_error": False, "reported": True}
        assert manager.alive
        assert "base" in job.run.embedding_phases()  # what was written before the disk filled is kept
    finally:
        manager.shutdown()


def test_model_save_failing_keeps_and_reports_the_metrics(tiny_model_path, tmp_runs, monkeypatch):
    from threephase_core.classifier import Classifier
    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    def save(self, folder):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "head.safetensors").write_bytes(b"half")  # a part written before the disk filled
        raise _enospc(Path(folder) / "encoder" / "model.safetensors")

    monkeypatch.setattr(Classifier, "save", save)
    run, result = run_recipe(
        build_config("ft", {"model": tiny_model_path, "max_steps": 2, "embed_rows": 10}), tmp_runs
    )
    assert result["state"] == "failed"
    message = result["message"]
    assert f"disk full while writing {run.path}" in message, message
    assert "metrics were kept in metrics.json" in message, message
    assert 0 <= result["metrics"]["test"]["accuracy"] <= 1
    assert run.metrics["test"]["accuracy"] == result["metrics"]["test"]["accuracy"]
    assert run.status["state"] == "failed" and run.status["message"] == message
    assert not run.has_model() and not run.model_dir.exists()  # the half-written model is gone (frees the space)
