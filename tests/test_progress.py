"""Progress: steps, ETA, snapshots, cancellation and sinks."""

from __future__ import annotations

import threading
import time

import pytest

from threephase_core.progress import Cancelled, Progress


def test_steps_losses_and_snapshot():
    p = Progress()
    assert p.snapshot()["state"] == "queued" and p.snapshot()["fraction"] == 0.0
    p.set_state("running", "go")
    p.start_phase("dae", 10)
    p.step()
    p.step(2, loss=1.5)
    p.step(1, loss=0.5)
    s = p.snapshot()
    assert (s["state"], s["message"], s["phase"], s["step"], s["total"]) == ("running", "go", "dae", 4, 10)
    assert s["fraction"] == pytest.approx(0.4)
    assert s["losses"] == {"dae": [(3, 1.5), (4, 0.5)]}
    assert s["cancel_requested"] is False
    p.step(100)  # never past the total
    assert p.snapshot()["step"] == 10


def test_eta_from_elapsed_and_steps(monkeypatch):
    p = Progress()
    p.set_state("running")
    p.start_phase("ft", 10)
    assert p.snapshot()["eta_s"] is None  # nothing done yet
    p.step(2)
    now = time.time()
    p.phase_started = now - 10.0  # 2 steps took 10 s -> 8 left take 40 s
    monkeypatch.setattr("threephase_core.progress.time.time", lambda: now)  # a frozen clock: no timing in the test
    assert p.snapshot()["eta_s"] == pytest.approx(40.0)
    p.set_state("done")
    assert p.snapshot()["eta_s"] is None


def test_elapsed_stops_when_finished():
    p = Progress()
    p.set_state("running")
    p.started = time.time() - 5.0
    p.set_state("done")
    first = p.snapshot()["elapsed_s"]
    time.sleep(0.05)
    assert p.snapshot()["elapsed_s"] == first  # the clock moved on, the elapsed time did not
    assert first == pytest.approx(p.finished - p.started) and first >= 5.0


def test_phases_and_walls():
    p = Progress()
    p.set_state("running")
    for phase in ("dae", "cl", "ft"):
        p.start_phase(phase, 3)
        p.step(1)
        assert p.end_phase() >= 0.0
    s = p.snapshot()
    assert s["phases_done"] == ["dae", "cl", "ft"]
    assert set(s["phase_walls"]) == {"dae", "cl", "ft"}
    assert s["step"] == s["total"] == 3  # end_phase completes the bar


def test_zero_total_does_not_divide_by_zero():
    p = Progress()
    p.start_phase("x", 0)
    assert p.snapshot()["total"] == 1
    p.step()
    assert p.snapshot()["fraction"] == 1.0


def test_loss_before_any_phase_does_not_crash():
    p = Progress()
    p.step(loss=1.0)
    assert p.snapshot()["losses"] == {"": [(0, 1.0)]}


def test_cancel_makes_step_raise():
    p = Progress()
    p.set_state("running")
    p.start_phase("ft", 100)
    p.step()
    p.request_cancel()
    assert p.cancel_requested and p.snapshot()["cancel_requested"]
    with pytest.raises(Cancelled):
        p.step()
    with pytest.raises(Cancelled):
        p.step(loss=0.1)
    with pytest.raises(Cancelled):
        p.start_phase("next", 5)
    with pytest.raises(Cancelled):
        p.check_cancel()


def test_cancel_from_another_thread_stops_the_worker():
    p = Progress()
    p.start_phase("ft", 10**9)
    outcome = {}

    def work():
        try:
            while True:
                p.step()
                time.sleep(0.001)
        except Cancelled:
            outcome["cancelled"] = True

    t = threading.Thread(target=work, name="progress-test-worker")
    t.start()
    time.sleep(0.05)
    p.request_cancel()
    t.join(timeout=600)  # a guard: the worker stops at its next step
    assert not t.is_alive() and outcome == {"cancelled": True}


def test_sinks_get_every_event():
    events = []
    p = Progress(sinks=[events.append])
    p.set_state("running", "hi")
    p.start_phase("cl", 4)
    p.step()  # no loss, no info: not an event
    p.step(loss=0.7, lr=1e-5)
    p.log("eval", accuracy=0.9)
    p.end_phase()
    p.set_state("done")
    kinds = [e["type"] for e in events]
    assert kinds == ["state", "phase_start", "loss", "eval", "phase_end", "state"]
    assert all(isinstance(e["t"], float) for e in events)
    assert events[1] == {"t": events[1]["t"], "type": "phase_start", "phase": "cl", "total": 4}
    assert events[2] == {"t": events[2]["t"], "type": "loss", "phase": "cl", "step": 2, "loss": 0.7, "lr": 1e-5}
    assert events[3]["accuracy"] == 0.9 and events[3]["phase"] == "cl"
    assert p.snapshot()["evals"] == [{"accuracy": 0.9}]
    assert events[-1]["state"] == "done"


def test_a_failing_sink_does_not_break_steps():
    good = []

    def broken(event):
        raise RuntimeError("disk full")

    p = Progress(sinks=[broken, good.append])
    p.set_state("running")
    p.start_phase("ft", 3)
    p.step(loss=1.0)
    p.end_phase()
    assert [e["type"] for e in good] == ["state", "phase_start", "loss", "phase_end"]
    assert p.snapshot()["losses"]["ft"] == [(1, 1.0)]


def test_bad_state_is_rejected():
    with pytest.raises(AssertionError):
        Progress().set_state("paused")
