"""Ctrl-C during `run`: the run stops at the next step, is marked cancelled, keeps its finished phases.

A real subprocess gets a real SIGINT once its run folder shows a phase in progress. Before the
fix, a KeyboardInterrupt inside Thread.join killed the worker inside torch: the process aborted
("terminate called without an active exception") and status.json stayed "running".
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _phase_started(runs: Path, phase: str) -> bool:
    """True once a run folder under `runs` logged the start of `phase`."""
    for events in runs.glob("*/events.jsonl"):
        for line in events.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:  # a line being written
                continue
            if event.get("type") == "phase_start" and event.get("phase") == phase:
                return True
    return False


def _start_run(runs: Path, model: str) -> subprocess.Popen:
    """A dae -> ft run whose FT phase is long (many epochs), with SIGINT at its default."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "threephase_core", "run", "--recipe", "dae_ft", "--model", model,
           "--set", "dae.epochs=1", "--set", "ft.epochs=200", "--set", "embed_rows=20", "--runs-dir", str(runs)]
    # SIGINT back to default in the child: a test session started in the background may ignore
    # it, and the command line (rightly) leaves an ignored SIGINT ignored.
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509 - only a signal reset


def test_ctrl_c_cancels_the_run_and_keeps_finished_phases(tiny_model_path, tmp_path):
    runs = tmp_path / "runs"
    proc = _start_run(runs, tiny_model_path)
    try:
        deadline = time.time() + 240
        while not _phase_started(runs, "ft"):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.time() < deadline, "the run never reached the FT phase"
            time.sleep(0.2)
        time.sleep(0.5)  # a few FT steps in
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output  # not negative: no abort, no death by signal
    assert "Traceback" not in output and "terminate called" not in output
    assert "stopping at the next step" in output and "cancelled; finished phases are in" in output
    (run,) = list(runs.iterdir())
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "cancelled"
    assert "dae" in status["phase_walls"]
    assert (run / "embeddings" / "base.npz").exists() and (run / "embeddings" / "dae.npz").exists()
    assert (run / "config.json").exists() and (run / "data.json").exists()


def test_ctrl_c_during_teardown_ends_the_process_without_a_traceback(tmp_path):
    """After the command has finished, a Ctrl-C in the interpreter's teardown (atexit hooks, e.g.
    torch's) just ends the process; it printed a KeyboardInterrupt traceback there."""
    script = (
        "import atexit, os, signal, sys, time, runpy\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as in a terminal, even if this test runs under nohup
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(2)))\n"
        "sys.argv = ['threephase_core', 'recipes']\n"
        "runpy.run_module('threephase_core', run_name='__main__')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert "three_phase" in done.stdout  # the command itself ran and printed
    assert done.returncode == -signal.SIGINT, (done.returncode, done.stderr[-1500:])
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
