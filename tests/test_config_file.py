"""Runs made from a config file (`run --config PATH`) and the command equivalent to a config."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from threephase_core import cli as cli_module
from threephase_core import cli_run
from threephase_core.command_line import command_for, config_from_settings, read_config_file
from threephase_core.config import ConfigError, to_dict
from threephase_core.recipes import RECIPES, build_config

SMALL = ["--max-steps", "2", "--set", "embed_rows=20", "--set", "embed_train_rows=20", "--quiet"]


def parsed_config(command: str):
    """The config the CLI's own parser and settings code make of `command` (no data read)."""
    args = cli_module._parser().parse_args(shlex.split(command)[1:])
    return cli_run.config_from_args(args)[0]


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_the_command_for_each_recipe_gives_back_its_config(recipe):
    cfg = build_config(recipe)
    assert to_dict(parsed_config(command_for(cfg))) == to_dict(cfg)


def test_the_command_for_changed_settings_gives_back_the_same_config():
    cfg = build_config(
        "three_phase",
        {
            "seed": 7,
            "model": "tiny",
            "dataset": "my data/with space",
            "ft.lr": 1.234567e-5,
            "ft.swa": True,
            "ft.head_input_norm": False,
            "cl.imbalance": "extra",
            "dae.noise_ratio": 0.35,
            "ft.lora_targets": "query,key",
            "text_column": "question",
            "device": "cpu",
            "max_steps": 3,
            "keep_checkpoints": True,
        },
    )
    command = command_for(cfg)
    assert command.startswith("threephase run --recipe three_phase")
    assert "--set ft.swa=true" in command and "'--dataset' " not in command
    assert to_dict(parsed_config(command)) == to_dict(cfg)


def test_default_settings_give_a_short_command():
    assert command_for(build_config("ft")) == "threephase run --recipe ft"


def test_a_yaml_file_with_sections_is_read_and_set_wins(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("recipe: cl_ft\nseed: 4\nmodel: tiny\ncl:\n  imbalance: extra\nft:\n  lr: 3.0e-5\n  epochs: 2\n")
    cfg = config_from_settings(None, read_config_file(f), ["ft.epochs=3"])
    assert (cfg.recipe, cfg.phases, cfg.seed, cfg.model) == ("cl_ft", ("cl", "ft"), 4, "tiny")
    assert (cfg.cl.imbalance, cfg.ft.lr, cfg.ft.epochs) == ("extra", 3e-5, 3)


def test_an_explicit_recipe_wins_over_the_file_with_its_own_changes(tmp_path):
    f = tmp_path / "run.json"
    f.write_text(
        json.dumps(
            {"recipe": "extra_imb", "phases": ["dae", "cl", "ft"], "cl": {"imbalance": "extra"}, "ft": {"lr": 1e-4}}
        )
    )
    cfg = config_from_settings("no_imb", read_config_file(f))
    assert (cfg.recipe, cfg.cl.imbalance, cfg.ft.lr) == ("no_imb", "none", 1e-4)
    cfg = config_from_settings("ft", read_config_file(f))
    assert cfg.phases == ("ft",)


def test_the_recipes_own_changes_do_not_undo_the_files(tmp_path):
    f = tmp_path / "run.json"
    f.write_text(json.dumps({"recipe": "lora", "ft": {"lr": 1e-4}}))
    assert config_from_settings(None, read_config_file(f)).ft.lr == 1e-4  # the recipe alone would say 5e-4


@pytest.mark.parametrize(
    "text, name, message",
    [
        (None, "missing.json", "config file not found"),
        ("{not json", "bad.json", "is not valid JSON"),
        ("a: [1, 2\nb: 3", "bad.yaml", "neither JSON nor valid YAML"),
        ("[1, 2]", "list.json", "must hold a mapping of settings (key: value), not a list"),
        ("", "empty.yaml", "not an empty file"),
        ('{"recipe": "three_phase", "phases": ["cl", "ft"]}', "phases.json", "disagree with its recipe"),
        ('{"ft": {"learning_rate": 1}}', "key.json", "unknown setting 'ft.learning_rate'"),
        ('{"colour": "red"}', "top.json", "unknown setting 'colour'"),
        ('{"ft": {"lr": "fast"}}', "type.json", "ft.lr='fast' is not a valid float"),
        ('{"recipe": "nope"}', "recipe.json", "unknown recipe 'nope'"),
    ],
)
def test_bad_config_files_are_one_line_and_exit_2(text, name, message, tmp_path, capsys):
    f = tmp_path / name
    if text is not None:
        f.write_text(text)
    runs = tmp_path / "runs"
    assert cli_module.main(["run", "--config", str(f), *SMALL, "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not runs.exists() or not any(runs.iterdir())


def test_a_config_file_without_pyyaml_is_refused_clearly(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_yaml(name, *args, **kwargs):
        if name == "yaml":
            raise ImportError("no yaml")
        return real_import(name, *args, **kwargs)

    f = tmp_path / "run.yaml"
    f.write_text("seed: 1\n")
    monkeypatch.setattr(builtins, "__import__", no_yaml)
    with pytest.raises(ConfigError, match="reading YAML needs PyYAML"):
        read_config_file(f)


def _metrics(run_dir: Path) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text())
    return {split: m[split] for split in ("validation", "test")} | {"ft": m["ft"]["best_val_acc"]}


def test_rerunning_a_finished_runs_config_gives_the_same_metrics(tiny_model_path, tmp_path, capsys):
    """CPU runs are deterministic: a run's config.json makes the same run again, metric for metric."""
    first_runs, second_runs = tmp_path / "first", tmp_path / "second"
    assert (
        cli_module.main(
            [
                "run",
                "--recipe",
                "three_phase",
                "--model",
                tiny_model_path,
                "--seed",
                "3",
                "--device",
                "cpu",
                *SMALL,
                "--runs-dir",
                str(first_runs),
            ]
        )
        == 0
    )
    (first,) = first_runs.iterdir()
    assert (
        cli_module.main(["run", "--config", str(first / "config.json"), "--quiet", "--runs-dir", str(second_runs)])
        == 0
    )
    (second,) = second_runs.iterdir()
    assert json.loads((second / "config.json").read_text()) == json.loads((first / "config.json").read_text())
    assert _metrics(second) == _metrics(first)
    capsys.readouterr()
    # --set goes on top of the file: the changed run says so in its config.
    assert (
        cli_module.main(
            [
                "run",
                "--config",
                str(first / "config.json"),
                "--set",
                "seed=4",
                "--quiet",
                "--runs-dir",
                str(second_runs),
            ]
        )
        == 0
    )
    third = next(p for p in second_runs.iterdir() if p != second)
    assert json.loads((third / "config.json").read_text())["seed"] == 4


def test_the_train_page_shows_the_command_of_its_settings(tmp_runs):
    """The Train page's command, parsed by the CLI, is the config Start would queue for the first seed."""
    from streamlit.testing.v1 import AppTest

    from threephase_core import workbench

    app = str(Path(__file__).resolve().parents[1] / "app.py")
    at = AppTest.from_file(app, default_timeout=300)
    at.switch_page("pages/train.py")
    try:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        at.session_state["wb.seeds"] = "5,6"
        at.session_state["wb.max_steps"] = 7
        at.run()
        (code,) = [c.value for c in at.code if c.value.startswith("threephase run")]
        cfg = parsed_config(code)
        assert (cfg.recipe, cfg.seed, cfg.max_steps) == (at.session_state["wb.recipe"], 5, 7)
    finally:
        workbench.shutdown_managers()
