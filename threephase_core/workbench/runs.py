"""The runs table: one row per run folder, its state (also for runs trained by another process),
what may be deleted and what a tidy-up would remove.

A row holds plain values whatever the folder holds: a damaged file gives '?'/None cells, never an
exception that would take the whole table (and the Home page) down.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import pandas as pd

from threephase_core.runstore import Run, RunStore, owner_alive
from threephase_core.workbench.datasets import dataset_label, path_exists
from threephase_core.workbench.json_values import as_dict, as_number, as_seed
from threephase_core.workbench.models import model_label

PHASE_TITLES = {"base": "Base encoder", "dae": "After DAE", "cl": "After CL", "joint": "After Joint", "ft": "After FT"}
ACTIVE_STATES = ("queued", "running")
ACTIVE_WINDOW_S = 120.0  # a "running" folder written to this recently may belong to another process


def run_state(run: Run, live: dict[str, dict]) -> str:
    """The run's state. A 'running'/'queued' folder with no job in this workbench is being
    trained elsewhere (a command-line run, another server: `trained_elsewhere`) or else was
    'interrupted'."""
    if run.id in live:
        return live[run.id]["state"]
    state = run.status.get("state", "unknown")
    if not isinstance(state, str):  # a damaged status.json
        return "unknown"
    if state in ACTIVE_STATES:
        return state if trained_elsewhere(run) else "interrupted"
    return state


def trained_elsewhere(run: Run) -> str | None:
    """Why an active-looking run with no job in this workbench is live, else None: its recorded
    process (pid and host) is alive and is not this one, or its files changed in the last
    ACTIVE_WINDOW_S seconds (another machine sharing the folder, or a run from before runs
    recorded their process)."""
    import time

    status = run.status
    if owner_alive(status) and status.get("pid") != os.getpid():
        return f"being trained by another process (pid {status['pid']}, maybe a command-line run)"
    try:
        touched = max(
            (run.path / f).stat().st_mtime for f in ("status.json", "events.jsonl") if (run.path / f).exists()
        )
    except (OSError, ValueError):
        return None
    age = time.time() - touched
    if age < ACTIVE_WINDOW_S:
        return f"active (its files changed {int(age)} s ago, maybe a command-line run)"
    return None


def _stamp(run: Run) -> float:
    """When the run started: status.json's ``created`` if it is a usable number (see
    `runstore.as_timestamp`), else config.json's modification time, else 0."""
    created = run.created()
    if created is not None:
        return created
    try:
        return (run.path / "config.json").stat().st_mtime
    except OSError:
        return 0.0


def run_row(run: Run, live: dict[str, dict]) -> dict:
    """One row of the runs table. Every value is a plain str/number/None whatever the run
    folder holds: a damaged config, status or metrics file gives '?'/None cells, not an
    exception (which would take the whole table, and the Home page, down)."""
    cfg, status, metrics = run.config, run.status, run.metrics
    val, test = as_dict(metrics.get("validation")), as_dict(metrics.get("test"))
    texts = as_dict(metrics.get("texts"))
    wall = status.get("wall_s")
    if run.id in live and live[run.id]["state"] in ACTIVE_STATES:
        wall = live[run.id].get("elapsed_s")
    return {
        "run": run.id,
        "state": run_state(run, live),
        "recipe": str(cfg.get("recipe", status.get("recipe", "?"))),
        "dataset": dataset_label(cfg.get("dataset", status.get("dataset", "?"))),
        "model": model_label(cfg.get("model", "")),
        "seed": as_seed(cfg.get("seed", status.get("seed"))),
        "val_acc": as_number(val.get("accuracy")),
        "test_acc": as_number(test.get("accuracy")),
        "test_f1": as_number(test.get("f1_macro")),
        "val_n": as_number(val.get("n")),  # texts the accuracies were measured on (their intervals)
        "test_n": as_number(test.get("n")),
        "wall_s": as_number(wall),
        "steps_cap": str(cfg.get("max_steps") or ""),
        "device": status.get("device_name") or status.get("device"),
        "created": pd.Timestamp(_stamp(run), unit="s", tz="UTC").tz_convert(None).floor("s"),
        "has_model": run.has_model(),
        "phases": len(run.embedding_phases()),
        "budget": budget_label(cfg),
        "labelled": as_number(texts.get("labelled")),
        "unlabelled": as_number(texts.get("unlabelled")),
        # The data a run learned from; curve_key leaves the label budget out (the Results page's
        # accuracy-vs-budget curve joins the budgets of one dataset).
        "data_key": _key(*_data_parts(cfg), cfg.get("labels_per_class"), cfg.get("label_fraction")),
        "curve_key": _key(*_data_parts(cfg)),
        "model_key": str(cfg.get("model", "")),
        "settings_key": settings_key(cfg),
    }


def budget_label(cfg: dict) -> str:
    """A run's label budget in short: "8 / class", "10%", or "all" (none, or a damaged value)."""
    per_class, fraction = as_number(cfg.get("labels_per_class")), as_number(cfg.get("label_fraction"))
    if per_class:
        return f"{int(per_class)} / class"
    if fraction:
        return f"{fraction:.0%}" if fraction >= 0.01 else f"{fraction:g}"
    return "all"


def _data_parts(cfg: dict) -> tuple:
    """The config values that decide a run's texts, except the label budget."""
    keys = ("dataset", "text_column", "label_column", "max_train_rows", "unlabelled", "unlabelled_rows")
    return tuple(cfg.get(k) for k in keys)


