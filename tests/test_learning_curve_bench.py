"""bench/learning_curve.py end to end on a toy grid (tiny model, a few steps): the label-free
phase sees every training text, the budget a class cannot meet is skipped and listed, SetFit runs
offline beside the recipes, and the table and figure are written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_bench_quick import _toy_data_root

ROOT = Path(__file__).resolve().parents[1]


def test_learning_curve_toy_grid(tmp_path, tiny_model_path):
    root = _toy_data_root(tmp_path / "data")
    out = tmp_path / "out"
    args = ["--datasets", "toy", "--data-root", str(root), "--budgets", "4,30", "--seeds", "0"]
    args += ["--recipes", "ft,dae_ft", "--max-train-rows", "0", "--model", tiny_model_path]
    args += ["--set", "max_steps=2", "--setfit-max-steps", "2", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "learning_curve.py"), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {(r["recipe"], r["budget"]): r for r in json.loads((out / "learning_curve_cpu.json").read_text())}
    assert {r["state"] for (_, budget), r in rows.items() if budget == 4} == {"done"}
    assert rows[("dae_ft", 4)]["labelled"] == 12 and rows[("dae_ft", 4)]["dae_texts"] == 72  # every training text
    assert rows[("ft", 4)]["unlabelled"] == 60 and rows[("setfit", 4)]["labelled"] == 12
    assert rows[("ft", 30)]["state"] == "skipped" and "'gamma' has 12" in rows[("ft", 30)]["message"]
    table = (out / "learning_curve_toy_cpu.md").read_text()
    assert "| 4 / class | ft | 12 | 60 | 1 |" in table and "| 4 / class | setfit | 12 |" in table
    assert "skipped 30 / class: labels_per_class=30" in table and " at commit " in table and "setfit " in table
    assert all(
        r["commit"] and r["command"].startswith("python bench/learning_curve.py --datasets toy") for r in rows.values()
    )
    assert (out / "learning_curve_toy_cpu.html").stat().st_size > 0
    assert (out / "learning_curve_toy_cpu.png").exists() or "png not written" in done.stderr

    # --report-only runs nothing and rebuilds the same table from the rows on disk.
    (out / "learning_curve_toy_cpu.md").unlink()
    again = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "learning_curve.py"), "--datasets", "toy", "--report-only"]
        + ["--out", str(out), "--model", tiny_model_path],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=ROOT,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    rebuilt = (out / "learning_curve_toy_cpu.md").read_text()
    assert rebuilt.split("Device:")[1] == table.split("Device:")[1]  # the same rows, the same table
    assert len(json.loads((out / "learning_curve_cpu.json").read_text())) == len(rows)
