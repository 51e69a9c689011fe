"""Ctrl-C during `run` has one outcome at any moment, and the tests wait for events, not time.

- During a phase: the run stops at the next step, is marked cancelled, keeps its finished
  phases, and the command exits with 130.
- After the last training step: nothing is left to stop; the run finishes, its results are
  printed, the command says the request came too late and exits with 0.
- After the command has reported: the process ends with the command's own status (no death by
  signal after a complete result, no traceback from the interpreter's teardown).

Each test starts a real subprocess and sends a real SIGINT when the run folder's event log (or
the process itself) shows the moment the test is about; the settings cannot finish or
early-stop before that (many epochs, patience at its limit).
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
# A guard against a hung child only: every wait below ends on an event long before this.
HANG_GUARD_S = 900


def _events(runs: Path) -> list[dict]:
    """Every whole event logged so far by the run folders under `runs`."""
    found = []
    for log in runs.glob("*/events.jsonl"):
        for line in log.read_text().splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:  # a line being written
                continue
    return found


def _wait_for_event(proc: subprocess.Popen, runs: Path, wanted) -> None:
    """Block until an event for which `wanted(event)` is true is in the log (polled; no sleep-and-hope)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not any(wanted(e) for e in _events(runs)):
        assert proc.poll() is None, f"the run ended before the awaited event:\n{proc.communicate()[0]}"
        assert time.monotonic() < deadline, "the awaited event never came"
        time.sleep(0.1)


def _child_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _sigint_default() -> None:
    # SIGINT back to default in the child: a test session started in the background may ignore
    # it, and the command line (rightly) leaves an ignored SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_a_phase_cancels_the_run_and_keeps_finished_phases(tiny_model_path, tmp_path):
    runs = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "threephase_core",
        "run",
        "--recipe",
        "dae_ft",
        "--model",
        tiny_model_path,
        "--set",
        "dae.epochs=1",
        "--set",
        "ft.epochs=100",
        "--set",
        "ft.patience=100",
        "--set",
        "embed_rows=20",
        "--runs-dir",
        str(runs),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_child_env(),
        cwd=tmp_path,
        preexec_fn=_sigint_default,
    )  # noqa: PLW1509 - only a signal reset
    try:
        # A logged FT training step: FT is under way, with ~100 epochs still to go.
        _wait_for_event(proc, runs, lambda e: e.get("type") == "loss" and e.get("phase") == "ft")
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output  # not negative: no abort, no death by signal
    assert "Traceback" not in output and "terminate called" not in output
    assert "cancelled; finished phases are in" in output
    assert "best validation accuracy" not in output  # no result of a run that was stopped
    (run,) = list(runs.iterdir())
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "cancelled"
    assert "dae" in status["phase_walls"]
    assert (run / "embeddings" / "base.npz").exists() and (run / "embeddings" / "dae.npz").exists()
    assert not (run / "embeddings" / "ft.npz").exists()
    assert (run / "config.json").exists() and (run / "data.json").exists()


# Runs the CLI in a child whose Ctrl-C arrives right after FT's last training step: the patched
# end_phase sends SIGINT to its own process and waits until the CLI's handler has recorded it.
_AFTER_LAST_STEP = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_DFL)
from threephase_core import progress as P
from threephase_core.cli import entry_point

original = P.Progress.end_phase

def end_phase(self):
    wall = original(self)
    if self.phase == "ft":
        os.kill(os.getpid(), signal.SIGINT)
        while not self.cancel_requested:  # the handler runs in the main thread
            time.sleep(0.01)
        print("SIGINT SENT AFTER THE LAST STEP", file=sys.stderr, flush=True)
    return wall

P.Progress.end_phase = end_phase
sys.argv = ["threephase"] + sys.argv[1:]
entry_point()
"""


def test_ctrl_c_after_the_last_training_step_finishes_the_run_and_says_it_came_too_late(tiny_model_path, tmp_path):
    runs = tmp_path / "runs"
    args = [
        "run",
        "--recipe",
        "ft",
        "--model",
        tiny_model_path,
        "--set",
        "ft.epochs=1",
        "--set",
        "embed_rows=20",
        "--runs-dir",
        str(runs),
    ]
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_LAST_STEP, *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        env=_child_env(),
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    assert "SIGINT SENT AFTER THE LAST STEP" in done.stderr, output
    assert done.returncode == 0, output
    assert "Traceback" not in output
    assert "best validation accuracy" in done.stdout  # the full result
    assert "too late to stop anything" in done.stderr
    assert "cancelled" not in output
    (run,) = list(runs.iterdir())
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "done"
    assert (run / "model").is_dir() and (run / "embeddings" / "ft.npz").exists()


def test_ctrl_c_after_the_command_has_reported_ends_with_the_commands_status(tmp_path):
    """After the command has finished, a Ctrl-C in the interpreter's teardown (atexit hooks, e.g.
    torch's) ends the process with the command's status; it printed a KeyboardInterrupt
    traceback there, and a default handler would make it a death by signal after a full result."""
    script = (
        "import atexit, os, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as in a terminal, even under nohup
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(30)))\n"
        "sys.argv = ['threephase', 'recipes']\n"
        "from threephase_core.cli import entry_point\n"
        "entry_point()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        env=_child_env(),
        cwd=tmp_path,
    )
    assert "three_phase" in done.stdout  # the command itself ran and printed
    assert done.returncode == 0, (done.returncode, done.stderr[-1500:])
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
