"""One run on several processes (data parallel) with torch.distributed.

The processes are started by torch's own launcher (`torch.distributed.run`: ``threephase run
--nproc N`` calls it, and ``torchrun`` or ``accelerate launch`` work as they are); each joins the
process group here as a `Team`: NCCL with one GPU per process when CUDA is there, else gloo on
the CPU. What each process does:

* Every process draws the same seeded batch order, pairs and noise, with the *global* batch
  (the per-process batch in the config x the number of processes), and takes its share of each
  global batch (`Team.share`: every N-th text of the length-sorted batch, so the shares have
  similar lengths). A one-process run at the global batch sees the same batches.
* Gradients are averaged by `DistributedDataParallel`; each share's loss is weighted by its size,
  so uneven shares (the last batch of an epoch) still average to the global batch's mean.
* Process 0 (the leader) owns the run folder: validation, per-phase embeddings, test and model.
  A stop (Ctrl-C, SIGINT, FT's early stopping) is a wish of one process until all agree on it at
  a step boundary (`Team.agree`, on a CPU (gloo) group, so no GPU synchronisation per step).
* A failure in any process is reported once: the first process to fail claims it in the
  launcher's store and writes its message (``process 1 of 2 failed: ...``) to the run folder;
  the others, whose next collective fails or whom the launcher stops, leave it as it is.

Not handled here: model sharding (FSDP) or gradient accumulation; every process holds the whole
model. Dropout masks are drawn per process, so with dropout a run differs from a one-process
run by those draws only.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import socket
import threading
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

from threephase_core.progress import Cancelled, Progress

# Long enough for the leader's own work between collectives (embeddings, test, model save) while
# the others wait; a process that dies is noticed at once (its sockets close, the launcher stops
# the others), so this bounds a hung process only.
GROUP_TIMEOUT = timedelta(minutes=60)
_FAILED_KEY = "threephase/failed"


def launched() -> bool:
    """True inside a process started by torchrun / accelerate launch for a run of 2+ processes."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def env_rank() -> int:
    """This process's rank from the launcher's environment (0 outside a launch)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


@dataclasses.dataclass
class Team:
    """This process's place in the process group, and the few collectives a run needs."""

    rank: int
    size: int
    local_rank: int
    device: str
    backend: str
    control: object  # a gloo group for stop decisions and small objects (the default group on CPU)
    pids: list = dataclasses.field(default_factory=list)
    hosts: list = dataclasses.field(default_factory=list)

    @property
    def leader(self) -> bool:
        return self.rank == 0

    @classmethod
    def join(cls, device: str = "auto") -> Team:
        """Join the process group the launcher set up (env:// rendezvous)."""
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = device != "cpu" and torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local_rank)
        backend = "nccl" if cuda else "gloo"
        dist.init_process_group(backend, timeout=GROUP_TIMEOUT)
        control = dist.new_group(backend="gloo", timeout=GROUP_TIMEOUT) if cuda else dist.group.WORLD
        team = cls(
            rank=dist.get_rank(),
            size=dist.get_world_size(),
            local_rank=local_rank,
            device=f"cuda:{local_rank}" if cuda else "cpu",
            backend=backend,
            control=control,
        )
        team.pids = team.gather(os.getpid())
        team.hosts = team.gather(socket.gethostname())
        return team

    def record(self) -> dict:
        """What the run's status says about the processes."""
        return {"processes": self.size, "backend": self.backend, "pids": self.pids, "hosts": self.hosts}

    # ---- the data ----------------------------------------------------------------------
    def global_sections(self, cfg) -> tuple:
        """The DAE, CL and FT sections with the global batch (per-process batch x processes):
        the phases draw their batches with it, and `share` gives each process its part."""
        return tuple(
            dataclasses.replace(section, batch_size=section.batch_size * self.size)
            for section in (cfg.dae, cfg.cl, cfg.ft)
        )

    def share(self, item, units=None) -> tuple[object, float]:
        """This process's part of one global batch and its weight: its share of what the loss
        averages over, the batch's texts, or `units(item)` per text when the loss is a mean over
        something else (the DAE's target tokens). A batch is an index array, a tensor of
        indices, or a tuple holding them (with other parts, such as the DAE's noisy texts,
        passed on whole). A process whose part would be empty (a batch smaller than the team)
        runs process 0's part at weight 0."""
        part = _slice(item, self.rank, self.size)
        if _has_empty(part):
            return _slice(item, 0, self.size), 0.0
        if units is not None:
            counts = np.asarray(units(item), dtype=np.float64)
            return part, float(counts[self.rank :: self.size].sum() / counts.sum())
        total = _first_len(item)
        return part, (_first_len(part) / total if total else 0.0)

    # ---- collectives -------------------------------------------------------------------
    def data_parallel(self, params: list, compute_loss) -> torch.nn.Module:
        """`compute_loss` as a DistributedDataParallel module over `params` (the optimizer's)."""
        from torch.nn.parallel import DistributedDataParallel

        step = _LossOfBatch(params, compute_loss)
        cuda = self.device.startswith("cuda")
        # The step module holds parameters only: no buffers to keep in step between processes
        # (newer torch names the switch forward_sync_buffers, older broadcast_buffers).
        named = inspect.signature(DistributedDataParallel.__init__).parameters
        no_buffer_sync = {"forward_sync_buffers" if "forward_sync_buffers" in named else "broadcast_buffers": False}
        return DistributedDataParallel(
            step,
            device_ids=[self.local_rank] if cuda else None,
            find_unused_parameters=True,  # e.g. BERT's pooler: computed, never in the loss
            **no_buffer_sync,
        )

    def total(self, values: torch.Tensor) -> torch.Tensor:
        """Sum of `values` over the processes (on the training group: on the GPU under NCCL)."""
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def agree(self, *wishes: bool) -> tuple[bool, ...]:
        """Each wish is true for all once one process has it (a logical OR across processes)."""
        flags = torch.tensor([int(bool(w)) for w in wishes], dtype=torch.int32)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.control)
        return tuple(bool(f) for f in flags.tolist())

    def stop_together(self, progress: Progress, stop: bool = False) -> bool:
        """Called by every process at the same point: raise Cancelled in all of them once any was
        asked to stop; else return whether any wants to end the phase here (`stop`)."""
        cancel, stop = self.agree(progress.cancel_requested, stop)
        if cancel:
            if isinstance(progress, TeamProgress):
                progress._agreed.set()
            raise Cancelled("cancelled by request")
        return stop

    def broadcast(self, obj):
        """The leader's `obj` in every process."""
        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def gather(self, obj) -> list:
        out = [None] * dist.get_world_size()
        dist.all_gather_object(out, obj, group=self.control)
        return out

    def claim_failure(self) -> bool:
        """True for the first process of the run to fail: it reports the failure. Later
        failures are most often a consequence (a collective whose peer is gone)."""
        try:
            from torch.distributed.distributed_c10d import _get_default_store

            return _get_default_store().add(_FAILED_KEY, 1) == 1
        except Exception:  # noqa: BLE001 - no store left to ask: report rather than stay silent
            return True

    def failure_message(self, message: str) -> str:
        return f"process {self.rank} of {self.size} failed: {message}"

    def finish(self) -> None:
        """After a run that ended the same way in every process (done, cancelled): wait until
        every process is here (the leader has written the run folder), then leave the group."""
        try:
            dist.barrier(group=self.control)
        finally:
            dist.destroy_process_group()


