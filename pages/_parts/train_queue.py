"""What Start and "Queue all paper recipes" submit on the Train page: each recipe's settings
read from the session (the form, the Imbalance page, the run-wide settings), checked the way the
engine would check them, and queued as one job per recipe and seed; plus Stop, Clear queue and
the GPU speed settings. Problems go to the page as messages (``train.error``), never a traceback.
"""

from __future__ import annotations

import streamlit as st

from pages._parts import data_cache, ui
from pages._parts.form import FIELDS, PHASE_TABS, TEXT_SETTINGS, field_keys, setting_name
from threephase_core.config import IMBALANCE_PRESETS, ConfigError, spec
from threephase_core.recipes import build_config
from threephase_core.workbench.models import model_choice_problem
from threephase_core.workbench.previews import phase2_problem
from threephase_core.workbench.runs import runs_dir_problem
from threephase_core.workbench.sessions import may_stop, refusal
from threephase_core.workbench.settings import (
    changed_overrides,
    device_settings,
    parse_seeds,
    recipe_defaults,
    recipe_fixed_fields,
    setting_hint,
)


def imbalance_values(recipe: str) -> dict:
    """cl.* imbalance settings from the Imbalance page, unless the recipe fixes them."""
    if "cl.imbalance" in recipe_fixed_fields(recipe):
        return {}
    preset = st.session_state["wb.preset"]
    if preset in IMBALANCE_PRESETS:
        return {"cl.imbalance": preset}
    return {
        "cl.min_ratio": float(st.session_state["wb.min_ratio"]),
        "cl.max_ratio": float(st.session_state["wb.max_ratio"]),
    }


def recipe_values(recipe: str) -> dict:
    """The per-phase settings for a recipe: what the form shows (or would show)."""
    base = recipe_defaults(recipe)
    values = {}
    for phase in dict.fromkeys(base.phases):
        for key, *_ in FIELDS.get(phase, []):
            values[key] = st.session_state.get(setting_name(recipe, key), base.get(key))
    if "cl" in base.phases or "joint" in base.phases:
        values.update(imbalance_values(recipe))
    return values


def shared_values(recipe: str, like: str) -> dict:
    """`recipe`'s settings, with every phase setting it shares with `like` (the recipe on screen)
    taken from `like`, unless either recipe fixes it: "Queue all paper recipes" then compares recipes
    under one set of settings. The imbalance settings stay each recipe's own (they are what
    separates 3-Phase from its extra / none variants)."""
    own, shown = recipe_values(recipe), recipe_values(like)
    fixed = recipe_fixed_fields(recipe) | recipe_fixed_fields(
        like
    )  # what makes `like` itself (SupCon, LoRA's lr) stays its own
    keys = set(field_keys())
    return {k: (shown[k] if k in shown and k in keys and k not in fixed else v) for k, v in own.items()}


def run_settings() -> dict:
    choice = st.session_state["wb.dataset"]
    return {
        "dataset": choice["spec"],
        "text_column": choice.get("text_column", "text"),
        "label_column": choice.get("label_column", "label"),
        "label_sep": choice.get("label_sep", ""),
        "model": ui.model_spec() or "minilm",
        **device_settings(st.session_state["wb.device"]),
        "max_steps": int(st.session_state["wb.max_steps"]),
        "max_length": int(st.session_state["wb.max_length"]),
        "max_train_rows": int(st.session_state["wb.max_train_rows"]),
        "embed_rows": int(st.session_state["wb.embed_rows"]),
        "val_fraction": float(st.session_state["wb.val_fraction"]),
        "test_fraction": float(st.session_state["wb.test_fraction"]),
        **{setting: st.session_state[key] for key, setting in TEXT_SETTINGS.items()},
    }


def setting_places() -> dict[str, str]:
    """setting key -> where it is set, for the messages of settings the engine refuses."""
    places = {
        key: f"{PHASE_TABS[phase]} › {label}" for phase in ("dae", "cl", "ft") for key, label, *_ in FIELDS[phase]
    }
    places.update({f"cl.{k}": "Imbalance & noise page" for k in ("min_ratio", "max_ratio", "imbalance")})
    places.update({"seed": "Seeds", "max_steps": spec("max_steps").label})
    places.update({key: f"Size limits › {spec(key).label}" for key in ("max_length", "max_train_rows", "embed_rows")})
    places.update({key: f"Data page › Split sizes › {spec(key).label}" for key in ("val_fraction", "test_fraction")})
    places.update({key: f"Data page › {spec(key).label}" for key in TEXT_SETTINGS.values()})
    return places


