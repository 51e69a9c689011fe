"""Which widget shows which setting: the Train page's form and the workbench-wide settings.

The engine names settings by their config keys (`ft.lr`, `cl.min_ratio`) and declares each one's
default, type, label and limits once, beside its config field (`threephase_core.config.spec`).
The pages keep their settings in session keys (``wb.*``, see `ui.py`); this module maps those
keys onto config keys, and the widgets, the saved-settings loader and "Load these settings into
Train" read the labels, defaults and limits from the config through it.
"""

from __future__ import annotations

from typing import Any

from threephase_core.config import CLConfig, spec
from threephase_core.workbench.previews import preset_for
from threephase_core.workbench.settings import recipe_fixed_fields

# Workbench-wide session keys that show a config setting (set on the Data, Imbalance and Train
# pages, shared by every recipe): session key -> config key.
WORKBENCH_SETTINGS = {
    "wb.min_ratio": "cl.min_ratio",
    "wb.max_ratio": "cl.max_ratio",
    "wb.noise": "dae.noise_ratio",
    "wb.augmentation": "cl.augmentation",
    "wb.max_steps": "max_steps",
    "wb.max_length": "max_length",
    "wb.max_train_rows": "max_train_rows",
    "wb.embed_rows": "embed_rows",
    "wb.device": "device",
    "wb.val_fraction": "val_fraction",
    "wb.test_fraction": "test_fraction",
    # Unlabelled texts and the label budget (the Data page's "Unlabelled texts and label budget").
    "wb.unlabelled": "unlabelled",
    "wb.unlabelled_rows": "unlabelled_rows",
    "wb.labels_per_class": "labels_per_class",
    "wb.label_fraction": "label_fraction",
}
# The Data page's unlabelled texts and label budget: session key -> config key.
TEXT_SETTINGS = {
    key: WORKBENCH_SETTINGS[key]
    for key in ("wb.unlabelled", "wb.unlabelled_rows", "wb.labels_per_class", "wb.label_fraction")
}
# Phase settings the Imbalance page sets too: config key -> session key (unless a recipe fixes it).
SHARED = {WORKBENCH_SETTINGS[key]: key for key in ("wb.noise", "wb.augmentation")}
# The range each workbench-wide number widget accepts (a saved value outside it is not restored).
LIMITS: dict[str, tuple] = {
    key: spec(setting).bounds() for key, setting in WORKBENCH_SETTINGS.items() if spec(setting).type in (int, float)
}
PHASE_TABS = {"dae": "Phase 1 · DAE", "cl": "Phase 2 · CL", "joint": "Joint · DAE + CL", "ft": "Phase 3 · FT"}
RECIPE_PREFIX = "wb.t."  # a recipe's own phase settings: wb.t.<recipe>.<config key>
PAIR_ONLY = {"cl.augmentation", "cl.max_pairs", "cl.positives"}  # settings of the cosine pair loss only


def config_defaults() -> dict[str, Any]:
    """The session defaults that come from the config's own defaults."""
    r_min, r_max = CLConfig().ratios()
    return {
        "wb.dataset": {
            "spec": spec("dataset").default,
            "text_column": spec("text_column").default,
            "label_column": spec("label_column").default,
            "label_sep": spec("label_sep").default,
        },
        "wb.preset": spec("cl.imbalance").default,
        "wb.model_kind": spec("model").default,
        "wb.recipe": spec("recipe").default,
        "wb.seeds": str(spec("seed").default),
        **{key: spec(setting).default for key, setting in WORKBENCH_SETTINGS.items()},
        "wb.min_ratio": r_min,  # the default preset's ratios (the config's -1 means "from the preset")
        "wb.max_ratio": r_max,
    }


def _field(key: str, label: str = "") -> tuple[str, str, str, Any]:
    """(key, label, kind, options) of one form field, from the config's declaration of the setting.
    kind: int | float | lr (a learning rate, shown in e-notation) | bool | choice; options: the
    (lowest, highest) range of a number or the choices of a text setting."""
    one = spec(key)
    if one.choices:
        return key, label or one.label, "choice", one.choices
    if one.type is bool:
        return key, label or one.label, "bool", None
    kind = "int" if one.type is int else "lr" if key.endswith("lr") else "float"
    return key, label or one.label, kind, one.bounds()


