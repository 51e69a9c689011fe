"""Sharing the CPU (threads.py): the waiting policy set before torch loads, the thread setting,
and the thread count a run trains with."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from threephase_core import threads
from threephase_core.threads import ThreadChoice, ThreadSettingError, set_training_threads, thread_setting

BUSY_LOOP = "while True: pass"


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


def test_a_fixed_setting_sets_torch_threads_on_the_calling_thread(monkeypatch):
    monkeypatch.setenv("THREEPHASE_THREADS", "1")
    before = torch.get_num_threads()
    try:
        assert set_training_threads() == ThreadChoice(1, True)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_auto_keeps_a_thread_per_core_within_the_usable_cores(monkeypatch):
    """Other work on the machine does not shrink the team (the kernel shares cores between
    threads: a smaller team only gets a smaller share; bench/results/cpu_sharing_cpu.md)."""
    monkeypatch.delenv("THREEPHASE_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    procs = _busy_processes(len(threads.usable_cpus()))
    try:
        choice = set_training_threads()
        expected = max(1, min(threads._torch_default[0], len(threads.usable_cpus())))
        assert choice == ThreadChoice(expected, False) and torch.get_num_threads() == expected
        monkeypatch.setattr(threads, "usable_cpus", lambda: [0])  # a process pinned to one core
        assert set_training_threads().threads == 1
    finally:
        _stop(procs)
        torch.set_num_threads(before)


def _busy_processes(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n)]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
        p.wait(30)
