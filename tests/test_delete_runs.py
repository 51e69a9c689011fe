"""Deleting runs: only run folders directly under the root, never a queued or running one (of this
workbench, or, by its recent writes, of another process), and the Results page's tidy-up kinds."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest

from threephase_core import workbench as wb
from threephase_core.runstore import RunStore


def _run(store: RunStore, state: str, seed: int = 0, max_steps: int | None = None):
    run = store.create("ft", "demo", seed)
    run.write(
        "config.json",
        {"recipe": "ft", "dataset": "demo", "model": "tiny", "seed": seed, "phases": ["ft"], "max_steps": max_steps},
    )
    run.update_status(state=state, created=1_700_000_000.0 + seed)
    return run


def _age(run, seconds: float) -> None:
    old = time.time() - seconds
    for f in run.path.iterdir():
        os.utime(f, (old, old))


def test_remove_deletes_the_folder_and_refuses_anything_else(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = _run(store, "done")
    (run.path / "embeddings").mkdir()
    (run.path / "embeddings" / "ft.npz").write_bytes(b"x")
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    for bad in ("", ".", "..", "../precious", str(outside), "no-such-run"):
        with pytest.raises(KeyError):
            store.remove(bad)
    assert (outside / "config.json").exists()
    store.remove(run.id)
    assert not run.path.exists() and store.list() == []


def test_delete_runs_never_touches_an_active_run(tmp_path):
    store = RunStore(tmp_path / "runs")
    done, failed, queued = _run(store, "done", 0), _run(store, "failed", 1), _run(store, "queued", 2)
    elsewhere = _run(store, "running", 3)  # a command-line run in another process: files fresh
    stale = _run(store, "running", 4)  # a crashed run: its files are old, the page calls it interrupted
    _age(stale, 3600)
    live = {queued.id: {"state": "queued"}, done.id: {"state": "done"}}
    deleted, problems = wb.delete_runs(
        store, [done.id, failed.id, queued.id, elsewhere.id, stale.id, "gone-already"], live
    )
    assert deleted == [done.id, failed.id, stale.id]
    assert len(problems) == 3
    assert queued.id in problems[0] and "queued" in problems[0] and "stop it" in problems[0]
    assert elsewhere.id in problems[1] and "its files changed" in problems[1]
    assert problems[2] == "gone-already was already deleted (another tab?)"  # a stale tab's click is answered
    assert {r.id for r in store.list()} == {queued.id, elsewhere.id}


def test_cleanup_candidates_are_unfinished_and_smoke_runs(tmp_path):
    store = RunStore(tmp_path / "runs")
    full, smoke = _run(store, "done", 0), _run(store, "done", 1, max_steps=5)
    failed, cancelled = _run(store, "failed", 2), _run(store, "cancelled", 3)
    crashed = _run(store, "running", 4)
    _age(crashed, 3600)
    df = wb.runs_frame(store)
    picks = wb.cleanup_candidates(df)
    assert sorted(picks["unfinished"]) == sorted([failed.id, cancelled.id, crashed.id])
    assert picks["smoke"] == [smoke.id]
    assert full.id not in picks["unfinished"] + picks["smoke"]
    assert wb.cleanup_candidates(pd.DataFrame(columns=wb.RUN_COLUMNS)) == {"unfinished": [], "smoke": []}


def test_a_run_whose_training_process_is_alive_is_not_deleted_however_quiet(tmp_path):
    """A CLI run in another process can write nothing for minutes (test-set prediction); its
    recorded pid keeps it safe. A dead pid or another machine's pid falls back to file age."""
    import socket
    import subprocess
    import sys

    store = RunStore(tmp_path / "runs")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy, dead, remote = _run(store, "running", 0), _run(store, "running", 1), _run(store, "running", 2)
        busy.update_status(pid=child.pid, host=socket.gethostname())
        finished = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        )
        dead.update_status(pid=int(finished.stdout), host=socket.gethostname())
        remote.update_status(pid=child.pid, host="another-machine")
        for run in (busy, dead, remote):
            _age(run, 3600)
        deleted, problems = wb.delete_runs(store, [busy.id, dead.id, remote.id], {})
        assert deleted == [dead.id, remote.id]
        assert len(problems) == 1 and busy.id in problems[0] and f"pid {child.pid}" in problems[0]
    finally:
        child.kill()
        child.wait()


def test_runner_records_its_process_in_the_status(tmp_path, tiny_model_path):
    import socket

    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    run, result = run_recipe(
        build_config("ft", {"model": tiny_model_path, "max_steps": 1, "embed_rows": 10}), tmp_path / "runs"
    )
    assert result["state"] == "done"
    assert run.status["pid"] == os.getpid() and run.status["host"] == socket.gethostname()


def test_a_linked_run_folder_is_refused_and_its_target_kept(tmp_path):
    store = RunStore(tmp_path / "runs")
    real = _run(store, "done")
    target = tmp_path / "precious"
    real.path.rename(target)
    (store.root / "evil").symlink_to(target, target_is_directory=True)
    deleted, problems = wb.delete_runs(store, ["evil"], {})
    assert deleted == [] and "is a link" in problems[0]
    assert (target / "config.json").exists()


def test_tidy_up_keeps_a_run_with_results_whose_status_is_damaged(tmp_path):
    store = RunStore(tmp_path / "runs")
    kept, lost = _run(store, "done", 0), _run(store, "failed", 1)
    for run in (kept, lost):
        (run.path / "status.json").write_text('{"state": "do')
    kept.write("metrics.json", {"test": {"accuracy": 0.8, "f1_macro": 0.7}, "validation": {"accuracy": 0.8}})
    df = wb.runs_frame(store)
    assert set(df["state"]) == {"unknown"}
    assert wb.cleanup_candidates(df)["unfinished"] == [lost.id]
