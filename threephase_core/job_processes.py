"""A queued job of several processes (nproc > 1): the `run` command as a subprocess, followed
through its run folder.

The queue runs one-device jobs in its own threads (jobs.py). A data-parallel job needs
processes of its own (distributed.py), so its worker starts ``threephase run --nproc N`` on the
run folder the queue already made (``--run-folder``), replays the events the processes write
into the job's Progress (the pages show it live like any other job), sends SIGINT when the job
is cancelled (the processes stop together at the next step) and returns the state the run
folder ends in. The job holds every GPU while it runs (`DeviceLease`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading

POLL_S = 0.5  # how often the event log is read and a cancel looked for


def command_for_job(job) -> list[str]:
    """The command line that runs (or resumes) `job` in its run folder."""
    base = [sys.executable, "-m", "threephase_core", "run", "--quiet"]
    if job.resume:
        return base + ["--resume", str(job.run.path), "--runs-dir", str(job.run.path.parent)]
    return base + ["--config", str(job.run.path / "config.json"), "--run-folder", str(job.run.path)]


def run_as_processes(job) -> dict:
    """Run `job` as a subprocess and follow it; returns its result as `runner.execute` does."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
        proc = subprocess.Popen(
            command_for_job(job),
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        offset, asked = 0, False
        while True:
            offset = _replay(job, offset)
            if job.progress.cancel_requested and not asked:
                proc.send_signal(signal.SIGINT)  # the launcher passes it on to every process
                asked = True
            try:
                proc.wait(POLL_S)
                break
            except subprocess.TimeoutExpired:
                continue
        _replay(job, offset)
        errors.seek(0)
        said = errors.read()[-1500:].strip()
    status = job.run.status
    state = status.get("state")
    if state == "done":
        if job.progress.state != "done":
            job.progress.set_state("done")
        return {"state": "done", "metrics": job.run.metrics}
    if state == "cancelled":
        job.progress.set_state("cancelled", status.get("message", ""))
        return {"state": "cancelled"}
    message = status.get("message") if state == "failed" else None
    message = message or f"the processes ended with status {proc.returncode}: {said.splitlines()[-1] if said else ''}"
    job.progress.set_state("failed", message)
    if state != "failed":
        job.run.update_status(state="failed", message=message)
    return {"state": "failed", "message": message}


def _replay(job, offset: int) -> int:
    """Replay the whole lines of the run's event log after `offset`; returns the new offset."""
    try:
        with open(job.run.path / "events.jsonl", "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return offset
    end = data.rfind(b"\n") + 1  # a line being written waits for the next read
    for line in data[:end].splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                job.progress.replay(event)
    return offset + end


class DeviceLease:
    """Single-device jobs share the devices (one per worker); a job of several processes waits
    until no job runs and holds them all, so it never shares a GPU with another job."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._single = 0
        self._all = False

    @contextlib.contextmanager
    def one(self):
        with self._cond:
            self._cond.wait_for(lambda: not self._all)
            self._single += 1
        try:
            yield
        finally:
            with self._cond:
                self._single -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def every(self):
        with self._cond:
            self._cond.wait_for(lambda: not self._all and self._single == 0)
            self._all = True
        try:
            yield
        finally:
            with self._cond:
                self._all = False
                self._cond.notify_all()
