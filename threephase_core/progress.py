"""Thread-safe progress of one run, shared by the worker thread and whoever watches it.

The worker calls `start_phase`, `step` and `end_phase`; the watcher (a Streamlit page, the
CLI's progress bar) calls `snapshot`. `step` raises `Cancelled` once a cancel was asked for,
so training stops at the next step boundary. Every change is also passed to the `sinks`
(the run store's event log), outside the lock. Once the runner has set the
run's estimate (`set_plan`), every event also updates the whole run's smoothed ETA
(`estimates.RunEta`), which `snapshot` returns as ``run_eta_s``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from threephase_core.estimates import Estimate, RunEta

STATES = ("queued", "running", "done", "failed", "cancelled")


class Cancelled(Exception):
    """Raised inside the worker when the run was asked to stop."""


class Progress:
    def __init__(self, sinks: list[Callable[[dict], None]] | None = None):
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self.sinks = list(sinks or [])
        self.state = "queued"
        self.message = ""
        self.phase = ""
        self.step_no = 0
        self.total = 0
        self.phase_started = 0.0
        self.started = 0.0
        self.finished = 0.0
        self.losses: dict[str, list[tuple[int, float]]] = {}
        self.phase_walls: dict[str, float] = {}
        self.phases_done: list[str] = []
        self.extra: dict[str, Any] = {}
        self.estimate: Estimate | None = None
        self._run_eta: RunEta | None = None

    def set_plan(self, estimate: Estimate | None, phases) -> None:
        """The run's expected duration (None: no basis here) and the phases still to run; from
        now on every event updates the whole run's ETA."""
        with self._lock:
            self.estimate = estimate
            self._run_eta = RunEta(estimate, list(phases))
        if estimate is not None:
            self._emit({"type": "estimate", "total_s": round(estimate.total_s, 1), "basis": estimate.basis})

    # ---- worker side ------------------------------------------------------------------
    def set_state(self, state: str, message: str = "") -> None:
        assert state in STATES, state
        with self._lock:
            self.state, self.message = state, message
            if state == "running" and not self.started:
                self.started = time.time()
            if state in ("done", "failed", "cancelled"):
                self.finished = time.time()
        self._emit({"type": "state", "state": state, "message": message})

    def start_phase(self, phase: str, total: int) -> None:
        with self._lock:
            self.phase, self.step_no, self.total = phase, 0, max(int(total), 1)
            self.phase_started = time.time()
            self.losses.setdefault(phase, [])
        self._emit({"type": "phase_start", "phase": phase, "total": total})
        self.check_cancel()

    def step(self, n: int = 1, loss: float | None = None, **info: Any) -> None:
        """Advance by n steps; record a loss if given. Raises Cancelled when asked to stop."""
        with self._lock:
            self.step_no = min(self.step_no + n, self.total)
            step, phase = self.step_no, self.phase
            if loss is not None:
                self.losses.setdefault(phase, []).append((step, float(loss)))
        if loss is not None or info:
            self._emit({"type": "loss", "phase": phase, "step": step, "loss": loss, **info})
        else:
            self._update_eta({"t": time.time(), "type": "loss", "phase": phase, "step": step})
        self.check_cancel()

    def log(self, kind: str, **info: Any) -> None:
        """Record an event that is not a step (an evaluation, a note)."""
        with self._lock:
            if kind == "eval":
                self.extra.setdefault("evals", []).append(info)
            elif kind == "lora":
                self.extra["lora"] = dict(info)
        self._emit({"type": kind, "phase": self.phase, **info})

    def end_phase(self) -> float:
        with self._lock:
            wall = time.time() - self.phase_started
            self.phase_walls[self.phase] = wall
            self.phases_done.append(self.phase)
            self.step_no = self.total
            phase = self.phase
        self._emit({"type": "phase_end", "phase": phase, "wall_s": round(wall, 3)})
        return wall

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled by request")

    def replay(self, event: dict) -> None:
        """Take in an event that another process logged (a run followed through its
        events.jsonl, `job_processes.py`), without passing it to the sinks again."""
        kind = event.get("type")
        with self._lock:
            if kind == "state" and event.get("state") in STATES:
                self.state, self.message = event["state"], event.get("message", "")
                if self.state == "running" and not self.started:
                    self.started = event.get("t", time.time())
                if self.state in ("done", "failed", "cancelled"):
                    self.finished = event.get("t", time.time())
            elif kind == "phase_start":
                self.phase, self.step_no, self.total = event["phase"], 0, max(int(event.get("total") or 1), 1)
                self.phase_started = event.get("t", time.time())
                self.losses.setdefault(self.phase, [])
            elif kind == "loss":
                self.step_no = min(int(event.get("step") or 0), self.total)
                if event.get("loss") is not None:
                    self.losses.setdefault(event.get("phase", self.phase), []).append((self.step_no, event["loss"]))
            elif kind == "phase_end":
                self.phase_walls[event["phase"]] = event.get("wall_s", 0.0)
                self.phases_done.append(event["phase"])
                self.step_no = self.total
            elif kind == "eval":
                self.extra.setdefault("evals", []).append({k: v for k, v in event.items() if k not in ("t", "type")})
            elif kind == "lora":
                self.extra["lora"] = {k: v for k, v in event.items() if k not in ("t", "type", "phase")}

    # ---- watcher side -----------------------------------------------------------------
    def request_cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = time.time()
            elapsed = now - self.phase_started if self.phase_started else 0.0
            eta = None
            if self.state == "running" and self.step_no > 0 and self.total:
                eta = elapsed / self.step_no * (self.total - self.step_no)
            run_eta = self._run_eta.at_time(now) if self._run_eta and self.state == "running" else None
            return {
                "state": self.state,
                "message": self.message,
                "phase": self.phase,
                "step": self.step_no,
                "total": self.total,
                "fraction": self.step_no / self.total if self.total else 0.0,
                "eta_s": eta,
                "run_eta_s": run_eta,
                "estimate_s": self.estimate.total_s if self.estimate else None,
                "estimate_basis": self.estimate.basis if self.estimate else None,
                "elapsed_s": (self.finished or now) - self.started if self.started else 0.0,
                "losses": {k: list(v) for k, v in self.losses.items()},
                "phase_walls": dict(self.phase_walls),
                "phases_done": list(self.phases_done),
                "evals": list(self.extra.get("evals", [])),
                "lora": dict(self.extra["lora"]) if "lora" in self.extra else None,
                "cancel_requested": self._cancel.is_set(),
            }

    def _update_eta(self, event: dict) -> None:
        with self._lock:
            if self._run_eta is not None:
                self._run_eta.update(event)

    def _emit(self, event: dict) -> None:
        event = {"t": round(time.time(), 3), **event}
        self._update_eta(event)
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # a broken sink never stops training
                pass
