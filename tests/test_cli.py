"""The command line: listings, a real run, and clear one-line errors (no tracebacks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli


def test_recipes_lists_every_recipe():
    from threephase_core.recipes import RECIPES

    out = cli("recipes")
    assert out.returncode == 0
    for name in RECIPES:
        assert name in out.stdout


def test_datasets_lists_the_demo():
    out = cli("datasets")
    assert out.returncode == 0 and out.stdout.startswith("demo")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--recipe", "nope"], "unknown recipe 'nope'"),
        (["--dataset", "/no/such/data.csv"], "file not found"),
        (["--set", "ft.nope=1"], "unknown setting 'ft.nope'"),
        (["--set", "ft.lr=fast"], "ft.lr='fast' is not a valid float"),
        (["--set", "cl.imbalance=huge"], "cl.imbalance='huge'; choose normal, extra, none"),
    ],
)
def test_bad_input_gives_one_clear_line(args, message, tmp_path):
    out = cli("run", *args, "--runs-dir", str(tmp_path))
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_bad_data_file_is_explained(tmp_path):
    f = tmp_path / "one_class.csv"
    f.write_text("text,label\nhello there,a\ngood morning,a\n")
    out = cli("run", "--dataset", str(f), "--runs-dir", str(tmp_path))
    assert out.returncode == 2 and "single class" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "how, message",
    [
        ("--model", "model folder not found"),
        ("--set", "model folder not found"),
        ("not-a-model", "is not a model folder"),
    ],
)
def test_bad_local_model_is_explained_and_leaves_no_run_folder(how, message, tmp_path):
    """A mistyped model path is refused before the run folder is made: no "failed" run is left."""
    runs = tmp_path / "runs"
    if how == "not-a-model":
        (tmp_path / "empty-folder").mkdir()
        model = ["--model", str(tmp_path / "empty-folder")]
    else:
        model = (
            ["--model", str(tmp_path / "no-model")]
            if how == "--model"
            else ["--set", f"model={tmp_path / 'no-model'}"]
        )
    out = cli("run", *model, "--max-steps", "1", "--quiet", "--runs-dir", str(runs))
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("where", ["file", "under-a-file", "env-file"])
def test_runs_dir_that_cannot_be_made_is_explained(where, tmp_path):
    """A runs folder that is a file (or lies under one) gives one line and status 2, no traceback."""
    blocker = tmp_path / "results.csv"
    blocker.write_text("not a folder\n")
    runs_dir = blocker if where != "under-a-file" else blocker / "runs"
    args = ["run", "--max-steps", "1", "--quiet"]
    if where == "env-file":
        out = cli(*args, THREEPHASE_RUNS_DIR=str(runs_dir))
    else:
        out = cli(*args, "--runs-dir", str(runs_dir))
    assert out.returncode == 2, out.stderr
    assert f"cannot create a run folder in {runs_dir}" in out.stderr and "choose another --runs-dir" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert blocker.read_text() == "not a folder\n"


def _two_class_csv(path: Path) -> Path:
    rows = [f"please book a table for {n} people,book" for n in range(30)] + [
        f"what is the weather on day {n},weather" for n in range(30)
    ]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    return path


def test_dataset_and_model_given_with_set_are_used(tiny_model_path, tmp_path, capsys):
    """--set dataset=/model= are real settings: the run uses them (the flags' defaults do not win)."""
    import json

    from threephase_core import cli as cli_module

    data = _two_class_csv(tmp_path / "two.csv")
    runs = tmp_path / "runs"
    rc = cli_module.main(
        [
            "run",
            "--recipe",
            "ft",
            "--set",
            f"dataset={data}",
            "--set",
            f"model={tiny_model_path}",
            "--max-steps",
            "1",
            "--set",
            "embed_rows=20",
            "--quiet",
            "--runs-dir",
            str(runs),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    (run,) = list(runs.iterdir())
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["dataset"] == str(data) and cfg["model"] == tiny_model_path
    assert sorted(json.loads((run / "data.json").read_text())["label_names"]) == ["book", "weather"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "demo", "--set", "dataset=demo"], "dataset is given twice (--dataset and --set dataset=...)"),
        (["--model", "MODEL", "--set", "model=MODEL"], "model is given twice (--model and --set model=...)"),
        (["--seed", "1", "--set", "seed=2"], "seed is given twice (--seed and --set seed=...)"),
        (["--set", "recipe=ft"], "--set recipe=... is refused"),
        (["--set", "phases=ft"], "--set phases=... is refused"),
    ],
)
def test_settings_that_would_be_silently_overridden_are_refused(args, message, tiny_model_path, tmp_path):
    """A key given twice, or one the recipe resets (recipe, phases), is refused, not silently dropped."""
    args = [a.replace("MODEL", tiny_model_path) for a in args]
    if "--model" not in args:  # a quick model, in case the setting were silently accepted
        args += ["--model", tiny_model_path]
    runs = tmp_path / "runs"
    out = cli("run", *args, "--max-steps", "1", "--set", "embed_rows=20", "--quiet", "--runs-dir", str(runs))
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert "--recipe" in out.stderr or "given twice" in out.stderr
    assert not runs.exists()


