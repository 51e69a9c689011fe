"""CI smoke tests of the benchmark scripts in --quick mode (CPU, tiny model, demo data)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


def test_speed_quick(tmp_path, tiny_model_path):
    out = _run("speed.py", "--quick", "--dataset", "demo", "--model", tiny_model_path, "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "speed_quick_cpu.json").read_text())
    for key in ("device", "stock_ft_samples_per_s", "ft_samples_per_s", "dae_samples_per_s", "cl_samples_per_s"):
        assert key in result
    assert result["ft_samples_per_s"] > 0 and result["three_phase"]["state"] == "done"
    assert "| FT |" in (tmp_path / "speed_quick_cpu.md").read_text()


def test_accuracy_quick_with_long_tail(tmp_path, tiny_model_path):
    out = _run("accuracy.py", "--quick", "--model", tiny_model_path, "--recipes", "three_phase,ft", "--long-tail", "10", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "accuracy_quick_cpu.json").read_text())["rows"]
    assert {(r["dataset"], r["recipe"], r["seed"]) for r in rows} == {("demo_lt10", rec, s) for rec in ("three_phase", "ft") for s in (0, 1)}
    for r in rows:
        assert r["state"] == "done" and {"val_acc", "test_acc", "macro_f1"} <= set(r)
    table = (tmp_path / "accuracy_quick_cpu.md").read_text()
    assert "3-Phase - FT" in table and "demo_lt10" in table


def test_long_tailed_profile():
    sys.path.insert(0, str(ROOT / "bench"))
    from accuracy import make_long_tailed

    from threephase_core.data import load_dataset

    ds = load_dataset("demo")
    lt = make_long_tailed(ds, 10, seed=0)
    sizes = sorted(lt.train["label"].value_counts().tolist(), reverse=True)
    assert sizes[0] == ds.train["label"].value_counts().max()
    assert sizes[0] / sizes[-1] >= 9  # capped by the data's own smallest classes
    assert lt.validation is ds.validation and lt.test is ds.test
