"""How long a run will take and how long it has left, in words, for Home, Train and the sidebar.

The figures are the engine's (`threephase_core.estimates`): before a run, from earlier runs in the
runs folder on this machine (or a stated prior); during a run, the whole run's smoothed ETA that
the job's progress carries. Nothing here imports torch: Home draws with it.
"""

from __future__ import annotations

import streamlit as st

from pages._parts import data_cache, ui
from threephase_core import estimates
from threephase_core.config import ConfigError


def estimate_for(cfg, ds) -> estimates.Estimate | None:
    """The estimate of `cfg` on the dataset `ds` (its training rows after the row cap). Cheap to
    redraw: the engine reads each run folder once (until its status changes)."""
    train = ds.train if not cfg.max_train_rows else ds.train.head(cfg.max_train_rows)
    n_pairs = None
    if "cl" in cfg.phases or "joint" in cfg.phases:
        n_pairs = estimates.expected_pairs(train["label"].to_numpy(), ds.num_classes, cfg.cl)
    return estimates.estimate_run(cfg, ui.store().root, len(train), n_pairs)


def estimate_text(est: estimates.Estimate | None, runs: int = 1) -> str:
    """'About 1 min 5 s on this machine (from 2 earlier runs like this one here).'"""
    if est is None:
        return "No duration estimate yet: no run of this model on this device here so far."
    total = est.total_s * runs
    each = f" ({runs} runs)" if runs > 1 else ""
    return f"About {estimates.fmt_duration(total)}{each} on this machine, from {est.basis}."


def start_estimate(recipe: str, ds) -> str:
    """What Start would take: the recipe with the settings on screen, times the seeds."""
    from pages._parts.train_queue import recipe_values, run_settings
    from threephase_core.recipes import build_config
    from threephase_core.workbench.settings import changed_overrides, parse_seeds

    try:
        runs = len(parse_seeds(st.session_state["wb.seeds"]))
        cfg = build_config(recipe, {**run_settings(), **changed_overrides(recipe, recipe_values(recipe))})
        return estimate_text(estimate_for(cfg, ds), runs)
    except ConfigError:  # the settings on screen do not make a run yet; Start says why
        return ""
    except Exception:  # an estimate is a nicety: it never breaks the page
        return ""


def demo_estimate(cfg) -> str:
    try:
        return estimate_text(estimate_for(cfg, data_cache.load_dataset({"spec": "demo"})))
    except Exception:  # an estimate is a nicety: it never breaks the page
        return ""


def remaining_text(status: dict) -> str:
    """'about 1 min 5 s left' for a running job with an ETA; '' otherwise."""
    eta = status.get("run_eta_s")
    if status.get("state") != "running" or eta is None:
        return ""
    return f"about {estimates.fmt_duration(eta)} left"


def job_caption(status: dict) -> str:
    """One line for a job: 'queued', 'starting…', 'CL step 12/48 · about 1 min left', or its end state."""
    if status["state"] == "queued":
        return "queued"
    if status["state"] != "running":
        return status["state"]
    phase, total = status.get("phase"), status.get("total") or 0
    now = f"{phase.upper()} step {status.get('step', 0)}/{total}" if phase and total else "starting…"
    left = remaining_text(status)
    return f"{now} · {left}" if left else now
