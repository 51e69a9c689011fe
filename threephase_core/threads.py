"""How many CPU threads training uses, and how idle threads wait, so that a run shares the CPU.

Why. torch's CPU build runs its operators on an OpenMP thread team (libgomp; MKL uses the same
team). By default an idle OpenMP thread spins for a while before it sleeps, and a team has as many
threads as there are cores. Beside other CPU-bound work both go wrong: the spinning threads burn the
time slices the other work (and our own next operator) needs, and every operator waits at its
barrier for the team's slowest, descheduled thread. On 2 cores the demo beside one 2-thread matrix
multiply took 4x its time alone, where fair sharing gives about 2x.

What it does.
* `prepare_process()` runs when `threephase_core` is imported, before torch loads libgomp (which
  reads its settings once, when it loads): idle OpenMP threads sleep at once
  (``OMP_WAIT_POLICY=PASSIVE``) unless the environment already chose a policy.
* `ThreadGovernor`, made at the start of each run on the thread that trains, sets torch's
  intra-op threads to the cores the rest of the machine leaves free, and looks again every
  `CHECK_EVERY_S` seconds at a step boundary (torch's thread count belongs to the calling
  thread). What the others use is read from the kernel's per-core busy time minus this
  process's own CPU time over the same interval: no sampling sleep, no cost per step.

The setting. ``THREEPHASE_THREADS``: ``auto`` (the default) or a whole number of threads, fixed for
the whole run. An explicit ``OMP_NUM_THREADS`` also fixes the count (torch has read it already).
What it does not handle: cgroup CPU quotas (a container limited to fewer cores than it sees) and
GPU runs, where these threads only feed the device (the same rule applies, harmlessly).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

ENV_THREADS = "THREEPHASE_THREADS"
CHECK_EVERY_S = 10.0  # how often a run looks at the machine's load again
FIRST_CHECK_S = 1.0  # the shortest interval the first look measures over


class ThreadSettingError(ValueError):
    """THREEPHASE_THREADS holds something other than 'auto' or a whole number >= 1."""


def prepare_process() -> None:
    """Make idle OpenMP threads sleep instead of spinning, for every OpenMP runtime loaded after
    this call (torch's, scikit-learn's); a policy already in the environment is kept."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def wait_policy_applied() -> bool:
    """Whether torch's OpenMP runtime loaded after `prepare_process` (if torch was imported before
    `threephase_core`, its idle threads spin as the environment said when it loaded)."""
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE" and not _loaded_before_us


def thread_setting(environ=None) -> int | None:
    """The fixed thread count the environment asks for, or None for automatic."""
    environ = os.environ if environ is None else environ
    raw = str(environ.get(ENV_THREADS, "auto")).strip().lower()
    if raw in ("", "auto"):
        return int(environ["OMP_NUM_THREADS"]) if str(environ.get("OMP_NUM_THREADS", "")).isdigit() else None
    if not raw.isdigit() or int(raw) < 1:
        raise ThreadSettingError(f"{ENV_THREADS} must be 'auto' or a whole number of threads >= 1, not {raw!r}")
    return int(raw)


def usable_cpus() -> list[int]:
    """The cores this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def choose_threads(n_cpus: int, others_busy: float) -> int:
    """Intra-op threads for `n_cpus` cores of which other processes keep `others_busy` cores'
    worth busy: the free cores, rounded, at least 1. A team larger than the free cores waits at
    every operator for a thread the scheduler has put aside."""
    free = n_cpus - max(0.0, others_busy)
    return max(1, min(n_cpus, int(free + 0.5)))


class CpuMeter:
    """Cores' worth of CPU time used by other processes on our cores between two readings."""

    def __init__(self, cpus: list[int] | None = None):
        import psutil

        self._psutil = psutil
        self.cpus = cpus if cpus is not None else usable_cpus()
        self._me = psutil.Process()
        self._last = self._read()

    def _read(self) -> tuple[float, float, float]:
        per_cpu = self._psutil.cpu_times(percpu=True)
        busy = 0.0
        for i in self.cpus:
            if i < len(per_cpu):
                t = per_cpu[i]
                busy += sum(t) - t.idle - getattr(t, "iowait", 0.0)
        own = self._me.cpu_times()
        return time.monotonic(), busy, own.user + own.system

    def others_busy(self) -> tuple[float, float]:
        """(cores' worth used by others, seconds measured over) since the last call."""
        now = self._read()
        (t0, busy0, own0), (t1, busy1, own1) = self._last, now
        self._last = now
        span = t1 - t0
        if span <= 0:
            return 0.0, 0.0
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / span), span

    def seconds_since_last(self) -> float:
        return time.monotonic() - self._last[0]


@dataclass
class ThreadChoice:
    threads: int
    others_busy: float | None  # None: fixed by the setting
    at: float


class ThreadGovernor:
    """Keeps torch's intra-op threads at the cores left free (see the module doc). Call `tick()`
    on the training thread; it is cheap when no look is due. `choices` records each change."""

    def __init__(
        self,
        fixed: int | None = None,
        meter: CpuMeter | None = None,
        every_s: float = CHECK_EVERY_S,
        on_change=None,
    ):
        import torch

        self._torch = torch
        self.on_change = on_change
        self.fixed = fixed if fixed is not None else thread_setting()
        self.every_s = every_s
        self.choices: list[ThreadChoice] = []
        self.meter = None if self.fixed else (meter or _meter_or_none())
        self.n_cpus = len(self.meter.cpus) if self.meter else len(usable_cpus())
        self._next_look = time.monotonic() + FIRST_CHECK_S
        if self.fixed:
            self._set(self.fixed, None)

    @property
    def threads(self) -> int:
        return self._torch.get_num_threads()

    def tick(self) -> None:
        if self.meter is None or time.monotonic() < self._next_look:
            return
        others, span = self.meter.others_busy()
        self._next_look = time.monotonic() + self.every_s
        if span > 0:
            self._set(choose_threads(self.n_cpus, others), others)

    def _set(self, n: int, others: float | None) -> None:
        if n != self._torch.get_num_threads() or not self.choices:
            self._torch.set_num_threads(n)
            choice = ThreadChoice(n, None if others is None else round(others, 2), time.time())
            self.choices.append(choice)
            if self.on_change is not None:
                self.on_change(choice)


def _meter_or_none() -> CpuMeter | None:
    try:
        return CpuMeter()
    except (ImportError, OSError):  # no psutil or no per-core times: keep torch's own choice
        return None


def describe() -> str:
    """One line for logs and reports: the setting, torch's threads now, the waiting policy."""
    import torch

    setting = os.environ.get(ENV_THREADS, "auto")
    return (
        f"{ENV_THREADS}={setting}, torch threads {torch.get_num_threads()} of {len(usable_cpus())} cores, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"
    )


_loaded_before_us = "torch" in sys.modules