def test_a_run_prints_the_metrics_table(tiny_model_path, tmp_path):
    out = cli(
        "run",
        "--recipe",
        "dae_ft",
        "--model",
        tiny_model_path,
        "--max-steps",
        "2",
        "--set",
        "embed_rows=20",
        "--quiet",
        "--runs-dir",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    assert "validation" in out.stdout and "test" in out.stdout and "silhouette" in out.stdout
    runs = list(tmp_path.iterdir())
    assert len(runs) == 1 and (runs[0] / "model" / "classifier.json").exists()


def test_gpu_preset_on_the_cpu_is_ignored_with_a_note(tiny_model_path, tmp_path):
    out = cli(
        "run",
        "--recipe",
        "ft",
        "--model",
        tiny_model_path,
        "--max-steps",
        "1",
        "--set",
        "embed_rows=20",
        "--gpu-preset",
        "--quiet",
        "--runs-dir",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    assert "--gpu-preset ignored" in out.stderr and "GPU preset:" not in out.stdout


def test_gpu_preset_sets_the_phases_and_set_wins(tiny_model_path, tmp_path, monkeypatch, capsys):
    import json

    from threephase_core import cli as cli_module
    from threephase_core import gpu_presets

    monkeypatch.setattr(
        gpu_presets, "gpu_memory_gib", lambda: 80.0
    )  # as if on an 80 GB GPU (the run itself stays on the CPU)
    rc = cli_module.main(
        [
            "run",
            "--recipe",
            "three_phase",
            "--model",
            tiny_model_path,
            "--max-steps",
            "1",
            "--set",
            "embed_rows=20",
            "--set",
            "ft.epochs=3",
            "--gpu-preset",
            "--quiet",
            "--runs-dir",
            str(tmp_path),
        ]
    )
    assert rc == 0
    assert "GPU preset:" in capsys.readouterr().out
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    cfg = json.loads((run / "config.json").read_text())
    expected = gpu_presets.gpu_settings(354, 80.0, 128)  # the demo's training rows: the tiny-data preset
    assert cfg["dae"]["batch_size"] == expected["dae.batch_size"] == 16
    assert cfg["ft"]["lr"] == expected["ft.lr"]
    assert cfg["ft"]["epochs"] == 3  # --set wins over the preset's 20


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """`threephase recipes | head -1`: a reader that stops early ends the command with 141
    (128 + SIGPIPE), not a BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "threephase_core", "recipes"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr


def test_usage_names_the_console_command():
    done = cli("--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: threephase ")


def test_a_run_on_small_splits_prints_the_small_data_warnings(tiny_model_path, tmp_path):
    rows = ["text,label"] + [f"message number {i} about {c},{c}" for c in ("a", "b", "c") for i in range(20)]
    data = tmp_path / "small.csv"
    data.write_text("\n".join(rows) + "\n")
    out = cli(
        "run",
        "--dataset",
        str(data),
        "--recipe",
        "ft",
        "--model",
        tiny_model_path,
        "--max-steps",
        "1",
        "--set",
        "embed_rows=20",
        "--quiet",
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert out.returncode == 0, out.stderr
    assert "warning: The validation split has only 6 texts" in out.stdout
    assert "warning: The test split has only 6 texts" in out.stdout
    assert "warning: In the test split 3 classes have fewer than 3 texts" in out.stdout
