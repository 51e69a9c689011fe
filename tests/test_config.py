"""RunConfig: typed overrides, (de)serialisation, validation, recipes."""

from __future__ import annotations

import json
import re

import pytest

from threephase_core.config import (
    ConfigError,
    RunConfig,
    from_dict,
    load_config,
    save_config,
    to_dict,
)
from threephase_core.recipes import RECIPES, build_config, get_recipe


# ---- overrides -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "override, getter, expected",
    [
        ("ft.lr=3e-5", lambda c: c.ft.lr, 3e-5),
        ("ft.freeze_encoder=true", lambda c: c.ft.freeze_encoder, True),
        ("ft.freeze_encoder=False", lambda c: c.ft.freeze_encoder, False),
        ("ft.swa=yes", lambda c: c.ft.swa, True),
        ("ft.swa=0", lambda c: c.ft.swa, False),
        ("seed=3", lambda c: c.seed, 3),
        ("ft.epochs=7.0", lambda c: c.ft.epochs, 7),
        ("dae.noise_ratio=0.3", lambda c: c.dae.noise_ratio, 0.3),
        ("cl.augmentation=12", lambda c: c.cl.augmentation, 12),
        ("cl.imbalance=extra", lambda c: c.cl.imbalance, "extra"),
        ("model=tiny", lambda c: c.model, "tiny"),
        (" dataset = some/path.csv ", lambda c: c.dataset, "some/path.csv"),
        ("ft.lora_targets=query,key,value", lambda c: c.ft.lora_targets, "query,key,value"),
        ("phases=dae, ft", lambda c: c.phases, ("dae", "ft")),
    ],
)
def test_string_override_parses_and_types(override, getter, expected):
    cfg = RunConfig().with_overrides([override])
    value = getter(cfg)
    assert value == expected
    assert type(value) is type(expected)


def test_override_does_not_mutate_the_original():
    base = RunConfig()
    new = base.with_overrides(["ft.lr=1e-3", "seed=9"])
    assert (base.ft.lr, base.seed) == (5e-5, 0)
    assert (new.ft.lr, new.seed) == (1e-3, 9)
    assert new.ft is not base.ft


def test_dict_overrides_accept_typed_values():
    cfg = RunConfig().with_overrides(
        {"ft.lr": 1e-4, "ft.epochs": 10, "ft.swa": True, "cl.max_ratio": 20, "phases": ["cl", "ft"]}
    )
    assert cfg.ft.lr == 1e-4 and cfg.ft.epochs == 10 and cfg.ft.swa is True
    assert cfg.cl.max_ratio == 20.0 and isinstance(cfg.cl.max_ratio, float)
    assert cfg.phases == ("cl", "ft")


