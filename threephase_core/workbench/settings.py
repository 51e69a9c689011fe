"""The workbench's settings: saved between sessions, checked before a widget draws them, and
turned into a run's config (`changed_overrides`) or read back from one (`train_form_values`).

Settings are named by their config keys here (`ft.lr`, `cl.min_ratio`); which page widget shows
which setting is the pages' business (`pages/_parts`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from threephase_core.config import IMBALANCE_PRESETS, CLConfig, RunConfig
from threephase_core.runstore import default_runs_dir
from threephase_core.workbench.datasets import dataset_source, path_exists
from threephase_core.workbench.json_values import as_dict
from threephase_core.workbench.runs import phase_sections

SETTINGS_FILE = "_workbench/settings.json"  # inside the runs folder: the last settings used


SESSION_SETTINGS = "_workbench/sessions"  # inside the runs folder: one file per browser session (shared server)


def _session_file(root: Path, session: str | None) -> Path | None:
    from threephase_core.workbench.sessions import valid_session_id

    return root / SESSION_SETTINGS / f"{session}.json" if valid_session_id(session) else None


def load_settings(runs_dir: str | Path | None = None, session: str | None = None) -> dict[str, Any]:
    """The workbench settings saved by `save_settings` ({} when none or unreadable), so that a
    browser refresh or a new tab starts where the last one left off: with `session` (a session
    id, see workbench/sessions.py) that session's own last settings when it saved any, else the
    last settings anyone saved."""
    root = Path(runs_dir or default_runs_dir())
    for path in (_session_file(root, session), root / SETTINGS_FILE):
        if path is None:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def save_settings(
    values: dict[str, Any], runs_dir: str | Path | None = None, session: str | None = None
) -> dict[str, Any]:
    """Write the JSON-able entries of `values` (atomically) as the last settings, and with
    `session` also as that session's own; returns what was written."""
    from threephase_core.runstore import write_json_atomic

    keep = {}
    for key, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        keep[key] = value
    root = Path(runs_dir or default_runs_dir())
    own = _session_file(root, session)
    if own is not None:
        write_json_atomic(own, keep)
    write_json_atomic(root / SETTINGS_FILE, keep)
    return keep


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value)
    if isinstance(default, dict):
        return isinstance(value, dict) and all(isinstance(value.get(k), type(v)) for k, v in default.items())
    return isinstance(value, type(default)) if default is not None else True


def _within(value: Any, bounds: tuple | None) -> bool:
    """Whether a number lies within (lowest, highest); None on either side is no limit."""
    if bounds is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return True
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def setting_fits(value: Any, default: Any, bounds: tuple | None = None, options=None) -> bool:
    """Whether a stored value can be shown by its widget: the default's type, within `bounds`
    (lowest, highest; see `config.spec(key).bounds()`) and among `options` when given."""
    return _same_kind(value, default) and _within(value, bounds) and (options is None or value in options)


def clean_settings(
    saved: dict[str, Any],
    defaults: dict[str, Any],
    choices: dict[str, list] | None = None,
    limits: dict[str, tuple] | None = None,
) -> dict[str, Any]:
    """The saved settings a page can draw: entries whose type differs from the default's, numbers
    outside `limits` (key -> (lowest, highest)) and values not among `choices` (a recipe since
    renamed, a hand-edited file) are dropped, so the default is used instead of a widget raising."""
    out = {}
    for key, value in saved.items():
        if key in defaults and not _same_kind(value, defaults[key]):
            continue
        if limits and not _within(value, limits.get(key)):
            continue
        if choices and key in choices and value not in choices[key]:
            continue
        if isinstance(defaults.get(key), float):
            value = float(value)
        out[key] = value
    return out


def device_choices(gpus: int, has_gpu: bool) -> list[str]:
    """The Train page's device options: "all N GPUs" (one run on N processes) only when several
    GPUs are visible."""
    return ["auto", "cpu"] + (["cuda"] if has_gpu else []) + ([f"all {gpus} GPUs"] if gpus > 1 else [])


def device_settings(choice: str) -> dict[str, Any]:
    """The run settings of a device option: {"device": ...}, plus "nproc" for "all N GPUs"."""
    match = re.fullmatch(r"all (\d+) GPUs", choice or "")
    if match:
        return {"device": "cuda", "nproc": int(match.group(1))}
    return {"device": choice}


