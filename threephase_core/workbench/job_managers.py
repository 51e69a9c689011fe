"""The job managers the workbench started, in one registry.

One worker per runs folder and process, whatever happens to a page's caches (`manager_for`);
tests and shutdown hooks stop every worker thread through `shutdown_managers`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from threephase_core.runstore import default_runs_dir

_managers: list = []
_managers_lock = threading.RLock()


def open_manager(runs_dir: str | Path | None = None):
    """A new JobManager on `runs_dir` (default: $THREEPHASE_RUNS_DIR or ./runs), registered
    so that `shutdown_managers` can stop its worker thread."""
    from threephase_core.jobs import JobManager

    manager = JobManager(runs_dir or default_runs_dir())
    with _managers_lock:
        _managers.append(manager)
    return manager


def manager_for(runs_dir: str | Path | None = None):
    """The process's JobManager for `runs_dir`: the live one if there is one, else a new one.
    One worker per runs folder and process, whatever happens to the caller's caches."""
    root = Path(runs_dir or default_runs_dir()).resolve()
    with _managers_lock:  # check and create under one lock: two sessions get the same manager
        for manager in _managers:
            if manager.store.root.resolve() == root and manager.alive:
                return manager
        return open_manager(root)


def managers() -> list:
    """The JobManagers started through `open_manager` and not yet shut down."""
    with _managers_lock:
        return list(_managers)


def shutdown_managers(timeout: float = 30.0) -> None:
    """Cancel every job and stop every worker started through `open_manager`."""
    with _managers_lock:
        managers, _managers[:] = list(_managers), []
    for manager in managers:
        manager.shutdown(timeout)


def live_status(manager) -> dict[str, dict]:
    """run id -> the job's status snapshot, for every job this manager knows."""
    return {job.run.id: job.status() for job in manager.jobs()} if manager is not None else {}