# The fields of each phase's tab.
FIELDS = {
    "dae": [
        _field(k)
        for k in ("dae.epochs", "dae.lr", "dae.decoder_lr", "dae.batch_size", "dae.noise_ratio", "dae.bottleneck")
    ],
    "cl": [
        _field(k)
        for k in ("cl.epochs", "cl.lr", "cl.batch_size", "cl.augmentation", "cl.positives", "cl.loss", "cl.max_pairs")
    ],
    "ft": [
        _field(k)
        for k in (
            "ft.epochs",
            "ft.lr",
            "ft.head_lr",
            "ft.batch_size",
            "ft.patience",
            "ft.scheduler",
            "ft.head_hidden",
            "ft.dropout",
            "ft.freeze_encoder",
            "ft.head_input_norm",
            "ft.level",
        )
    ],
    # Joint takes epochs and learning rate from `cl`, always uses the cosine pair loss, and only the
    # DAE's batch size and noise (phases/joint.py): the tab shows just those.
    "joint": [
        _field("cl.epochs"),
        _field("cl.lr"),
        _field("cl.batch_size", "Pair batch size"),
        _field("dae.batch_size", "DAE batch size"),
        _field("dae.noise_ratio"),
        _field("dae.joint_weight"),
        _field("dae.decoder_lr"),
        _field("cl.augmentation"),
        _field("cl.positives"),
        _field("cl.max_pairs"),
    ],
}


def data_limits(key: str, options, dataset) -> tuple[Any, str, bool]:
    """A form field's options narrowed to the chosen data, a note for its help, and whether it is
    off: ``ft.level`` offers the levels of labels that have them (0: the finest) and is off, at 0,
    for labels of one level. Other fields, and data that did not load, keep the config's options."""
    if key != "ft.level" or dataset is None:
        return options, "", False
    levels = dataset.hierarchy
    if levels is None:
        why = (
            "The labels of this data have one level: FT predicts its classes. Give the labels levels on the Data "
            "page to choose the level FT predicts. "
        )
        return (0, 0), why, True
    named = ", ".join(f"{k} = {name}" for k, name in enumerate(levels.level_names, 1))
    return (
        (0, levels.n_levels),
        f"0 = the finest level ({levels.level_names[-1]}); {named}. The metrics also score every level above the "
        "one FT predicts, from its predictions. ",
        False,
    )


def field_keys() -> list[str]:
    """Every per-phase setting the form shows, once."""
    return list(dict.fromkeys(key for fields in FIELDS.values() for key, *_ in fields))


def setting_name(recipe: str, key: str) -> str:
    """The session key of a phase setting: shared with the Imbalance page, or this recipe's own."""
    if key in SHARED and key not in recipe_fixed_fields(recipe):
        return SHARED[key]
    return f"{RECIPE_PREFIX}{recipe}.{key}"


def session_values(values: dict[str, Any]) -> dict[str, Any]:
    """The session keys and values that show `workbench.settings.train_form_values`' values (a
    run's settings, by config key) on the Data, Imbalance and Train pages."""
    recipe = values["recipe"]
    out: dict[str, Any] = {"wb.recipe": recipe}
    if "seed" in values:
        out["wb.seeds"] = str(values["seed"])
    kind = values.get("model_kind")
    if kind:
        out["wb.model_kind"] = kind
        if kind in ("path", "hub"):
            out[f"wb.model_{kind}"] = values["model"]
    if "dataset" in values:
        out["wb.dataset"] = {
            "spec": values["dataset"],
            "text_column": values["text_column"],
            "label_column": values["label_column"],
            "label_sep": values.get("label_sep", ""),
        }
        out["wb.source"] = values["dataset_source"]
    out.update(
        {
            key: values[setting]
            for key, setting in WORKBENCH_SETTINGS.items()
            if "." not in setting and setting in values
        }
    )  # run-wide settings
    if "cl.min_ratio" in values and "cl.max_ratio" in values:
        r_min, r_max = values["cl.min_ratio"], values["cl.max_ratio"]
        out.update({"wb.min_ratio": r_min, "wb.max_ratio": r_max, "wb.preset": preset_for(r_min, r_max)})
    out.update({setting_name(recipe, key): values[key] for key in field_keys() if key in values})
    return out