def test_later_override_wins():
    assert RunConfig().with_overrides(["seed=1", "seed=2"]).seed == 2


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("ft.lrr=1e-5", "ft.lrr"),  # unknown key in a section
        ("sede=3", "sede"),  # unknown top-level key
        ("xx.lr=1e-5", "xx"),  # unknown section
        ("dae.ft.lr=1", "dae.ft.lr"),  # a section nested in a section
        ("ft.lr.x=1", "ft.lr.x"),
        ("ft=3", "ft"),  # a section is not a setting
        ("seed=abc", "seed"),
        ("ft.epochs=1.5", "ft.epochs"),
        ("ft.lr=fast", "ft.lr"),
        ("ft.freeze_encoder=maybe", "ft.freeze_encoder"),
        ("ft.epochs=nan", "ft.epochs"),
        ("seed", "seed"),  # no '='
    ],
)
def test_bad_string_override_raises_config_error_naming_the_key(override, fragment):
    with pytest.raises(ConfigError) as err:
        RunConfig().with_overrides([override])
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"ft.epochs": 1.5}, "ft.epochs"),
        ({"ft.epochs": True}, "ft.epochs"),  # bool is not an int setting
        ({"ft.lr": True}, "ft.lr"),
        ({"ft.swa": 1.0}, "ft.swa"),
        ({"dataset": 5}, "dataset"),
        ({"phases": [1, 2]}, "phases"),
        ({"cl.nope": 1}, "cl.nope"),
    ],
)
def test_bad_dict_override_raises(overrides, fragment):
    with pytest.raises(ConfigError) as err:
        RunConfig().with_overrides(overrides)
    assert fragment in str(err.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# ---- (de)serialisation -----------------------------------------------------------------
def test_to_dict_from_dict_round_trip():
    cfg = RunConfig().with_overrides(["ft.lr=3e-5", "cl.imbalance=extra", "phases=dae,cl,ft", "ft.swa=true", "seed=4"])
    d = to_dict(cfg)
    assert d["phases"] == ["dae", "cl", "ft"]
    json.dumps(d)  # plain JSON
    back = from_dict(json.loads(json.dumps(d)))
    assert back == cfg
    assert back.phases == ("dae", "cl", "ft")


def test_save_and_load_config(tmp_path):
    cfg = build_config("extra_imb", ["seed=5"])
    save_config(cfg, tmp_path / "sub" / "config.json")
    assert load_config(tmp_path / "sub" / "config.json") == cfg


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.update(new_top=1), "new_top"),
        (lambda d: d["ft"].update(new_ft=1), "new_ft"),
        (lambda d: d["dae"].update(bogus=1), "bogus"),
    ],
)
def test_from_dict_rejects_unknown_keys(mutate, fragment):
    d = to_dict(RunConfig())
    mutate(d)
    with pytest.raises(ConfigError, match=fragment):
        from_dict(d)


def test_from_dict_fills_missing_sections_with_defaults():
    cfg = from_dict({"seed": 2})
    assert cfg.seed == 2 and cfg.ft == RunConfig().ft and cfg.phases == ()


# ---- validation ------------------------------------------------------------------------
def test_defaults_validate():
    assert RunConfig(phases=("dae", "cl", "ft")).validate().seed == 0


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["phases=dae,cl"], "ft"),
        (["phases=dae,xyz,ft"], "xyz"),
        (["cl.imbalance=bogus"], "bogus"),
        (["cl.loss=triplet"], "triplet"),
        (["dae.noise_ratio=1.0"], "noise_ratio"),
        (["dae.noise_ratio=-0.1"], "noise_ratio"),
        (["ft.scheduler=step"], "step"),
        (["long_text=split"], "split"),
        (["device=tpu"], "tpu"),
        (["ft.batch_size=0"], "batch_size"),
        (["dae.epochs=0"], "epochs"),
        (["cl.lr=0"], "lr"),
        (["val_fraction=0.6"], "val_fraction"),
        (["test_fraction=0"], "test_fraction"),
        (["phases="], "no phases"),
        (["seed=-1"], r"seed must be an integer in \[0, 4294967295\]"),
        (["max_steps=-3"], ">= 0"),
        (["max_length=4"], "max_length"),
        (["model="], "model is empty"),
        (["model=  "], "model is empty"),
        (["ft.reinit_layers=2", "ft.lora=true"], "re-drawn layers"),
        (["ft.reinit_layers=2", "ft.freeze_encoder=true"], "re-drawn layers"),
    ],
)
def test_validate_rejects_bad_values(overrides, fragment):
    cfg = RunConfig(phases=("dae", "cl", "ft")).with_overrides(overrides)
    with pytest.raises(ConfigError, match=fragment):
        cfg.validate()


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_validate_accepts_devices(device):
    RunConfig(device=device, phases=("ft",)).validate()