def command_preview(recipe: str) -> tuple[str, str]:
    """(the `threephase run` command that makes the run Start would queue for its first seed, "") or
    ("", why there is none yet): the same settings as `queue` reads, checked the same way."""
    from threephase_core.command_line import command_for

    try:
        seed = parse_seeds(st.session_state["wb.seeds"])[0]
        changed = changed_overrides(recipe, recipe_values(recipe))
        cfg = build_config(recipe, {**run_settings(), **changed, "seed": seed})
    except (ConfigError, ValueError, IndexError) as exc:
        return "", setting_hint(str(exc), setting_places())
    return command_for(cfg), ""


def queue(recipes: list[str], like: str | None = None) -> None:
    """Validate everything, then submit one job per recipe and seed; errors go to the page.
    With `like`, each recipe takes the settings it shares with that recipe (`shared_values`)."""
    mgr = ui.manager()
    _, ds, data_error = data_cache.current_dataset()
    if data_error:
        st.session_state["train.error"] = f"The dataset cannot be used: {data_error}"
        return
    settings = run_settings()
    problem = model_choice_problem(st.session_state["wb.model_kind"], ui.model_spec())
    if problem:
        st.session_state["train.error"] = f"Model: {problem}"
        return
    try:
        seeds = parse_seeds(st.session_state["wb.seeds"])
        configs = [
            build_config(
                r,
                {
                    **settings,
                    **changed_overrides(r, shared_values(r, like) if like else recipe_values(r)),
                    "seed": seed,
                },
            )
            for r in recipes
            for seed in seeds
        ]
    except (ConfigError, ValueError) as exc:
        st.session_state["train.error"] = setting_hint(str(exc), setting_places())
        return
    for cfg in {c.recipe: c for c in configs}.values():  # what the engine would only find after phase 1
        problem = phase2_problem(ds.train, ds.num_classes, cfg.phases, cfg.cl, cfg.max_train_rows, cfg.seed)
        if problem:
            st.session_state["train.error"] = f"{cfg.recipe}: {problem}"
            return
    jobs = []
    try:
        for cfg in configs:
            jobs.append(mgr.submit(cfg, owner=ui.session_id()))
    except OSError as exc:
        why = (
            runs_dir_problem(mgr.store.root)
            or f"cannot create a run folder in {mgr.store.root}: {exc.strerror or exc}"
        )
        st.session_state["train.error"] = why + (f" ({len(jobs)} run(s) were queued before this.)" if jobs else "")
        if not jobs:
            return
    st.session_state["wb.run"] = jobs[0].run.id
    st.session_state["train.focus"] = jobs[0].id
    st.session_state["train.notice"] = (
        f"Queued {len(jobs)} run(s)." if len(jobs) > 1 else f"Queued run {jobs[0].run.id}."
    )


def allowed(job) -> bool:
    """Whether this session may stop or remove `job` (`workbench.sessions.may_stop`)."""
    return may_stop(job.owner, ui.session_id(), ui.users_mode() == "shared")


def stop() -> None:
    mgr = ui.manager()
    job = mgr.active()
    if job is None:
        return
    if not allowed(job):
        st.session_state["train.error"] = refusal(job.owner)
        return
    mgr.cancel(job.id)
    st.session_state["train.notice"] = "Stopping at the next training step; finished phases are kept."


def apply_gpu_preset(recipe: str) -> None:
    """Fill this recipe's phase settings with the GPU preset sized for the data and the GPU."""
    from threephase_core.gpu_presets import gpu_memory_gib, preset_tier, recipe_gpu_settings

    _, ds, _ = data_cache.current_dataset()
    rows = len(ds.train) if ds is not None else 0
    cap = int(st.session_state["wb.max_train_rows"])
    rows = min(rows, cap) if cap else rows
    values = recipe_gpu_settings(recipe, rows, gpu_memory_gib(), int(st.session_state["wb.max_length"]))
    for key, value in values.items():
        st.session_state[setting_name(recipe, key)] = value
    batches = sorted({v for k, v in values.items() if k.endswith("batch_size")})
    tier = {
        "large": "learning rates tuned on SST-2 validation for these batches",
        "small": "a starting point not tuned for your data",
        "tiny": "small batches and more epochs for tiny data, not tuned",
    }[preset_tier(rows)]
    st.session_state["train.notice"] = (
        f"GPU speed settings for {rows:,} training rows: batch {'/'.join(map(str, batches))}, "
        f"{tier}. Edit them in the phase tabs."
    )


def clear_queue() -> None:
    """Remove the queued runs this session may remove (on a shared server: its own)."""
    mgr = ui.manager()
    queued = [j for j in mgr.pending() if j.state == "queued"]
    mine = [j for j in queued if allowed(j)]
    for j in mine:
        mgr.cancel(j.id)
    others = len(queued) - len(mine)
    kept = f" {others} run(s) queued by other sessions stay queued." if others else ""
    st.session_state["train.notice"] = f"Removed {len(mine)} queued run(s).{kept}"
