"""The pages read each setting's label, default and limits from the config (pages/_parts/form.py):
the Train form, the workbench-wide widgets, the saved-settings loader and "Load these settings into
Train" agree with `threephase_core.config.spec`, and the engine names no widget key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pages._parts import form
from threephase_core.config import CLConfig, RunConfig, spec, to_dict
from threephase_core.recipes import build_config
from threephase_core.workbench.settings import train_form_values

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", form.field_keys())
def test_every_form_field_takes_the_configs_label_and_limits(key):
    one = spec(key)
    for fields in form.FIELDS.values():
        for field_key, label, kind, options in fields:
            if field_key != key:
                continue
            if kind == "choice":
                assert options == one.choices
            elif kind == "bool":
                assert options is None and one.type is bool
            else:
                assert options == one.bounds() and kind in (("int",) if one.type is int else ("lr", "float"))
            # The Joint tab names its two batch sizes apart.
            assert label == one.label or key in ("cl.batch_size", "dae.batch_size")


def test_workbench_wide_limits_and_defaults_come_from_the_config():
    from pages._parts.ui import DEFAULTS

    for name, key in form.WORKBENCH_SETTINGS.items():
        if spec(key).type in (int, float):
            assert form.LIMITS[name] == spec(key).bounds()
        if key not in ("cl.min_ratio", "cl.max_ratio"):  # the config's -1 means "from the preset"
            assert DEFAULTS[name] == spec(key).default
    assert (DEFAULTS["wb.min_ratio"], DEFAULTS["wb.max_ratio"]) == CLConfig().ratios() == (1.5, 4.0)
    assert DEFAULTS["wb.preset"] == RunConfig().cl.imbalance and DEFAULTS["wb.recipe"] == RunConfig().recipe
    assert DEFAULTS["wb.dataset"] == {"spec": "demo", "text_column": "text", "label_column": "label", "label_sep": ""}
    assert form.LIMITS["wb.min_ratio"] == (0.0, 10.0) and form.LIMITS["wb.noise"] == (0.0, 0.95)


def test_a_value_the_form_allows_the_engine_accepts_and_one_past_it_is_refused():
    """The form's ends are the engine's: both ends build, one step past is a ConfigError naming the key."""
    from threephase_core.config import ConfigError

    for key, _, kind, options in [f for fields in form.FIELDS.values() for f in fields]:
        if kind not in ("int", "float", "lr"):
            continue
        low, high = options
        build_config("three_phase", {key: low})
        if high is not None:
            build_config("three_phase", {key: high})
            with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
                build_config("three_phase", {key: high + (1 if kind == "int" else high)})


def test_session_values_put_a_run_back_into_the_pages_keys(tmp_path):
    model = tmp_path / "my-model"
    model.mkdir()
    overrides = {"model": str(model), "dataset": str(tmp_path), "seed": 4, "ft.epochs": 7, "dae.noise_ratio": 0.3}
    values, _ = train_form_values(to_dict(build_config("extra_imb", overrides)), form.field_keys())
    session = form.session_values(values)
    assert session["wb.model_kind"] == "path" and session["wb.model_path"] == str(model)
    assert session["wb.source"] == "folder" and session["wb.dataset"]["spec"] == str(tmp_path)
    assert session["wb.seeds"] == "4" and session["wb.t.extra_imb.ft.epochs"] == 7 and session["wb.noise"] == 0.3
    assert session["wb.max_length"] == 128 and session["wb.device"] == "auto"
    assert "wb.preset" not in session  # extra_imb fixes its preset: the Imbalance page keeps the user's
    custom = build_config("three_phase", {"cl.min_ratio": 1.2, "cl.max_ratio": 8.0, "model": "someone/encoder"})
    session = form.session_values(train_form_values(to_dict(custom), form.field_keys())[0])
    assert (session["wb.preset"], session["wb.min_ratio"], session["wb.max_ratio"]) == ("custom", 1.2, 8.0)
    assert session["wb.model_kind"] == "hub" and session["wb.model_hub"] == "someone/encoder"
    assert session["wb.augmentation"] == 2 and "wb.t.three_phase.cl.augmentation" not in session  # shared
    ft = form.session_values(train_form_values(to_dict(build_config("ft")), form.field_keys())[0])
    assert not {"wb.noise", "wb.augmentation", "wb.preset", "wb.min_ratio"} & set(ft) and "wb.t.ft.ft.epochs" in ft
    assert all(key.startswith("wb.") for key in ft)


def test_the_train_form_draws_the_configs_limits(empty_store, open_app):
    at = open_app("train")
    for key, _, kind, _ in form.FIELDS["ft"]:
        if kind in ("int", "float", "lr") and key != "ft.level":  # ft.level offers the data's levels
            widget = at.number_input(key=f"train:wb.t.three_phase.{key}")
            assert (widget.min, widget.max) == spec(key).bounds(), key
    steps = at.number_input(key="train:wb.max_steps")
    assert steps.label == spec("max_steps").label and (steps.min, steps.max) == spec("max_steps").bounds()


def test_the_engine_names_no_widget_key():
    found = subprocess.run(
        ["grep", "-rn", '"wb\\.', "threephase_core", "--include=*.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert found.stdout == "", found.stdout
