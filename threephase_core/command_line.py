"""A run's settings as a file or as a command line, both ways.

* `read_config_file(path)`: the settings in a run's ``config.json`` or in a file a user writes (JSON,
  or YAML when PyYAML is importable), as ``{key: value}`` with keys as typed on the command line
  (``seed``, ``ft.lr``). A missing file, a file that does not parse or that is not a mapping is one
  `ConfigError` line.
* `config_from_settings(recipe, file_settings, overrides)`: the run's config. Order: defaults, the
  recipe's own changes, the file's settings, then the command line's (``--set`` and the flags). The
  file's ``recipe`` picks the phases unless ``--recipe`` is given, which wins: its phases, and its own
  changes over the file's values (``--recipe no_imb`` on a file with ``cl.imbalance: extra`` runs
  without correction). A file whose ``phases`` disagree with its recipe is refused.
* `command_for(cfg)`: the ``threephase run`` command that makes `cfg` again (what the Train page
  shows to copy): the recipe, then each setting that differs from the recipe's defaults.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from threephase_core.config import GLOBAL_BATCH, SECTION_NAMES, ConfigError, RunConfig, specs

# Settings that have their own flag on `run` (flag name = "--" + key with "-" for "_"), and the
# values the command line fills in when neither the flag, a --set nor a config file gives them.
FLAG_KEYS = (
    "dataset",
    "model",
    "seed",
    "device",
    "text_column",
    "label_column",
    "label_sep",
    "max_steps",
    "unlabelled",
    "unlabelled_rows",  # a switch: given without a value
    "labels_per_class",
    "label_fraction",
    "nproc",
)
FLAG_DEFAULTS = {"dataset": "demo", "model": "minilm"}
DEFAULT_RECIPE = "three_phase"
PROGRAM = "threephase"


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings in the file at `path`, flattened to ``{"ft.lr": 3e-5, ...}``; ConfigError when
    the file is missing, unreadable, neither JSON nor YAML, or not a mapping of settings."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; give the config file (e.g. a run's config.json)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path} ({getattr(exc, 'strerror', None) or exc})") from None
    data = _parse(text, path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping of settings (key: value), not {_kind(data)}")
    return _flatten(data)


def _parse(text: str, path: Path) -> Any:
    """JSON for .json files (and anything that parses as JSON), else YAML when PyYAML is there."""
    try:
        return json.loads(text)
    except ValueError as exc:
        json_error = exc
    if path.suffix.lower() == ".json":
        raise ConfigError(f"config file {path} is not valid JSON ({json_error})")
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            f"config file {path} is not JSON, and reading YAML needs PyYAML (pip install pyyaml)"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"config file {path} is neither JSON nor valid YAML{line}") from None


def _kind(value: Any) -> str:
    return "an empty file" if value is None else f"a {type(value).__name__}"


def _flatten(data: Mapping) -> dict[str, Any]:
    """``{"ft": {"lr": 1}}`` -> ``{"ft.lr": 1}``; a section that is not a mapping is left as it is
    (the config refuses it by name)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if key in SECTION_NAMES and isinstance(value, Mapping):
            out.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            out[key] = value
    return out


def config_from_settings(
    recipe: str | None, file_settings: Mapping[str, Any] | None = None, overrides: list[str] | None = None
) -> RunConfig:
    """The run's config from an optional `recipe` (``--recipe``), a config file's settings and the
    command line's ``key=value`` items (which win over the file). Raises ConfigError."""
    from threephase_core.recipes import build_config, get_recipe

    settings = dict(file_settings or {})
    settings.pop(GLOBAL_BATCH, None)  # a run's config.json records it; it follows from the settings
    file_recipe = settings.pop("recipe", None)
    file_phases = settings.pop("phases", None)
    if file_recipe is not None and not isinstance(file_recipe, str):
        raise ConfigError(f"recipe: expected the name of a recipe, got {file_recipe!r}")
    if file_phases is not None and file_recipe is not None:
        expected = get_recipe(file_recipe).phases
        listed = tuple(file_phases) if isinstance(file_phases, (list, tuple)) else file_phases
        if listed != expected:
            raise ConfigError(
                f"the config file's phases {_shown(file_phases)} disagree with its recipe {file_recipe!r} "
                f"({' -> '.join(expected)}); the recipe decides the phases: remove 'phases' or fix 'recipe'"
            )
    elif file_phases is not None and recipe is None:
        raise ConfigError("the config file lists phases but no recipe; name the recipe: it decides the phases")
    chosen = recipe or file_recipe or DEFAULT_RECIPE
    merged: dict[str, Any] = dict(settings)
    if file_recipe is not None and chosen != file_recipe:
        merged.update(get_recipe(chosen).overrides)  # else the file would undo what makes that recipe
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. ft.lr=3e-5)")
        key, value = item.split("=", 1)
        merged[key.strip()] = value.strip()
    return build_config(chosen, merged)


def _shown(phases: Any) -> str:
    if isinstance(phases, (list, tuple)):
        return " -> ".join(map(str, phases)) or "(none)"
    return repr(phases)


def command_for(cfg: RunConfig) -> str:
    """The ``threephase run`` command whose config is `cfg`: the recipe, the flags of the run-wide
    settings that differ from the command line's defaults, and a ``--set`` for every other setting
    that differs from the recipe's defaults."""
    from threephase_core.recipes import build_config

    base = build_config(cfg.recipe)
    words = [PROGRAM, "run", "--recipe", cfg.recipe]
    for key in FLAG_KEYS:
        value = cfg.get(key)
        if value != FLAG_DEFAULTS.get(key, base.get(key)):
            words += ["--" + key.replace("_", "-")] + ([] if isinstance(value, bool) else [_text(value)])
    for key in specs():
        if key in FLAG_KEYS or key in ("recipe", "phases"):
            continue
        value = cfg.get(key)
        if value != base.get(key):
            words += ["--set", f"{key}={_text(value)}"]
    return shlex.join(words)


def _text(value: Any) -> str:
    """A setting's value as `--set` reads it back (true/false, repr of floats so none is rounded)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)
