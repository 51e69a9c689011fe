"""Sharing the CPU (threads.py): the waiting policy set before torch loads, the thread setting,
the reading of other processes' CPU use, and the thread count the governor picks from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil
import pytest
import torch

from threephase_core import threads
from threephase_core.threads import CpuMeter, ThreadGovernor, ThreadSettingError, choose_threads, thread_setting

BUSY_LOOP = "while True: pass"


@pytest.mark.parametrize(
    ("n_cpus", "others", "expected"),
    [
        (2, 0.0, 2),  # alone: every core
        (2, 0.3, 2),  # background noise
        (2, 1.0, 1),  # a 2-thread job sharing 2 cores with us gets about 1 core
        (2, 2.0, 1),  # never fewer than 1
        (8, 2.0, 6),
        (8, 2.6, 5),
        (1, 0.0, 1),
        (4, -1.0, 4),  # a reading below zero (clock skew) counts as nothing
    ],
)
def test_threads_are_the_free_cores(n_cpus, others, expected):
    assert choose_threads(n_cpus, others) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"THREEPHASE_THREADS": "auto"}, None),
        ({"THREEPHASE_THREADS": " 3 "}, 3),
        ({"OMP_NUM_THREADS": "2"}, 2),  # a person's explicit choice is kept
        ({"THREEPHASE_THREADS": "1", "OMP_NUM_THREADS": "4"}, 1),
    ],
)
def test_thread_setting(env, expected):
    assert thread_setting(env) == expected


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_setting_says_what_it_takes(bad):
    with pytest.raises(ThreadSettingError, match=r"THREEPHASE_THREADS must be 'auto' or a whole number"):
        thread_setting({"THREEPHASE_THREADS": bad})


def _env_after_import(**env) -> dict:
    code = (
        "import json, os, threephase_core, torch; "
        "print(json.dumps({'policy': os.environ.get('OMP_WAIT_POLICY'), 'applied': "
        "threephase_core.threads.wait_policy_applied()}))"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_engine_makes_idle_openmp_threads_sleep_before_torch_loads():
    assert _env_after_import() == {"policy": "PASSIVE", "applied": True}


def test_a_waiting_policy_already_chosen_is_kept():
    assert _env_after_import(OMP_WAIT_POLICY="ACTIVE")["policy"] == "ACTIVE"
    assert _env_after_import(GOMP_SPINCOUNT="1000")["policy"] is None


def test_a_fixed_setting_sets_torch_threads_on_the_calling_thread():
    before = torch.get_num_threads()
    changes = []
    try:
        governor = ThreadGovernor(fixed=1, on_change=changes.append)
        assert torch.get_num_threads() == 1
        assert governor.meter is None  # fixed: no looking at the load
        governor.tick()
        assert torch.get_num_threads() == 1
        assert [(c.threads, c.others_busy) for c in changes] == [(1, None)]
    finally:
        torch.set_num_threads(before)


def _busy_processes(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n)]


def _wait_for_cpu(procs: list[subprocess.Popen], seconds: float, guard_s: float = 300.0) -> float:
    """Wait until each process has used `seconds` of CPU; return their total CPU seconds."""
    handles = [psutil.Process(p.pid) for p in procs]
    deadline = time.monotonic() + guard_s
    while time.monotonic() < deadline:
        used = [sum(h.cpu_times()[:2]) for h in handles]
        if min(used) >= seconds:
            return sum(used)
        time.sleep(0.05)
    raise AssertionError("the busy processes never got the CPU")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
        p.wait(30)


def test_the_meter_counts_another_process_and_not_our_own_work():
    meter = CpuMeter()
    procs = _busy_processes(1)
    try:
        others_cpu = _wait_for_cpu(procs, 1.0)
        x = 0
        for i in range(2_000_000):  # our own work is left out
            x += i
        busy, span = meter.others_busy()
    finally:
        _stop(procs)
    assert span > 0
    assert busy * span >= 0.8 * others_cpu  # at least the other process's CPU seconds (jiffy rounding aside)
    assert busy <= len(meter.cpus) + 0.1


@pytest.mark.skipif(len(threads.usable_cpus()) < 2, reason="one core: there is only one thread to run")
def test_the_governor_gives_up_cores_that_other_work_keeps_busy(monkeypatch):
    monkeypatch.delenv("THREEPHASE_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    n = len(threads.usable_cpus())
    before = torch.get_num_threads()
    changes = []
    procs = []
    try:
        governor = ThreadGovernor(meter=CpuMeter(), every_s=0.0, on_change=changes.append)
        procs = _busy_processes(n)
        _wait_for_cpu(procs, 1.0)
        governor._next_look = 0.0  # the first look is due now (normally 1 s after the run starts)
        governor.tick()
    finally:
        _stop(procs)
        torch.set_num_threads(before)
    assert changes, "the governor made no choice"
    assert changes[-1].threads < n
    assert changes[-1].others_busy >= 1.0