# Each was accepted by validate() and failed later: a traceback mid-run, a phase failing after
# the earlier ones had trained, or a run that finished with a silently broken setting.
@pytest.mark.parametrize(
    "overrides, key",
    [
        (["seed=4294967296"], "seed"),  # pandas' sampling needs seeds < 2**32
        (["seed=100000000000"], "seed"),
        (["ft.lr=nan"], "ft.lr"),  # NaN is not <= 0
        (["ft.lr=inf"], "ft.lr"),
        (["dae.lr=nan"], "dae.lr"),
        (["cl.lr=-inf"], "cl.lr"),
        (["ft.head_lr=-1"], "ft.head_lr"),  # ran to 0 % accuracy without a word
        (["ft.head_lr=0"], "ft.head_lr"),
        (["ft.head_lr=nan"], "ft.head_lr"),
        (["cl.loss=supcon", "cl.temperature=0"], "cl.temperature"),
        (["cl.loss=simclr", "cl.temperature=-0.05"], "cl.temperature"),
        (["cl.temperature=nan"], "cl.temperature"),
        (["ft.dropout=2"], "ft.dropout"),  # failed in FT, after DAE and CL had trained
        (["ft.dropout=1"], "ft.dropout"),
        (["ft.dropout=-0.1"], "ft.dropout"),
        (["ft.lora_dropout=1.5"], "ft.lora_dropout"),
        (["ft.head_hidden=0"], "ft.head_hidden"),
        (["embed_rows=-1"], "embed_rows"),
        (["ft.lora_r=0"], "ft.lora_r"),
        (["ft.lora=true", "ft.lora_r=0"], "ft.lora_r"),
        (["ft.lora=true", "ft.lora_alpha=0"], "ft.lora_alpha"),
        (["ft.lora=true", "ft.lora_targets="], "ft.lora_targets"),
        (["ft.lora=true", "ft.lora_targets= , "], "ft.lora_targets"),
        (["cl.min_ratio=5", "cl.max_ratio=1"], "cl.min_ratio=5.0"),  # nothing would ever be oversampled
        (["cl.imbalance=none", "cl.min_ratio=1.5"], "cl.imbalance=none"),  # the preset's r_max is 1
        (["cl.min_ratio=nan"], "cl.min_ratio"),  # NaN fell back to the preset silently
        (["cl.max_ratio=inf"], "cl.max_ratio"),
        (["ft.warmup_ratio=5"], "ft.warmup_ratio"),
        (["ft.warmup_ratio=-0.1"], "ft.warmup_ratio"),
        (["ft.swa_start=1.5"], "ft.swa_start"),
        (["ft.swa_start=1"], "ft.swa_start"),  # averaging would start after the last step
        (["ft.swa_start=-0.5"], "ft.swa_start"),
        (["ft.swa_lr_factor=0"], "ft.swa_lr_factor"),
        (["ft.swa_lr_factor=-3"], "ft.swa_lr_factor"),
        (["ft.patience=-1"], "ft.patience"),
        (["ft.reinit_layers=-1"], "ft.reinit_layers"),
        (["ft.evals_per_epoch=0"], "ft.evals_per_epoch"),
        (["cl.augmentation=0"], "cl.augmentation"),
        (["cl.augmentation=-2"], "cl.augmentation"),
        (["cl.max_pairs=-1"], "cl.max_pairs"),
        (["cl.max_pairs=1"], "cl.max_pairs"),  # keeps max_pairs // 2 = 0 pairs of each kind
        (["ft.weight_decay=-0.01"], "ft.weight_decay"),  # AdamW refuses it, at the start of FT
        (["ft.weight_decay=nan"], "ft.weight_decay"),
        (["dae.decoder=/nonexistent/decoder"], "dae.decoder"),  # was the hub's "Repo id must use alphanumeric chars"
        (["dae.decoder=./no-such-decoder"], "dae.decoder"),
        (["dae.decoder=~/no-such-decoder-folder"], "dae.decoder"),
    ],
)
def test_validate_refuses_bad_values_naming_the_key(overrides, key):
    cfg = RunConfig(phases=("dae", "cl", "ft")).with_overrides(overrides)
    with pytest.raises(ConfigError) as err:
        cfg.validate()
    assert key in str(err.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ("ft.head_lr=-1", "ft.head_lr must be a finite number in [1e-07, 1], got -1.0"),
        ("ft.lr=nan", "ft.lr must be a finite number in [1e-07, 1], got nan"),
        ("seed=4294967296", "seed must be an integer in [0, 4294967295], got 4294967296"),
        ("ft.dropout=2", "ft.dropout must be a finite number in [0, 0.95], got 2.0"),
        ("cl.temperature=0", "cl.temperature must be a finite number > 0, got 0.0"),
        ("ft.swa_start=1", "ft.swa_start must be a finite number in [0, 1), got 1.0"),
        ("cl.min_ratio=11", "cl.min_ratio must be a finite number in [0, 10] (< 0: from the preset), got 11.0"),
        ("ft.patience=-1", "ft.patience must be an integer >= 0 (0: stop at the first evaluation without a gain)"),
        ("cl.loss=triplet", "cl.loss='triplet'; choose cosine, supcon, simclr"),
        ("device=cuda:x", "device='cuda:x'; choose auto, cpu, cuda"),
        ("cl.max_pairs=-1", "cl.max_pairs must be 0 (no cap) or an integer >= 2"),
        ("dae.decoder=/nonexistent", "dae.decoder folder not found: /nonexistent"),
    ],
)
def test_validate_messages_give_the_rule_and_the_value(override, message):
    with pytest.raises(ConfigError) as err:
        RunConfig(phases=("dae", "cl", "ft")).with_overrides([override]).validate()
    assert message in str(err.value)


