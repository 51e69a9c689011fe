"""The job queue (jobs.JobManager): background runs, status, cancel, errors that never escape."""

from __future__ import annotations

import time

import pytest

from threephase_core.jobs import JobManager
from threephase_core.recipes import build_config


@pytest.fixture
def manager(tmp_path):
    m = JobManager(tmp_path / "runs")
    yield m
    m.shutdown()
    assert not m.alive


def _wait_for(predicate, timeout=600.0):  # a guard: each wait ends on its event
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_job_runs_in_background_and_reports_status(manager, tiny_model_path):
    job = manager.submit(build_config("ft", {"model": tiny_model_path, "max_steps": 3, "embed_rows": 20}))
    assert job.state in ("queued", "running")
    assert job.wait(600)
    status = job.status()
    assert status["state"] == "done"
    assert status["phases_done"] == ["ft"]
    assert status["losses"]["ft"] and all(isinstance(v, float) for _, v in status["losses"]["ft"])
    assert job.run.status["state"] == "done"
    assert manager.store.get(job.run.id).metrics["test"]["accuracy"] >= 0


def test_cancel_stops_a_running_job_quickly_and_keeps_finished_phases(manager, tiny_model_path):
    cfg = build_config("cl_ft", {"model": tiny_model_path, "cl.epochs": 200, "embed_rows": 20})
    job = manager.submit(cfg)
    assert _wait_for(lambda: job.status()["phase"] == "cl" and job.status()["step"] > 0)
    at_cancel = job.status()["step"]
    assert manager.cancel(job.id)
    assert job.wait(600), "the cancelled job never ended"
    # It stopped at the next step boundary (steps are reported in groups of log_every), not at
    # the end of its 200 epochs: counted in steps, so a slow machine cannot make this fail.
    assert job.status()["step"] - at_cancel <= 2 * 50
    assert job.status()["step"] < job.status()["total"]
    assert job.state == "cancelled"
    assert job.run.status["state"] == "cancelled"
    assert "base" in job.run.embedding_phases()  # what finished before the cancel is kept
    assert not job.run.has_model()


def test_a_failing_job_is_recorded_and_the_worker_survives(manager, tiny_model_path):
    bad = manager.submit(build_config("ft", {"model": tiny_model_path, "dataset": "/no/such/file.csv"}))
    assert bad.wait(600)
    assert bad.state == "failed"
    assert "file not found" in bad.status()["message"]
    assert bad.run.status["state"] == "failed"
    assert manager.alive
    good = manager.submit(build_config("ft", {"model": tiny_model_path, "max_steps": 1, "embed_rows": 10}))
    assert good.wait(600) and good.state == "done"


def test_unknown_model_fails_with_a_clear_message(manager):
    job = manager.submit(build_config("ft", {"model": "/no/such/model-dir", "max_steps": 1}))
    assert job.wait(600)
    assert job.state == "failed"
    assert "model folder not found" in job.status()["message"]


def test_queue_runs_in_order_and_a_queued_job_can_be_dropped(manager, tiny_model_path):
    first = manager.submit(build_config("cl_ft", {"model": tiny_model_path, "cl.epochs": 200, "embed_rows": 10}))
    second = manager.submit(build_config("ft", {"model": tiny_model_path, "max_steps": 1, "embed_rows": 10}))
    third = manager.submit(build_config("ft", {"model": tiny_model_path, "max_steps": 1, "embed_rows": 10}))
    assert _wait_for(lambda: first.state == "running")
    assert second.state == "queued" and [j.id for j in manager.pending()] == [first.id, second.id, third.id]
    assert manager.cancel(second.id)
    assert second.state == "cancelled"
    assert second.wait(1), "waiting on a dropped job must not wait for the running one"
    assert first.state == "running"
    manager.cancel(first.id)
    assert third.wait(600) and third.state == "done"
    assert second.run.status["state"] == "cancelled" and not second.run.has_model()


def test_lora_share_is_in_the_live_status(manager, tiny_model_path):
    job = manager.submit(build_config("lora", {"model": tiny_model_path, "max_steps": 2, "embed_rows": 10}))
    assert job.wait(600) and job.state == "done"
    lora = job.status()["lora"]
    assert 0 < lora["trainable_share"] < 0.5 and lora["trainable_params"] < lora["total_params"]


def test_forget_drops_finished_jobs_of_deleted_runs_and_keeps_live_ones(manager, tiny_model_path):
    done = manager.submit(build_config("ft", {"model": tiny_model_path, "max_steps": 1, "embed_rows": 10}))
    assert done.wait(600) and done.state == "done"
    running = manager.submit(build_config("cl_ft", {"model": tiny_model_path, "cl.epochs": 200, "embed_rows": 10}))
    assert _wait_for(lambda: running.state == "running")
    manager.store.remove(done.run.id)
    assert manager.forget([done.run.id, running.run.id]) == 1  # the running job's run is not forgotten
    assert [j.id for j in manager.jobs()] == [running.id]
    assert manager.get(done.id) is None
    manager.cancel(running.id)
    assert running.wait(30)
