"""The job queue: runs recipes in background threads, one job per device at a time.

One manager per process (the workbench keeps it in `st.cache_resource`). Jobs wait in one
queue; one worker thread per device takes them in order. Without GPUs, or with one, that is a
single worker that leaves each job's device setting as it is (one job at a time, as always).
With several GPUs visible (`gpu_devices`), each GPU gets its own worker, and a job whose device
is ``auto`` or ``cuda`` runs on that worker's GPU (``cuda:1``...), so N single-device runs go at
once; a job pinned to a device (``cpu``, ``cuda:1``) keeps it. A job of several processes
(``nproc`` > 1, data parallel) runs as the command line in a subprocess and holds every device
while it runs (job_processes.py). Each job has a thread-safe
`Progress` the pages poll; `cancel` stops a running job at its next step boundary (a queued
job is simply dropped). An exception inside a job ends that job with its message in the run's
status; it never reaches the caller's thread.
"""

from __future__ import annotations

import itertools
import queue
import threading
from dataclasses import dataclass, field

from threephase_core.config import RunConfig
from threephase_core.job_processes import DeviceLease, run_as_processes
from threephase_core.progress import Progress
from threephase_core.runstore import Run, RunStore


@dataclass
class Job:
    id: int
    config: RunConfig
    run: Run
    progress: Progress = field(default_factory=Progress)
    result: dict | None = None
    done: threading.Event = field(default_factory=threading.Event)
    started: bool = False  # set by the worker, under the manager's lock, just before it runs
    device: str | None = None  # the GPU its worker gave it (several GPUs), else None: its own setting
    resume: bool = False  # the run is a stopped one that goes on from its last phase checkpoint
    owner: str | None = None  # the workbench session that queued it (workbench/sessions.py); None: nobody's

    @property
    def state(self) -> str:
        return self.progress.state

    def status(self) -> dict:
        snap = self.progress.snapshot()
        snap.update(
            job_id=self.id,
            run_id=self.run.id,
            recipe=self.config.recipe,
            dataset=self.config.dataset,
            seed=self.config.seed,
            owner=self.owner,
        )
        return snap

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


def gpu_devices() -> list[str]:
    """The GPUs the queue gives out, one per worker: ``cuda:0``... when several are visible;
    empty with one GPU or none (one worker, each job's own device setting)."""
    from threephase_core.device_info import surely_no_cuda

    if surely_no_cuda():  # no torch import for that (the workbench makes its manager as it draws)
        return []
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(count)] if count > 1 else []


class JobManager:
    def __init__(self, runs_dir=None, devices: list[str] | None = None):
        """`devices`: the GPUs to run jobs on at once, one worker each (default `gpu_devices()`);
        empty: one worker."""
        self.store = RunStore(runs_dir)
        self.devices = list(gpu_devices() if devices is None else devices)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: list[Job] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = False
        self._lease = DeviceLease()
        self._workers = [
            threading.Thread(target=self._work, args=(device,), name=f"threephase-worker-{i}", daemon=True)
            for i, device in enumerate(self.devices or [None])
        ]
        self._workers[0].name = "threephase-worker"
        for worker in self._workers:
            worker.start()

    # ---- public -----------------------------------------------------------------------
    def submit(self, cfg: RunConfig, owner: str | None = None) -> Job:
        """Queue a run of `cfg`; `owner`: who queued it (the queue shows it; see workbench/sessions.py)."""
        cfg.validate()
        run = self.store.create(cfg.recipe, cfg.dataset, cfg.seed)
        from threephase_core.config import save_config

        save_config(cfg, run.path / "config.json")
        run.update_status(state="queued")
        job = Job(next(self._ids), cfg, run, owner=owner)
        with self._lock:
            self._jobs.append(job)
        self._queue.put(job)
        return job

    def resume(self, run_id: str, owner: str | None = None) -> Job:
        """Queue a cancelled, failed or interrupted run of this runs folder to go on from its last
        finished phase, with its saved config, in its own folder. ConfigError says why it cannot.
        `owner`: who queued it, as for `submit`."""
        from threephase_core.checkpoints import find_run, resume_problem
        from threephase_core.config import ConfigError, load_config

        run = find_run(run_id, self.store.root)
        if any(j.run.path == run.path for j in self.pending()):
            raise ConfigError(f"run {run.id} is already queued or running here")
        problem = resume_problem(run)
        if problem:
            raise ConfigError(problem)
        cfg = load_config(run.path / "config.json").validate()
        run.update_status(state="queued", message="waiting to resume")
        job = Job(next(self._ids), cfg, run, owner=owner, resume=True)
        with self._lock:
            self._jobs.append(job)
        self._queue.put(job)
        return job

    def cancel(self, job_id: int) -> bool:
        job = self.get(job_id)
        if job is None or job.done.is_set():
            return False
        with self._lock:  # the worker starts a job under this lock: a job is dropped or run, never both
            job.progress.request_cancel()
            dropped = not job.started
        if dropped:
            self._drop(job)
        return True

    @staticmethod
    def _drop(job: Job) -> None:
        """Mark a job that never started as cancelled, and end its wait() now (not when the job
        before it ends)."""
        job.progress.set_state("cancelled", "removed from the queue")
        job.run.update_status(state="cancelled", message="removed from the queue")
        job.done.set()

    def forget(self, run_ids) -> int:
        """Drop finished jobs whose run folders were deleted (so the Train page stops listing
        them); queued or running jobs are kept. Returns how many were dropped."""
        gone = set(run_ids)
        with self._lock:
            keep = [j for j in self._jobs if not (j.run.id in gone and j.done.is_set())]
            dropped = len(self._jobs) - len(keep)
            self._jobs = keep
        return dropped

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs if j.id == job_id), None)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def active(self) -> Job | None:
        """The running job, if any (the first of them when several GPUs run jobs at once)."""
        return next((j for j in self.jobs() if j.state == "running"), None)

    def running(self) -> list[Job]:
        """Every running job (one per device at most)."""
        return [j for j in self.jobs() if j.state == "running"]

    def pending(self) -> list[Job]:
        return [j for j in self.jobs() if j.state in ("queued", "running")]

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel everything and stop the worker thread."""
        self._stopping = True
        for job in self.pending():
            self.cancel(job.id)
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout)

    @property
    def alive(self) -> bool:
        return all(worker.is_alive() for worker in self._workers)

    # ---- worker -----------------------------------------------------------------------
    def _work(self, device: str | None) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                # torch comes with the runner: imported for the first job, not when the manager starts
                # (the workbench makes its manager while it draws its first page)
                from threephase_core import runner

                with self._lock:
                    skip = job.progress.cancel_requested or self._stopping
                    job.started = not skip
                if skip:
                    if job.state == "queued":  # not dropped by cancel() yet
                        self._drop(job)
                    continue
                if job.config.nproc > 1:
                    with self._lease.every():
                        job.result = run_as_processes(job)
                    continue
                if device is not None and job.config.device in ("auto", "cuda"):
                    job.config = job.config.with_overrides({"device": device})
                    job.device = device
                with self._lease.one():
                    job.result = runner.execute(job.config, job.run, job.progress, resume=job.resume)
            except BaseException as exc:  # noqa: BLE001 - the worker must survive anything
                job.result = {"state": "failed", "message": str(exc)}
            finally:
                job.done.set()
