"""Integration: the real packaged all-MiniLM-L6-v2 runs 3-Phase end to end on the demo data
(every phase capped at a few steps) and leaves every file of the run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_three_phase_with_minilm_on_demo(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "threephase_core",
            "run",
            "--dataset",
            "demo",
            "--recipe",
            "three_phase",
            "--max-steps",
            "3",
            "--quiet",
            "--runs-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (run,) = list(tmp_path.iterdir())
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "minilm" and config["phases"] == ["dae", "cl", "ft"] and config["max_steps"] == 3
    assert json.loads((run / "status.json").read_text())["state"] == "done"
    data = json.loads((run / "data.json").read_text())
    assert data["rows"] == {"train": 354, "validation": 79, "test": 79}
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["phases"]) == {"base", "dae", "cl", "ft"}
    # MiniLM already clusters the intents: kNN accuracy on the base embeddings is well above chance.
    assert metrics["phases"]["base"]["knn_acc"] > 0.5
    assert metrics["test"]["n"] == 79
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert [e["phase"] for e in events if e["type"] == "phase_end"] == ["dae", "cl", "ft"]
    for phase in ("base", "dae", "cl", "ft"):
        with np.load(run / "embeddings" / f"{phase}.npz") as z:
            assert z["embeddings"].shape == (79, 384) and len(z["texts"]) == 79
    assert (run / "model" / "encoder" / "model.safetensors").exists()
    from threephase_core import load_classifier

    clf = load_classifier(run, device="cpu")
    assert clf.label_names[0] == "order_status"
    proba = clf.predict_proba(["my package still has not arrived", "please cancel my plan"])
    assert proba.shape == (2, 7) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