class TeamProgress(Progress):
    """Progress of one process of a team: a stop asked of this process is only a wish
    (`cancel_requested`) until the team agrees on it at a step boundary; one process raising
    Cancelled alone would leave the others waiting in a collective."""

    def __init__(self, sinks=None):
        super().__init__(sinks)
        self._agreed = threading.Event()

    def check_cancel(self) -> None:
        if self._agreed.is_set():
            raise Cancelled("cancelled by request")


class _LossOfBatch(torch.nn.Module):
    """A module whose forward is one batch's loss and whose parameters are the trained ones,
    so DistributedDataParallel can wrap a phase's loss however many modules it spans."""

    def __init__(self, params: list, compute_loss):
        super().__init__()
        self.trained = torch.nn.ParameterList(params)  # the same Parameter objects, not copies
        self._compute_loss = compute_loss

    def forward(self, batch):
        return self._compute_loss(batch)


def _slice(item, rank: int, size: int):
    if isinstance(item, (np.ndarray, torch.Tensor)):
        return item[rank::size]
    if isinstance(item, tuple):
        return tuple(_slice(x, rank, size) for x in item)
    return item


def _first_len(item) -> int:
    if isinstance(item, (np.ndarray, torch.Tensor)):
        return len(item)
    if isinstance(item, tuple):
        for x in item:
            n = _first_len(x)
            if n >= 0:
                return n
    return -1


def _has_empty(item) -> bool:
    if isinstance(item, (np.ndarray, torch.Tensor)):
        return len(item) == 0
    if isinstance(item, tuple):
        return any(_has_empty(x) for x in item)
    return False
