"""How many CPU threads training uses, and how idle threads wait, so that a run shares the CPU.

Why. torch's CPU build runs its operators on an OpenMP thread team (libgomp; MKL uses the same
team). By default an idle OpenMP thread spins for a while before it sleeps. Beside other
CPU-bound work the spinning threads burn the time slices the other work (and our own next
operator) needs: on 2 cores the demo beside one 2-thread matrix multiply took 4x its time alone,
where fair sharing gives about 2x.

What it does.
* `prepare_process()` runs when `threephase_core` is imported, before torch loads libgomp (which
  reads its settings once, when it loads): idle OpenMP threads sleep at once
  (``OMP_WAIT_POLICY=PASSIVE``) unless the environment already chose a policy.
* `set_training_threads()`, called at the start of each run on the thread that trains (torch's
  thread count belongs to the calling thread), gives torch one intra-op thread per core (torch's
  own count, within the cores the process may use).
  An earlier rule gave up the cores other processes kept busy; measured beside a 2-thread matrix
  multiply (bench/results/cpu_sharing_cpu.md) it made the demo 2.3-2.4x slower than alone where a
  thread per core made it 1.8-2.1x, and the other process ran as fast either way: the kernel
  shares the cores between threads, so a smaller team only got a smaller share.

The setting. ``THREEPHASE_THREADS``: ``auto`` (the default) or a whole number of threads, fixed for
the whole run. An explicit ``OMP_NUM_THREADS`` also fixes the count (torch has read it already).
What it does not handle: cgroup CPU quotas (a container limited to fewer cores than it sees) and
GPU runs, where these threads only feed the device (the same rule applies, harmlessly).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

ENV_THREADS = "THREEPHASE_THREADS"


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


@dataclass
class ThreadChoice:
    threads: int
    fixed: bool  # by THREEPHASE_THREADS or OMP_NUM_THREADS; else one per core


_torch_default: list[int] = []  # torch's own count (one per physical core), read before we first set one


def set_training_threads() -> ThreadChoice:
    """Set torch's intra-op threads on the calling thread: the fixed setting, else torch's own
    choice (one per physical core) within the cores this process may use (`usable_cpus`)."""
    import torch

    if not _torch_default:
        _torch_default.append(torch.get_num_threads())
    fixed = thread_setting()
    choice = ThreadChoice(fixed or max(1, min(_torch_default[0], len(usable_cpus()))), fixed is not None)
    torch.set_num_threads(choice.threads)
    return choice


_loaded_before_us = "torch" in sys.modules
