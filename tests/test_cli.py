"""The command line: listings, a real run, and clear one-line errors (no tracebacks)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "threephase_core", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


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
        (["--set", "cl.imbalance=huge"], "is not a preset"),
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


def test_missing_model_is_explained(tmp_path):
    out = cli("run", "--model", str(tmp_path / "no-model"), "--max-steps", "1", "--quiet", "--runs-dir", str(tmp_path))
    assert out.returncode == 2
    assert "model folder not found" in out.stderr and "Traceback" not in out.stderr + out.stdout


def test_a_run_prints_the_metrics_table(tiny_model_path, tmp_path):
    out = cli("run", "--recipe", "dae_ft", "--model", tiny_model_path, "--max-steps", "2", "--set", "embed_rows=20", "--quiet", "--runs-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "validation" in out.stdout and "test" in out.stdout and "silhouette" in out.stdout
    runs = list(tmp_path.iterdir())
    assert len(runs) == 1 and (runs[0] / "model" / "classifier.json").exists()


def test_gpu_preset_on_the_cpu_is_ignored_with_a_note(tiny_model_path, tmp_path):
    out = cli("run", "--recipe", "ft", "--model", tiny_model_path, "--max-steps", "1", "--set", "embed_rows=20",
              "--gpu-preset", "--quiet", "--runs-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "--gpu-preset ignored" in out.stderr and "GPU preset:" not in out.stdout


def test_gpu_preset_sets_the_phases_and_set_wins(tiny_model_path, tmp_path, monkeypatch, capsys):
    import json

    from threephase_core import cli as cli_module
    from threephase_core import gpu_presets

    monkeypatch.setattr(gpu_presets, "gpu_memory_gib", lambda: 80.0)  # as if on an 80 GB GPU (the run itself stays on the CPU)
    rc = cli_module.main(["run", "--recipe", "three_phase", "--model", tiny_model_path, "--max-steps", "1", "--set", "embed_rows=20",
                          "--set", "ft.epochs=3", "--gpu-preset", "--quiet", "--runs-dir", str(tmp_path)])
    assert rc == 0
    assert "GPU preset:" in capsys.readouterr().out
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    cfg = json.loads((run / "config.json").read_text())
    expected = gpu_presets.gpu_settings(354, 80.0, 128)  # the demo's training rows: the tiny-data preset
    assert cfg["dae"]["batch_size"] == expected["dae.batch_size"] == 16
    assert cfg["ft"]["lr"] == expected["ft.lr"]
    assert cfg["ft"]["epochs"] == 3  # --set wins over the preset's 20