def _float_keys() -> list[str]:
    from dataclasses import fields

    from threephase_core.config import CLConfig, DAEConfig, FTConfig

    keys = [f.name for f in fields(RunConfig) if f.type == "float"]
    for prefix, cls in (("dae.", DAEConfig), ("cl.", CLConfig), ("ft.", FTConfig)):
        keys += [prefix + f.name for f in fields(cls) if f.type == "float"]
    return keys


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", _float_keys())
def test_every_float_setting_must_be_finite(key, value):
    cfg = RunConfig(phases=("dae", "cl", "ft")).with_overrides([f"{key}={value}"])
    with pytest.raises(ConfigError) as err:
        cfg.validate()
    assert key in str(err.value)


def test_float_keys_cover_every_phase():
    keys = _float_keys()
    assert {"ft.head_lr", "cl.temperature", "dae.lr", "val_fraction"} <= set(keys) and len(keys) >= 15


@pytest.mark.parametrize(
    "overrides",
    [
        ["seed=4294967295"],  # 2**32 - 1
        ["cl.max_pairs=0"],  # 0: no cap
        ["cl.max_pairs=2"],
        ["ft.patience=0"],  # stop at the first evaluation without a gain
        ["ft.dropout=0", "ft.lora_dropout=0"],
        ["ft.warmup_ratio=0"],
        ["ft.warmup_ratio=1"],
        ["ft.swa=true", "ft.swa_start=0"],
        ["ft.reinit_layers=0", "ft.lora=true"],
        ["embed_rows=0"],
        ["ft.weight_decay=0"],
        ["cl.min_ratio=0"],
        ["cl.min_ratio=4", "cl.max_ratio=4"],
        ["cl.min_ratio=-1", "cl.max_ratio=-5"],  # negative: from the preset
        ["cl.imbalance=none"],
        ["cl.loss=supcon", "cl.temperature=0.001"],
        ["ft.lora=true"],  # default targets
        ["ft.lora=false", "ft.lora_targets="],  # unused while LoRA is off
        ["dae.decoder=some-org/some-decoder"],  # a hub id: checked when it is loaded
        # The Train page's widget limits (pages/train.py) and the Imbalance page's sliders.
        ["ft.head_hidden=8", "ft.dropout=0.9", "ft.patience=1", "cl.augmentation=16", "cl.max_pairs=10000000"],
        ["dae.noise_ratio=0.9", "embed_rows=50", "ft.lr=1e-7", "ft.head_lr=1.0", "cl.lr=1", "dae.lr=1e-7"],
        ["cl.min_ratio=0.5", "cl.max_ratio=30"],
        ["cl.min_ratio=5", "cl.max_ratio=5"],
    ],
    ids=lambda o: " ".join(o),
)
def test_validate_accepts_edge_values(overrides):
    RunConfig(phases=("dae", "cl", "ft")).with_overrides(overrides).validate()


