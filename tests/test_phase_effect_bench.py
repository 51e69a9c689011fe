"""bench/phase_effect.py end to end on the demo with the tiny encoder and a step cap: both modes write
their table, and the default mode's rows are the run folders' metrics."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import bench_script


def _run(*args: str):
    return bench_script("phase_effect.py", *args, timeout=900)


def test_default_mode_table_comes_from_the_run_folders(tiny_model_path, tmp_path):
    out = tmp_path / "effect.md"
    done = _run(
        "--datasets",
        "demo",
        "--seeds",
        "0,1",
        "--set",
        f"model={tiny_model_path}",
        "--set",
        "max_steps=1",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "## demo" in text and "| cl |" in text and "Command: `python bench/phase_effect.py" in text
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["seed"] for r in rows] == [0, 1]
    metrics = json.loads((Path(rows[0]["folder"]) / "metrics.json").read_text())
    assert rows[0]["val_acc"] == metrics["validation"]["accuracy"]
    assert rows[0]["phases"]["cl"]["knn_train_acc"] == metrics["phases"]["cl"]["knn_train_acc"]
    assert "After CL: silhouette" in text  # the verdict line


def test_sweep_mode_writes_one_row_per_variant(tiny_model_path, tmp_path):
    out = tmp_path / "sweep.md"
    done = _run(
        "--sweep",
        "dae",
        "--variant",
        "lr 3e-5 (before)",
        "--variant",
        "decoder lr 1e-3",
        "--seeds",
        "0",
        "--set",
        f"model={tiny_model_path}",
        "--set",
        "max_steps=1",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in out.read_text().splitlines() if line.startswith("| demo |")]
    assert [line.split(" | ")[1] for line in lines] == ["lr 3e-5 (before)", "decoder lr 1e-3"]
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert all("loss_own_vector" in r["phases"]["dae"] for r in rows)


def test_a_setting_without_a_value_is_refused():
    done = _run("--set", "max_steps")
    assert done.returncode == 2 and "KEY=VALUE" in done.stderr
