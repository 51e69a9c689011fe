"""Phase checkpoints, and resuming a stopped run from the last one.

After each phase before FT (DAE, CL, Joint) the encoder is saved in ``<run>/checkpoints/<phase>/``
(sentence-transformers format) with what the next phase needs besides it: the random state the run
had at that moment (``random_state.pt``), so that the resumed run goes on as the uninterrupted one
would have. The folder is written under a temporary name and renamed when whole, and
``checkpoint.json`` is written last, so a folder cut short by a crash is not taken for a checkpoint.

A cancelled, failed or interrupted run resumes from the last phase whose checkpoint is whole (or
from the start when there is none), in the same folder, with its saved config (`resume_point`,
`resume_problem`). When a run finishes, its checkpoints are removed unless ``keep_checkpoints`` is
set: the final model is in ``model/``.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from threephase_core.config import ConfigError
from threephase_core.runstore import Run, RunStore, owner_alive, write_json_atomic

FOLDER = "checkpoints"
MARKER = "checkpoint.json"  # written last: a checkpoint without it is not whole
RANDOM_STATE = "random_state.pt"
# Settings that may change when a run resumes, besides those of the phases still to run: they do
# not change what the finished phases did.
RESUME_SETTINGS = ("device", "max_steps", "keep_checkpoints")
# The phases whose work each settings section decides.
SECTION_PHASES = {"dae": ("dae", "joint"), "cl": ("cl", "joint"), "ft": ("ft",)}


def folder(run: Run, phase: str) -> Path:
    return run.path / FOLDER / phase


def save(run: Run, phase: str, model) -> Path:
    """Save `model` (the encoder after `phase`) and the random state as ``checkpoints/<phase>/``."""
    final = folder(run, phase)
    tmp = final.with_name(f".{phase}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save(str(tmp))
        torch.save(_random_state(), tmp / RANDOM_STATE)
        write_json_atomic(tmp / MARKER, {"phase": phase, "saved": time.time()})
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a half-written copy would hold the space a full disk needs
        raise
    return final


def is_whole(run: Run, phase: str) -> bool:
    return (folder(run, phase) / MARKER).is_file()


def resume_point(run: Run, phases: tuple[str, ...] | list[str]) -> str | None:
    """The last phase of `phases` up to which every phase has a whole checkpoint (FT has none: its
    result is the model), or None: start from the beginning."""
    last = None
    for phase in phases:
        if phase == "ft" or not is_whole(run, phase):
            break
        last = phase
    return last


def remaining(phases: tuple[str, ...] | list[str], start: str | None) -> list[str]:
    """The phases still to run after `start` (all of them when `start` is None)."""
    return list(phases) if start is None else list(phases[list(phases).index(start) + 1 :])


def restore_random_state(run: Run, phase: str) -> None:
    """Put back the random state the run had when `phase` was saved."""
    state = torch.load(folder(run, phase) / RANDOM_STATE, weights_only=False)
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _random_state() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def kept_metrics(metrics: dict, phases: list[str] | tuple[str, ...], start: str | None) -> dict:
    """The metrics of the phases finished before the resume (``base`` and those up to `start`);
    entries of the phases that will run again are dropped."""
    done = {"base", *([] if start is None else phases[: list(phases).index(start) + 1])}
    kept = {p: v for p, v in (metrics.get("phases") or {}).items() if p in done}
    return {"phases": kept, "device": metrics.get("device")}


def disk_use(run: Run) -> dict[str, int]:
    """Bytes used by each whole checkpoint, in the order the phases ran."""
    out = {}
    root = run.path / FOLDER
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.stat().st_mtime)
    except OSError:
        return {}
    for path in entries:
        if path.is_dir() and (path / MARKER).is_file():
            out[path.name] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return out


def remove_all(run: Run) -> None:
    """Delete the run's checkpoints (once it has its final model)."""
    shutil.rmtree(run.path / FOLDER, ignore_errors=True)


def find_run(spec: str, runs_dir: str | Path | None = None) -> Run:
    """The run named by `spec`: a run folder (a path holding config.json) or a run id in the runs
    folder. ConfigError when there is none."""
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return Run(path)
    store = RunStore(runs_dir)
    if spec and Path(spec).name == spec and spec not in (".", ".."):
        try:
            return store.get(spec)
        except KeyError:
            pass
    raise ConfigError(f"no run {spec!r}: give a run id from {store.root} or a run folder (one with config.json)")


def resume_problem(run: Run) -> str | None:
    """Why `run` cannot be resumed (finished, or still running), else None."""
    status = run.status
    state = status.get("state")
    if state == "done":
        return f"run {run.id} has finished; nothing to resume (start a new run with --config {run.path}/config.json)"
    if state in ("running", "queued") and owner_alive(status):
        return f"run {run.id} is still {state} (process {status.get('pid')}); stop it before resuming"
    return None


def resume_change_problem(key: str, phases: list[str] | tuple[str, ...], start: str | None) -> str | None:
    """Why setting `key` cannot change when the run resumes after `start`: it decided a finished phase."""
    if key in RESUME_SETTINGS:
        return None
    section = key.split(".", 1)[0] if "." in key else None
    todo = remaining(phases, start)
    if section in SECTION_PHASES and any(p in todo for p in SECTION_PHASES[section]):
        return None
    return (
        f"{key} cannot change when the run resumes: the finished phases used its saved value (on resume only the "
        f"settings of the phases still to run ({', '.join(todo)}) and {', '.join(RESUME_SETTINGS)} can change)"
    )


def describe(sizes: dict[str, int]) -> str:
    """'dae 1.2 MB, cl 1.2 MB' for the CLI's report and the Results page."""
    return ", ".join(f"{phase} {_size(n)}" for phase, n in sizes.items())


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