def test_decoder_folder_is_checked_only_where_a_phase_loads_it(tmp_path):
    missing = str(tmp_path / "gone")
    RunConfig(phases=("cl", "ft")).with_overrides([f"dae.decoder={missing}"]).validate()  # FT-only runs never load it
    for phases in (("dae", "ft"), ("joint", "ft")):
        with pytest.raises(ConfigError, match="dae.decoder folder not found"):
            RunConfig(phases=phases).with_overrides([f"dae.decoder={missing}"]).validate()
    with pytest.raises(ConfigError, match="dae.decoder=.* is not a model folder"):
        RunConfig(phases=("dae", "ft")).with_overrides([f"dae.decoder={tmp_path}"]).validate()
    (tmp_path / "config.json").write_text("{}")
    RunConfig(phases=("dae", "ft")).with_overrides([f"dae.decoder={tmp_path}"]).validate()


def test_build_config_refuses_a_missing_decoder_up_front():
    with pytest.raises(ConfigError, match="dae.decoder folder not found: /nonexistent"):
        build_config("dae_ft", ["dae.decoder=/nonexistent"])


def test_make_dae_loss_names_a_decoder_it_cannot_load(tiny_model_path):
    """Direct callers (no validate()) get the project's ModelError, not the hub client's error."""
    from threephase_core.config import DAEConfig
    from threephase_core.encoder import ModelError, load_encoder
    from threephase_core.phases.dae import make_dae_loss

    with pytest.raises(ModelError, match="decoder folder not found: /nonexistent/decoder"):
        make_dae_loss(None, DAEConfig(decoder="/nonexistent/decoder"))
    model = load_encoder(tiny_model_path)
    with pytest.raises(ModelError, match="no-such-org/no-such-decoder"):  # a hub id, offline in the tests
        make_dae_loss(model, DAEConfig(decoder="no-such-org/no-such-decoder"))


@pytest.mark.parametrize(
    "section, field_values, key",
    [
        ("ft", {"lr": "fast"}, "ft.lr"),
        ("ft", {"patience": "2"}, "ft.patience"),
        ("cl", {"min_ratio": None}, "cl.min_ratio"),
        ("", {"seed": 1.5}, "seed"),
        ("", {"max_length": "128"}, "max_length"),
        ("dae", {"noise_ratio": "0.6"}, "dae.noise_ratio"),
    ],
)
def test_validate_refuses_wrong_types_in_a_directly_built_config(section, field_values, key):
    """A config built in code or from an edited config.json skips the typed overrides; a wrong
    type is a ConfigError naming the key, not a TypeError from a comparison."""
    d = to_dict(RunConfig(phases=("dae", "cl", "ft")))
    (d[section] if section else d).update(field_values)
    with pytest.raises(ConfigError) as err:
        from_dict(d).validate()
    assert key in str(err.value)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ([], (1.5, 4.0)),
        (["cl.imbalance=extra"], (1.5, 20.0)),
        (["cl.imbalance=none"], (1.0, 1.0)),
        (["cl.min_ratio=2", "cl.max_ratio=8"], (2.0, 8.0)),
        (["cl.imbalance=extra", "cl.min_ratio=0"], (0.0, 20.0)),
    ],
)
def test_ratios_from_preset_or_explicit(overrides, expected):
    assert RunConfig().with_overrides(overrides).cl.ratios() == expected


# ---- recipes ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_builds_a_valid_config(name):
    cfg = build_config(name)
    r = get_recipe(name)
    assert cfg.recipe == name and cfg.phases == r.phases and cfg.phases[-1] == "ft"
    for key, value in r.overrides.items():
        section, _, field = key.rpartition(".")
        assert getattr(getattr(cfg, section) if section else cfg, field) == value


