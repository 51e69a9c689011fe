"""The queue with several GPUs: one job per GPU at once, each on its own GPU.

The devices are injected (this machine may have none) and the runner is replaced by one that
records the device it was given and waits until the other job runs too: if the queue ran the
jobs one after the other, that wait would never end (a generous guard turns it into a failure).
"""

from __future__ import annotations

import threading

import pytest

from threephase_core import runner
from threephase_core.jobs import JobManager, gpu_devices
from threephase_core.recipes import build_config
from threephase_core.workbench.settings import device_choices, device_settings

GUARD_S = 120  # a guard against a queue that never starts the second job; never reached otherwise


@pytest.fixture
def recorded(monkeypatch):
    """The device each job ran with; with `together` set, each job waits for the other to run."""
    seen: dict[str, str] = {}
    together = threading.Barrier(2)
    state = {"together": None}

    def execute(cfg, run, progress, dataset=None, resume=False, team=None):
        progress.set_state("running")
        seen[run.id] = cfg.device
        if state["together"]:
            state["together"].wait(timeout=GUARD_S)
        progress.set_state("done")
        return {"state": "done"}

    monkeypatch.setattr(runner, "execute", execute)
    state["together"] = together
    return seen, state


def test_two_gpus_run_two_jobs_at_once_each_on_its_own_gpu(tmp_path, recorded):
    seen, _ = recorded
    manager = JobManager(tmp_path, devices=["cuda:0", "cuda:1"])
    try:
        jobs = [manager.submit(build_config("ft", {"seed": seed})) for seed in (0, 1)]
        for job in jobs:
            assert job.wait(GUARD_S)
    finally:
        manager.shutdown()
    assert [job.result["state"] for job in jobs] == ["done", "done"]  # a broken wait would fail the job
    assert sorted(job.device for job in jobs) == ["cuda:0", "cuda:1"]
    assert sorted(seen.values()) == ["cuda:0", "cuda:1"]
    assert {job.config.device for job in jobs} == {"cuda:0", "cuda:1"}  # what the run's config records


def test_a_job_pinned_to_a_device_keeps_it(tmp_path, recorded):
    seen, state = recorded
    state["together"] = None
    manager = JobManager(tmp_path, devices=["cuda:0", "cuda:1"])
    try:
        job = manager.submit(build_config("ft", {"device": "cpu"}))
        assert job.wait(GUARD_S)
    finally:
        manager.shutdown()
    assert list(seen.values()) == ["cpu"] and job.device is None


def test_without_several_gpus_one_worker_runs_jobs_with_their_own_device(tmp_path, recorded):
    seen, state = recorded
    state["together"] = None
    assert gpu_devices() == [] or len(gpu_devices()) > 1  # never a list of one
    manager = JobManager(tmp_path, devices=[])
    try:
        jobs = [manager.submit(build_config("ft", {"seed": seed})) for seed in (0, 1)]
        for job in jobs:
            assert job.wait(GUARD_S)
    finally:
        manager.shutdown()
    assert len(manager._workers) == 1
    assert list(seen.values()) == ["auto", "auto"] and all(job.device is None for job in jobs)


def test_a_queued_job_of_two_processes_runs_as_the_command_and_is_followed_live(tmp_path, tiny_model_path):
    runs = tmp_path / "runs"
    manager = JobManager(runs, devices=[])
    settings = {"model": tiny_model_path, "nproc": 2, "device": "cpu", "max_steps": 2, "embed_rows": 20}
    try:
        job = manager.submit(build_config("ft", {**settings, "embed_train_rows": 20}))
        assert job.wait(GUARD_S * 5)
    finally:
        manager.shutdown()
    assert job.result["state"] == "done", job.result
    snapshot = job.status()  # what the Train page shows, replayed from the processes' event log
    assert snapshot["state"] == "done" and snapshot["phases_done"] == ["ft"]
    assert [step for step, _ in snapshot["losses"]["ft"]] == [1, 2] and snapshot["evals"]
    assert job.run.status["processes"] == 2 and job.result["metrics"]["test"]["accuracy"] >= 0
    assert [p.name for p in runs.iterdir()] == [job.run.id]  # the queue's folder, written by process 0


def test_the_train_page_offers_all_gpus_only_when_several_are_visible():
    assert device_choices(0, False) == ["auto", "cpu"]
    assert device_choices(1, True) == ["auto", "cpu", "cuda"]
    assert device_choices(4, True)[-1] == "all 4 GPUs"
    assert device_settings("all 4 GPUs") == {"device": "cuda", "nproc": 4}
    assert device_settings("cpu") == {"device": "cpu"}
