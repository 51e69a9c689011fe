"""Run folders: atomic JSON, the event log, embeddings, unique ids, newest-first listing."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from threephase_core.runstore import Run, RunStore, default_runs_dir, read_json, write_json_atomic


# ---- atomic JSON -----------------------------------------------------------------------
def test_write_json_atomic_writes_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "deep" / "er" / "x.json"
    write_json_atomic(target, {"a": 1, "arr": np.arange(3), "f": np.float32(0.5), "i": np.int64(7), "p": Path("/x")})
    assert json.loads(target.read_text()) == {"a": 1, "arr": [0, 1, 2], "f": 0.5, "i": 7, "p": "/x"}
    assert os.listdir(target.parent) == ["x.json"]
    write_json_atomic(target, [1, 2])
    assert read_json(target) == [1, 2]
    assert os.listdir(target.parent) == ["x.json"]


def test_write_json_atomic_failure_keeps_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "status.json"
    write_json_atomic(target, {"state": "running", "n": 1})
    before = target.read_bytes()
    # serialisation fails half-way through: the first keys were already written to the temp file
    bad = {"state": "done", "big": list(range(1000)), "z": object()}
    with pytest.raises(TypeError):
        write_json_atomic(target, bad)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["status.json"], "temporary file left behind"


def test_write_json_atomic_concurrent_writers(tmp_path):
    target = tmp_path / "s.json"
    errors = []

    def writer(k):
        try:
            for i in range(20):
                write_json_atomic(target, {"writer": k, "i": i, "pad": "x" * 2000})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert read_json(target)["i"] == 19  # always a whole file
    assert os.listdir(tmp_path) == ["s.json"]


def test_read_json_default(tmp_path):
    assert read_json(tmp_path / "missing.json", {"d": 1}) == {"d": 1}
    (tmp_path / "cut.json").write_text('{"a": 1, "b"')
    assert read_json(tmp_path / "cut.json") is None


# ---- run folder ------------------------------------------------------------------------
@pytest.fixture
def run(tmp_runs) -> Run:
    return RunStore().create("three_phase", "demo", 0)


def test_default_runs_dir_follows_env(tmp_runs):
    assert default_runs_dir() == tmp_runs
    assert RunStore().root == tmp_runs


def test_events_append_and_read_back(run):
    assert run.events() == []
    run.append_event({"type": "state", "state": "running"})
    run.append_event({"type": "loss", "step": np.int64(3), "loss": np.float32(0.25)})
    assert run.events() == [{"type": "state", "state": "running"}, {"type": "loss", "step": 3, "loss": 0.25}]


def test_truncated_last_event_line_is_skipped(run):
    run.append_event({"type": "a"})
    run.append_event({"type": "b"})
    with open(run.path / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"type": "c", "loss": 0.')  # the process died mid-write
    assert [e["type"] for e in run.events()] == ["a", "b"]


def test_events_from_threads_are_whole_lines(run):
    def worker(k):
        for i in range(50):
            run.append_event({"k": k, "i": i, "pad": "y" * 500})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = run.events()
    assert len(events) == 200
    for k in range(4):
        assert [e["i"] for e in events if e["k"] == k] == list(range(50))


def test_update_status_merges(run):
    run.update_status(state="running", created=123.0)
    run.update_status(message="phase dae")
    status = run.status
    assert status["state"] == "running" and status["created"] == 123.0 and status["message"] == "phase dae"
    assert "updated" in status


def test_write_and_read_properties(run):
    assert run.config == {} and run.metrics == {} and run.data_summary == {}
    run.write("config.json", {"seed": 1})
    run.write("metrics.json", {"test": {"accuracy": np.float64(0.9)}})
    run.write("data.json", {"rows": 3})
    assert run.config == {"seed": 1}
    assert run.metrics == {"test": {"accuracy": 0.9}}
    assert run.data_summary == {"rows": 3}
    assert run.id == run.path.name
    assert not run.has_model()


def test_embeddings_round_trip(run):
    emb = np.random.default_rng(0).normal(size=(5, 4))
    labels = [0, 1, 2, 1, 0]
    texts = ["a", "héllo wörld", "", "x" * 300, "tab\there"]
    path = run.save_embeddings("dae", emb, np.array(labels), texts)
    run.save_embeddings("base", emb[:2], np.array(labels[:2]), texts[:2])
    assert path == run.path / "embeddings" / "dae.npz"
    back = run.load_embeddings("dae")
    assert set(back) == {"embeddings", "labels", "texts"}
    assert back["embeddings"].dtype == np.float32
    np.testing.assert_allclose(back["embeddings"], emb.astype(np.float32))
    assert back["labels"].dtype == np.int64 and back["labels"].tolist() == labels
    assert back["texts"].tolist() == texts
    assert sorted(os.listdir(run.path / "embeddings")) == ["base.npz", "dae.npz"]  # no temp files
    assert run.embedding_phases() == ["base", "dae"]  # pipeline order, not alphabetical by accident


def test_training_embeddings_live_apart_with_rows_and_probabilities(run):
    emb = np.random.default_rng(1).normal(size=(3, 4))
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    run.save_embeddings("base", emb, np.array([0, 1, 1]), ["a", "b", "c"])
    path = run.save_embeddings(
        "ft", emb, np.array([0, 1, 1]), ["a", "b", "c"], split="train", rows=[4, 0, 9], proba=proba
    )
    run.save_embeddings("base", emb, np.array([0, 1, 1]), ["a", "b", "c"], split="train", rows=[4, 0, 9])
    assert path == run.path / "embeddings" / "train" / "ft.npz"
    back = run.load_embeddings("ft", "train")
    assert set(back) == {"embeddings", "labels", "texts", "rows", "proba"}
    assert back["rows"].dtype == np.int64 and back["rows"].tolist() == [4, 0, 9]
    assert back["proba"].dtype == np.float32 and np.allclose(back["proba"], proba)
    assert run.embedding_phases() == ["base"]  # the train/ folder is no phase of the validation split
    assert run.embedding_phases("train") == ["base", "ft"]
    assert set(run.load_embeddings("base")) == {"embeddings", "labels", "texts"}
    with pytest.raises(ValueError, match="split"):
        run.embedding_phases("test")


def test_truncated_training_embeddings_file_is_not_a_phase(run):
    for phase in ("base", "cl"):
        run.save_embeddings(phase, np.ones((4, 2)), np.arange(4) % 2, list("abcd"), split="train", rows=np.arange(4))
        run.save_embeddings(phase, np.ones((4, 2)), np.arange(4) % 2, list("abcd"))
    f = run.path / "embeddings" / "train" / "cl.npz"
    f.write_bytes(f.read_bytes()[:40])
    assert run.embedding_phases("train") == ["base"] and run.damaged_embeddings("train") == ["cl"]
    assert run.embedding_phases() == ["base", "cl"] and run.damaged_embeddings() == []


def test_embedding_phases_order(run):
    for phase in ("ft", "custom", "dae", "base"):
        run.save_embeddings(phase, np.zeros((1, 2)), np.zeros(1), ["t"])
    assert run.embedding_phases() == ["base", "dae", "ft", "custom"]


# ---- the store -------------------------------------------------------------------------
def test_create_makes_unique_folders(tmp_runs):
    store = RunStore(tmp_runs)
    runs = [store.create("three_phase", "demo", 0) for _ in range(5)]
    assert len({r.path for r in runs}) == 5
    assert all(r.path.is_dir() and r.path.parent == tmp_runs for r in runs)
    assert all(
        "three_phase" in r.id and r.id.endswith(("-s0",) + tuple(f"-s0-{k}" for k in range(1, 5))) for r in runs
    )


def test_create_from_threads_is_unique(tmp_runs):
    store = RunStore(tmp_runs)
    out, lock = [], threading.Lock()

    def make():
        r = store.create("ft", "demo", 1)
        with lock:
            out.append(r.path)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 8


@pytest.mark.parametrize(
    "dataset, fragment",
    [("/data/my sets/tickets.csv", "-tickets.csv-"), ("user/ds name", "-ds_name-"), ("a\\b", "b-s2"), ("", "-x-")],
)
def test_run_ids_are_safe_folder_names(tmp_runs, dataset, fragment):
    r = RunStore(tmp_runs).create("three_phase", dataset, 2)
    assert fragment in r.id
    assert not set(r.id) & set("/\\ :")


def test_list_sorts_newest_first_and_skips_incomplete(tmp_runs):
    store = RunStore(tmp_runs)
    made = []
    for created in (200.0, 100.0, 300.0):
        r = store.create("ft", "demo", 0)
        r.write("config.json", {"seed": 0})
        r.update_status(state="done", created=created)
        made.append(r)
    store.create("ft", "demo", 0)  # no config.json: a half-created run folder is not listed
    (tmp_runs / "stray-file.txt").write_text("x")
    listed = store.list()
    assert [r.status["created"] for r in listed] == [300.0, 200.0, 100.0]
    assert [r.id for r in listed] == [made[2].id, made[0].id, made[1].id]


def test_list_without_status_uses_folder_time(tmp_runs):
    store = RunStore(tmp_runs)
    old, new = store.create("ft", "a", 0), store.create("ft", "b", 0)
    for r in (old, new):
        r.write("config.json", {})
    os.utime(old.path, (1_000_000, 1_000_000))
    assert [r.id for r in store.list()] == [new.id, old.id]


def test_list_and_get_on_missing_root(tmp_path):
    store = RunStore(tmp_path / "nowhere")
    assert store.list() == []
    with pytest.raises(KeyError):
        store.get("nope")


def test_get(tmp_runs):
    store = RunStore(tmp_runs)
    r = store.create("ft", "demo", 0)
    with pytest.raises(KeyError):
        store.get(r.id)  # no config yet
    r.write("config.json", {"seed": 0})
    assert store.get(r.id).path == r.path


# ---- damaged run folders ---------------------------------------------------------------
# What a crash, a full disk or a hand edit can leave behind. Reading a damaged folder gives
# empty values, never an exception: one bad folder must not break the listing of the others.
def _listed_run(store: RunStore, created: float) -> Run:
    r = store.create("ft", "demo", 0)
    r.write("config.json", {"recipe": "ft", "seed": 0})
    r.update_status(state="done", created=created)
    return r


@pytest.mark.parametrize("name", ["status.json", "config.json", "metrics.json", "data.json"])
@pytest.mark.parametrize("content", ["[1, 2]", "5", '"text"', "null", '{"cut": '])
def test_json_files_that_are_not_objects_read_as_empty(run, name, content):
    (run.path / name).write_text(content)
    prop = {"status.json": "status", "config.json": "config", "metrics.json": "metrics", "data.json": "data_summary"}[
        name
    ]
    assert getattr(run, prop) == {}


def test_update_status_replaces_a_status_that_is_not_an_object(run):
    (run.path / "status.json").write_text("[1, 2]")
    run.update_status(state="failed", message="m")
    assert run.status["state"] == "failed" and run.status["message"] == "m"


@pytest.mark.parametrize(
    "status",
    [
        [1, 2],
        {"state": "done", "created": "yesterday"},
        {"created": True},
        {"created": 1e300},
        {"created": float("nan")},
        {"created": None},
        {"created": [3]},
    ],
)
def test_list_survives_a_damaged_status_and_sorts_it_by_folder_time(tmp_runs, status):
    store = RunStore(tmp_runs)
    old, new = _listed_run(store, 100.0), _listed_run(store, 300.0)
    bad = store.create("ft", "demo", 0)
    bad.write("config.json", {"seed": 0})
    (bad.path / "status.json").write_text(json.dumps(status, allow_nan=True))
    os.utime(bad.path, (200.0, 200.0))  # folder time between the other two runs
    assert [r.id for r in store.list()] == [new.id, bad.id, old.id]
    assert bad.created() is None


def test_events_skip_bad_bytes_and_lines_that_are_not_objects(run):
    run.append_event({"type": "a"})
    with open(run.path / "events.jsonl", "ab") as fh:
        fh.write(b'{"type": "b", "note": "caf\xe9"}\n')  # latin-1 byte: not UTF-8
        fh.write(b'5\n"str"\n[1, 2]\nnull\n\xff\xfe\n')
    run.append_event({"type": "c"})
    events = run.events()
    assert [e["type"] for e in events] == ["a", "b", "c"]
    assert events[1]["note"] == "caf\ufffd"


def test_truncated_embeddings_file_is_not_a_phase(run):
    emb = np.random.default_rng(0).normal(size=(6, 4))
    for phase in ("base", "dae", "ft"):
        run.save_embeddings(phase, emb, np.arange(6) % 2, [f"t{i}" for i in range(6)])
    f = run.path / "embeddings" / "dae.npz"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # cut short by a crash or a full disk
    assert run.embedding_phases() == ["base", "ft"]
    assert run.damaged_embeddings() == ["dae"]


def test_entries_the_pages_rely_on_are_dropped_when_of_the_wrong_type(run):
    run.write(
        "metrics.json",
        {
            "test": [1],
            "validation": {"accuracy": 0.5},
            "ft": 3,
            "before_ft": "x",
            "phases": {"base": 5, "dae": {"silhouette": 0.1, "data": [1]}, "cl": {"data": {"pairs": 4}}},
            "device": "cpu",
        },
    )
    run.write("data.json", {"label_names": 5, "notes": "n", "rows": 3})
    run.write("config.json", {"phases": 5, "seed": 1})
    assert run.metrics == {
        "validation": {"accuracy": 0.5},
        "phases": {"dae": {"silhouette": 0.1}, "cl": {"data": {"pairs": 4}}},
        "device": "cpu",
    }
    assert run.data_summary == {"rows": 3}
    assert run.config == {"seed": 1}


def test_failed_embeddings_write_leaves_no_temp_file(run, monkeypatch):
    import errno

    def full_disk(path, **arrays):
        Path(path).write_bytes(b"PK half")  # part of the archive was written
        raise OSError(errno.ENOSPC, "No space left on device")

    run.save_embeddings("base", np.zeros((2, 3)), np.zeros(2), ["a", "b"])
    monkeypatch.setattr(np, "savez_compressed", full_disk)
    with pytest.raises(OSError):
        run.save_embeddings("dae", np.zeros((2, 3)), np.zeros(2), ["a", "b"])
    assert os.listdir(run.path / "embeddings") == ["base.npz"]  # the temp file gave its space back
    assert run.embedding_phases() == ["base"]