@pytest.mark.parametrize(
    "recipe, user, checks",
    [
        ("extra_imb", [], {"cl.imbalance": "extra"}),
        ("extra_imb", ["cl.imbalance=none"], {"cl.imbalance": "none"}),  # user wins over recipe
        ("lora", [], {"ft.lora": True, "ft.lr": 5e-4}),
        ("lora", ["ft.lr=1e-3"], {"ft.lora": True, "ft.lr": 1e-3}),
        ("simclr", ["seed=7"], {"cl.loss": "simclr", "cl.temperature": 0.05, "ft.freeze_encoder": True, "seed": 7}),
        ("report_baseline", {"ft.epochs": 3}, {"ft.epochs": 3, "ft.scheduler": "cosine", "ft.batch_size": 16}),
        ("three_phase", ["ft.freeze_encoder=true"], {"ft.freeze_encoder": True, "cl.imbalance": "normal"}),
    ],
)
def test_build_config_applies_recipe_then_user_overrides(recipe, user, checks):
    cfg = build_config(recipe, user)
    for key, value in checks.items():
        section, _, field = key.rpartition(".")
        assert getattr(getattr(cfg, section) if section else cfg, field) == value, key
    assert cfg.recipe == recipe and cfg.phases == get_recipe(recipe).phases


def test_build_config_keeps_base_settings():
    base = RunConfig(seed=5, dataset="x.csv").with_overrides(["ft.lr=1e-3"])
    cfg = build_config("swa", base=base)
    assert (cfg.seed, cfg.dataset, cfg.ft.lr, cfg.ft.swa) == (5, "x.csv", 1e-3, True)
    assert base.ft.swa is False  # base untouched


def test_build_config_errors():
    with pytest.raises(ConfigError, match="nope"):
        build_config("nope")
    with pytest.raises(ConfigError, match="ft.lrr"):
        build_config("ft", ["ft.lrr=1"])
    with pytest.raises(ConfigError, match="noise_ratio"):
        build_config("three_phase", ["dae.noise_ratio=2"])  # validated at the end


def test_gpu_presets_by_size_and_memory():
    from threephase_core.gpu_presets import gpu_settings

    assert gpu_settings(67_349)["dae.batch_size"] == 2048
    assert gpu_settings(10_000)["ft.batch_size"] == 128
    assert gpu_settings(300)["ft.batch_size"] == 16
    assert gpu_settings(67_349, gpu_memory_gib=80, max_length=64)["dae.batch_size"] == 2048
    assert (
        gpu_settings(67_349, gpu_memory_gib=80, max_length=128)["dae.batch_size"] == 1024
    )  # 2048 x 128 tokens would not fit
    small_gpu = gpu_settings(67_349, gpu_memory_gib=24)
    assert small_gpu["dae.batch_size"] == 256 and small_gpu["ft.batch_size"] == 512
    assert gpu_settings(67_349, gpu_memory_gib=12)["ft.batch_size"] == 128
    for mem in (12, 24, 80):  # the DAE's logits for batch x max_length tokens stay within 80% of the memory
        for length in (64, 128, 512):
            b = gpu_settings(67_349, gpu_memory_gib=mem, max_length=length)["dae.batch_size"]
            assert b * length * 12 * 30_522 <= 0.8 * mem * 2**30
    assert all(build_config("three_phase", gpu_settings(n)) for n in (300, 10_000, 67_349))


def test_recipe_gpu_settings_follow_the_recipe():
    from threephase_core.gpu_presets import recipe_gpu_settings

    ft_only = recipe_gpu_settings("ft", 67_349)
    assert ft_only and all(k.startswith("ft.") for k in ft_only)
    joint = recipe_gpu_settings("joint", 67_349)
    assert {k.split(".")[0] for k in joint} == {"dae", "cl", "ft"}
    assert "dae.batch_size" in recipe_gpu_settings("three_phase", 500)