def parse_seeds(text: str) -> list[int]:
    """'0', '0,1,2', '0-4' or '0 1 2' -> sorted unique seeds; ValueError with a clear message."""
    seeds: set[int] = set()
    for part in re.split(r"[,\s]+", (text or "").strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)-(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a or b - a > 99:
                raise ValueError(f"seed range {part!r} must go upwards and hold at most 100 seeds")
            seeds.update(range(a, b + 1))
        elif part.isdigit():
            seeds.add(int(part))
        else:
            raise ValueError(f"seed {part!r} is not a whole number >= 0 (write e.g. 0 or 0,1,2 or 0-4)")
    if not seeds:
        raise ValueError("give at least one seed (e.g. 0, or 0,1,2 for three runs)")
    return sorted(seeds)


def recipe_fixed_fields(recipe: str) -> set[str]:
    """Settings a recipe sets itself (e.g. cl.imbalance for extra_imb): shown, not edited."""
    from threephase_core.recipes import get_recipe

    return set(get_recipe(recipe).overrides)


def recipe_defaults(recipe: str) -> RunConfig:
    from threephase_core.recipes import build_config

    return build_config(recipe)


def changed_overrides(recipe: str, values: dict[str, Any]) -> dict[str, Any]:
    """Only the settings that differ from the recipe's own defaults (so a recipe's fixed
    settings are never overwritten by a form field that was left alone)."""
    base = recipe_defaults(recipe)
    fixed = recipe_fixed_fields(recipe)
    out = {}
    for key, value in values.items():
        if key in fixed:
            continue
        target = base.get(key)
        if (
            isinstance(value, float)
            and isinstance(target, (int, float))
            and math.isclose(float(target), value, rel_tol=1e-9, abs_tol=1e-12)
        ):
            continue
        if value != target:
            out[key] = value
    return out


RUN_WIDE = (
    "max_steps",
    "max_length",
    "max_train_rows",
    "embed_rows",
    "device",
    "val_fraction",
    "test_fraction",
)  # top-level settings the form shows


def train_form_values(cfg: dict, field_keys: list[str]) -> tuple[dict[str, Any], list[str]]:
    """What the Train form needs to set up this run's config again, by config key, and notes on
    what could not be loaded: "Load these settings into Train" on the Results page.

    The values: `recipe`, `seed`, `model` with `model_kind` (minilm, tiny, path or hub),
    `dataset`, `text_column`, `label_column` and `label_sep` with `dataset_source` (demo, folder, upload or
    hub), the run-wide settings (`RUN_WIDE`), the imbalance ratios `cl.min_ratio`/`cl.max_ratio`
    as numbers (the preset resolved), and those of `field_keys` (the form's phase settings) the
    recipe does not fix. Only the sections of phases the run has are read (an FT run's unused
    DAE/CL defaults would overwrite the user's noise and imbalance settings); values of the wrong
    type, from a damaged config.json, are left out. ValueError when the recipe is not one the
    workbench knows."""
    from threephase_core.recipes import RECIPES

    recipe = cfg.get("recipe")
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise ValueError(f"this run's recipe {recipe!r} is not one the workbench knows")
    notes: list[str] = []
    out: dict[str, Any] = {"recipe": recipe}
    used = phase_sections(cfg.get("phases") if isinstance(cfg.get("phases"), list) else RECIPES[recipe].phases)
    seed = cfg.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        out["seed"] = seed
    model = cfg.get("model") or "minilm"
    if isinstance(model, str):
        kind = model if model in ("minilm", "tiny") else "path" if path_exists(Path(model).expanduser()) else "hub"
        out.update(model=model, model_kind=kind)
    spec = cfg.get("dataset")
    if isinstance(spec, str) and spec:
        source = dataset_source(spec)
        text, label = cfg.get("text_column", "text"), cfg.get("label_column", "label")
        if source is None:
            notes.append(f"the dataset {spec!r} is not on this machine; the dataset in use is kept")
        elif isinstance(text, str) and isinstance(label, str):
            sep = cfg.get("label_sep", "")
            out.update(dataset=spec, text_column=text, label_column=label, dataset_source=source)
            out["label_sep"] = sep if isinstance(sep, str) else ""
    out.update({key: cfg[key] for key in RUN_WIDE if key in cfg})
    fixed = recipe_fixed_fields(recipe)
    cl = as_dict(cfg.get("cl"))
    preset = cl.get("imbalance")
    if "cl" in used and "cl.imbalance" not in fixed and isinstance(preset, str) and preset in IMBALANCE_PRESETS:
        try:
            r_min, r_max = CLConfig(**{k: cl[k] for k in ("imbalance", "min_ratio", "max_ratio") if k in cl}).ratios()
            out.update({"cl.min_ratio": float(r_min), "cl.max_ratio": float(r_max)})
        except (TypeError, ValueError):
            notes.append("the imbalance ratios could not be read")
    for key in field_keys:
        section, name = key.split(".", 1)
        value = as_dict(cfg.get(section)).get(name)
        if section not in used or value is None or key in fixed or isinstance(value, (dict, list)):
            continue
        out[key] = value
    return out, notes


def setting_hint(message: str, labels: dict[str, str]) -> str:
    """`message` (a ConfigError naming a setting as ``cl.max_pairs``) prefixed with where that
    setting is on the page (`labels`: setting key -> place), when one is named."""
    for key in sorted(labels, key=len, reverse=True):
        if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", message):
            return f"{labels[key]}: {message}"
    return message
