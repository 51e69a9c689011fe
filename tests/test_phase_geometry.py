"""bench/phase_geometry.py: per-phase embedding metrics collected from run folders."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# bench/ holds scripts, not a package: load this one from its file
_SPEC = importlib.util.spec_from_file_location("phase_geometry", ROOT / "bench" / "phase_geometry.py")
phase_geometry = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(phase_geometry)


def _run(
    root: Path,
    name: str,
    recipe: str,
    seed: int,
    knn: dict,
    state: str = "done",
    created: float = 1.0,
    model: str = "minilm",
):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(json.dumps({"state": state, "created": created}))
    (folder / "config.json").write_text(json.dumps({"dataset": "toy", "recipe": recipe, "seed": seed, "model": model}))
    phases = {p: {"knn_acc": v, "silhouette": v / 10} for p, v in knn.items()}
    phases.setdefault("ft", {})["wall_s"] = 3.0
    (folder / "metrics.json").write_text(json.dumps({"phases": phases}))


def test_means_over_seeds_latest_run_counts_failed_and_other_models_apart(tmp_path, capsys):
    _run(tmp_path, "a", "three_phase", 0, {"base": 0.8, "dae": 0.7, "cl": 0.9, "ft": 0.95})
    _run(tmp_path, "b", "three_phase", 1, {"base": 0.8, "dae": 0.5, "cl": 0.7, "ft": 0.93})
    _run(tmp_path, "old", "three_phase", 1, {"base": 0.8, "dae": 0.1, "cl": 0.1, "ft": 0.1}, created=0.5)  # superseded
    _run(tmp_path, "broken", "three_phase", 2, {"base": 0.0}, state="failed")
    _run(tmp_path, "tiny", "three_phase", 0, {"base": 0.3, "ft": 0.3}, model="/tmp/x/tiny")
    _run(tmp_path, "f", "ft", 0, {"base": 0.8, "ft": 0.97})
    rows = {(r["model"], r["recipe"]): r for r in phase_geometry.summarise(phase_geometry.read_runs([str(tmp_path)]))}
    assert set(rows) == {("minilm", "three_phase"), ("tiny", "three_phase"), ("minilm", "ft")}
    three = rows[("minilm", "three_phase")]
    assert three["seeds"] == [0, 1]
    assert three["dae.knn_acc"][0] == pytest.approx(0.6) and three["dae.knn_acc"][1] == pytest.approx(0.1414, abs=1e-4)
    assert three["cl.silhouette"][0] == pytest.approx(0.08)
    assert "dae.knn_acc" not in rows[("minilm", "ft")]

    out = tmp_path / "t.md"
    assert phase_geometry.main([str(tmp_path), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| toy | minilm | three_phase | 2 | 80.0 ± 0.0 | 60.0 ± 14.1 | 80.0 ± 14.1 | 94.0 ± 1.4 |" in text
    assert "| toy | minilm | ft | 1 | 80.0 ± 0.0 |  |  | 97.0 ± 0.0 |" in text


def test_no_finished_runs_is_a_clear_message(tmp_path, capsys):
    assert phase_geometry.main([str(tmp_path)]) == 1
    assert "no finished runs" in capsys.readouterr().out


def test_reads_accuracy_result_rows_too(tmp_path):
    rows = [
        {
            "dataset": "toy",
            "recipe": "three_phase",
            "seed": s,
            "state": "done",
            "finished": 1.0,
            "settings": {"model": "/tmp/minilm"},
            "phase_geometry": {
                "base": {"knn_acc": 0.8, "silhouette": 0.1},
                "dae": {"knn_acc": 0.6 + 0.1 * s, "silhouette": 0.0},
            },
        }
        for s in (0, 1)
    ] + [{"dataset": "toy", "recipe": "three_phase", "seed": 2, "state": "failed", "settings": {}}]
    f = tmp_path / "accuracy_x.json"
    f.write_text(json.dumps({"rows": rows}))
    (row,) = phase_geometry.summarise(phase_geometry.read_runs([str(f)]))
    assert row["model"] == "minilm" and row["seeds"] == [0, 1]
    assert row["dae.knn_acc"][0] == pytest.approx(0.65)


def test_model_filter(tmp_path):
    _run(tmp_path, "a", "ft", 0, {"base": 0.8, "ft": 0.9})
    _run(tmp_path, "t", "ft", 0, {"base": 0.3, "ft": 0.3}, model="/x/tiny")
    out = tmp_path / "t.md"
    assert phase_geometry.main([str(tmp_path), "--model", "minilm", "--out", str(out)]) == 0
    assert "| minilm |" in out.read_text() and "| tiny |" not in out.read_text()