# Config keys that do not change what a run learns: left out when runs are compared.
# (max_steps too: the Results page treats step-capped smoke runs apart; the data's own
# settings are data_key's.)
_NOT_SETTINGS = {
    "seed",
    "device",
    "embed_rows",
    "dataset",
    "text_column",
    "label_column",
    "max_train_rows",
    "model",
    "max_steps",
    "unlabelled",
    "unlabelled_rows",
    "labels_per_class",
    "label_fraction",
}


def phase_sections(phases) -> set[str]:
    """The config sections a run with these phases reads: its phases, and Joint's DAE and CL."""
    return set(phases) | ({"dae", "cl"} if "joint" in phases else set())


def settings_key(cfg: dict) -> str:
    """What a run learned with, beyond the seed and the data: the top-level settings and the
    sections of the phases it ran (an FT run's unused DAE/CL defaults do not count), floats
    rounded to 10 significant digits (a number input's 6.000000000000001e-05 is 6e-05)."""
    used = phase_sections(cfg.get("phases") if isinstance(cfg.get("phases"), list) else [])

    def tidy(v):
        if isinstance(v, float):
            return float(f"{v:.10g}")
        if isinstance(v, dict):
            return {k: tidy(x) for k, x in v.items()}
        return v

    return _key(
        {k: tidy(v) for k, v in cfg.items() if k not in _NOT_SETTINGS and (k not in ("dae", "cl", "ft") or k in used)}
    )


def _key(*parts) -> str:
    """A short stable key of JSON-able parts (run configs are JSON already)."""
    return hashlib.md5(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


RUN_COLUMNS = [
    "run",
    "state",
    "recipe",
    "dataset",
    "model",
    "seed",
    "val_acc",
    "test_acc",
    "test_f1",
    "val_n",
    "test_n",
    "wall_s",
    "steps_cap",
    "device",
    "created",
    "has_model",
    "phases",
    "budget",
    "labelled",
    "unlabelled",
    "data_key",
    "curve_key",
    "model_key",
    "settings_key",
]


def delete_problem(run: Run, live: dict[str, dict]) -> str | None:
    """Why `run` must not be deleted now, else None: a job of this workbench is queued or running
    it; or its status says running and the process that started it is alive (`owner_alive`), or
    its files changed in the last ACTIVE_WINDOW_S seconds (a run from another machine sharing the
    folder, or from before runs recorded their process)."""
    if run.id in live and live[run.id].get("state") in ACTIVE_STATES:
        return f"{run.id} is {live[run.id]['state']}; stop it on the Train page first"
    if run.status.get("state") in ACTIVE_STATES:
        why = trained_elsewhere(run)
        if why:
            return f"{run.id} is {why}; stop that first, or try again when it has stopped"
    return None


def delete_runs(store: RunStore, run_ids: list[str], live: dict[str, dict]) -> tuple[list[str], list[str]]:
    """Delete these runs' folders; returns (deleted ids, one message per run that was not)."""
    deleted, problems = [], []
    for run_id in run_ids:
        try:
            run = store.get(run_id)
        except KeyError:
            problems.append(f"{run_id} was already deleted (another tab?)")
            continue
        problem = delete_problem(run, live)
        if problem:
            problems.append(problem)
            continue
        try:
            store.remove(run_id)
            deleted.append(run_id)
        except (OSError, KeyError) as exc:
            problems.append(f"{run_id} could not be deleted: {getattr(exc, 'strerror', None) or exc}")
    return deleted, problems


def cleanup_candidates(df: pd.DataFrame) -> dict[str, list[str]]:
    """Run ids a tidy-up would delete, by kind: runs that did not finish (failed, cancelled,
    interrupted) and smoke runs (finished with a step cap: their scores are not results)."""
    if not len(df):
        return {"unfinished": [], "smoke": []}
    # "unknown" (a damaged status.json) only without results: a finished run may have lost its status file.
    results = df["test_acc"].notna() | df["has_model"].fillna(False).astype(bool)
    unfinished = df["state"].isin(["failed", "cancelled", "interrupted"]) | ((df["state"] == "unknown") & ~results)
    smoke = (df["state"] == "done") & (df["steps_cap"].astype(str) != "")
    return {"unfinished": df.loc[unfinished, "run"].tolist(), "smoke": df.loc[smoke, "run"].tolist()}


def runs_frame(store: RunStore, live: dict[str, dict] | None = None) -> pd.DataFrame:
    """One row per run folder, newest first."""
    live = live or {}
    rows = [run_row(r, live) for r in store.list()]
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return df.sort_values("created", ascending=False, kind="stable").reset_index(drop=True) if len(df) else df


def runs_dir_problem(root: str | Path) -> str | None:
    """Why the runs folder cannot hold runs (a file in the way, a folder we may not write), else
    None. A folder that does not exist yet is fine when it can be made."""
    root = Path(root)
    probe = root
    while not path_exists(probe) and probe != probe.parent:
        probe = probe.parent  # the nearest existing ancestor decides whether it can be made
    where = f"The runs folder {root}"
    if probe != root and not probe.is_dir():
        return (
            f"{where} cannot be made: {probe} is a file. "
            "Set THREEPHASE_RUNS_DIR to a folder and restart the workbench."
        )
    if probe == root and not root.is_dir():
        return f"{where} is a file, not a folder. Set THREEPHASE_RUNS_DIR to a folder and restart the workbench."
    if not os.access(probe, os.W_OK | os.X_OK):
        return (
            f"{where} is not writable, so no run can be saved. "
            "Set THREEPHASE_RUNS_DIR to a folder you may write and restart the workbench."
        )
    return None


def fmt_seconds(s: float | None) -> str:
    if s is None or (isinstance(s, float) and not math.isfinite(s)):
        return "–"
    s = float(s)
    if s < 60:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"