def test_joint_refuses_a_cl_loss_it_would_ignore():
    """Joint always sums L_DAE and the cosine pair loss: asking it for SupCon is refused by name,
    not silently trained with cosine."""
    from threephase_core.recipes import build_config

    with pytest.raises(ConfigError, match="cl.loss='supcon' with the Joint phase"):
        build_config("joint", {"cl.loss": "supcon"})
    assert build_config("cl_ft", {"cl.loss": "supcon"}).cl.loss == "supcon"


# ---- each setting's limits, declared once beside its field -------------------------------------
def _number_specs():
    from threephase_core.config import specs

    return [one for one in specs().values() if one.type in (int, float)]


def _outside(one) -> list:
    """Values just outside a number setting's limits (a negative value is a setting's own meaning
    where `negative` says so, and 0 where `zero` does)."""
    values = []
    if one.min is not None and not one.negative:
        values.append(one.min - 1 if one.type is int or one.min <= 0 else one.min / 2)
        if one.open_min:
            values.append(one.min)
    if one.max is not None:
        values.append(one.max + 1 if one.type is int else one.max * 2 + 1)
        if one.open_max:
            values.append(one.max)
    return [v for v in values if not (v == 0 and one.zero)]


OUTSIDE = [(one.key, value) for one in _number_specs() for value in _outside(one)]


def test_every_number_setting_has_limits_to_test():
    limited = {key for key, _ in OUTSIDE}
    assert {"seed", "ft.lr", "ft.dropout", "cl.max_pairs", "cl.min_ratio", "dae.noise_ratio"} <= limited
    assert limited == {one.key for one in _number_specs()}  # every number setting has a minimum or a maximum


@pytest.mark.parametrize("key, value", OUTSIDE, ids=[f"{k}={v}" for k, v in OUTSIDE])
def test_a_value_outside_a_settings_limits_is_refused_naming_it(key, value):
    from threephase_core.config import spec

    with pytest.raises(ConfigError) as err:
        RunConfig(phases=("dae", "cl", "ft")).with_overrides({key: value}).validate()
    assert str(err.value).startswith(f"{key} must be {spec(key).rule()}, got ")
    with pytest.raises(ConfigError, match=re.escape(key)):
        build_config("three_phase", {key: value})


def _at_the_limits():
    """Each number setting at each closed end of its range (with partners a cross rule needs)."""
    partner = {"cl.min_ratio": {"cl.max_ratio": 50.0}, "cl.max_ratio": {"cl.min_ratio": 0.0}}
    cases = []
    for one in _number_specs():
        ends = [one.min if not one.open_min else None, one.max if not one.open_max else None]
        cases += [({one.key: v, **partner.get(one.key, {})}) for v in ends if v is not None]
    return cases


@pytest.mark.parametrize("overrides", _at_the_limits(), ids=lambda o: " ".join(f"{k}={v}" for k, v in o.items()))
def test_a_value_at_a_settings_limit_is_accepted(overrides):
    build_config("three_phase", overrides)


def test_defaults_fit_their_own_limits_and_every_setting_has_a_label():
    from threephase_core.config import specs

    for one in specs().values():
        assert one.label, one.key
        assert one.fits(one.default) or one.default < 0 and one.negative, one.key


def test_spec_names_unknown_keys_and_gives_widget_bounds():
    from threephase_core.config import spec

    assert spec("cl.max_pairs").bounds() == (0, None)  # 0 means no cap: the widget offers it
    assert spec("dae.noise_ratio").bounds() == (0.0, 0.95)
    assert spec("cl.loss").choices == ("cosine", "supcon", "simclr")
    assert spec("ft.epochs").default == 5 and spec("ft.epochs").type is int
    with pytest.raises(ConfigError, match="ft.nope"):
        spec("ft.nope")


def test_the_cli_refuses_a_value_outside_its_limits(capsys, tmp_path):
    from threephase_core import cli

    args = ["run", "--recipe", "ft", "--model", "tiny", "--set", "ft.dropout=0.99", "--runs-dir", str(tmp_path)]
    status = cli.main(args)
    assert status == 2
    assert "ft.dropout must be a finite number in [0, 0.95], got 0.99" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before any run folder was made
