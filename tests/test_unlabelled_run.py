"""Unlabelled texts in real runs (a tiny encoder): the label-free phases get every text, the
labelled phases, the pairs and the metrics only the labelled ones, and the run records both counts.

The phase functions are wrapped, not replaced: each wrapper notes what the runner handed over and
calls the real phase, so the run trains as it would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from threephase_core import runner
from threephase_core.data import dataset_for
from threephase_core.phases import contrastive, dae, finetune
from threephase_core.recipes import build_config

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"max_steps": 2, "embed_rows": 20, "embed_train_rows": 20, "ft.epochs": 1}


@pytest.fixture
def received(monkeypatch):
    """What each phase and the metrics were given: {name: [texts or labels...]}."""
    seen: dict[str, list] = {}

    def spy(module, name, record):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            seen.setdefault(name, []).append(record(*args, **kwargs))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    spy(dae, "train_dae", lambda model, texts, *a, **k: list(texts))
    spy(contrastive, "train_contrastive", lambda model, texts, labels, *a, pairs=None, **k: (list(texts), pairs))
    spy(finetune, "train_classifier", lambda enc, names, tt, tl, vt, vl, *a, **k: (list(tt), list(vt)))
    spy(runner, "classification_metrics", lambda truth, predicted, names: len(truth))
    return seen


def _cfg(tiny, recipe, extra=None):
    return build_config(recipe, {**SMALL, "model": tiny, **(extra or {})})


def test_budget_texts_reach_only_the_label_free_phase(tiny_model_path, tmp_path, received):
    extra_file = tmp_path / "more.txt"
    extra_file.write_text("an unlabelled text from a file\nanother text nobody labelled\n", encoding="utf-8")
    cfg = _cfg(tiny_model_path, "three_phase", {"labels_per_class": 6, "unlabelled": str(extra_file), "seed": 2})
    ds = dataset_for(cfg)
    labelled, unlabelled = set(ds.train["text"]), set(ds.unlabelled)
    assert len(labelled) == 6 * ds.num_classes and len(unlabelled) > 300
    run, result = runner.run_recipe(cfg, tmp_path / "runs")
    assert result["state"] == "done", result

    (dae_texts,) = received["train_dae"]
    assert sorted(dae_texts) == sorted(ds.train["text"].tolist() + ds.unlabelled)  # every text, once
    ((cl_texts, pairs),) = received["train_contrastive"]
    assert set(cl_texts) == labelled
    assert set(pairs["a"]) | set(pairs["b"]) <= labelled and set(pairs["texts"]) <= labelled
    ((ft_train, ft_val),) = received["train_classifier"]
    assert sorted(ft_train) == sorted(ds.train["text"]) and not set(ft_val) & (unlabelled - labelled)
    assert received["classification_metrics"] == [len(ds.validation), len(ds.test)]

    metrics = json.loads((run.path / "metrics.json").read_text())
    data = json.loads((run.path / "data.json").read_text())
    config = json.loads((run.path / "config.json").read_text())
    counts = {"labelled": len(labelled), "unlabelled": len(ds.unlabelled)}
    assert metrics["texts"] == counts and data["texts"] == counts
    assert metrics["phases"]["dae"]["data"]["texts"] == len(labelled) + len(ds.unlabelled)
    assert sum(metrics["phases"]["cl"]["data"]["counts_before"].values()) == len(labelled)
    assert config["labels_per_class"] == 6 and config["unlabelled"] == str(extra_file)


def test_simclr_trains_on_every_text_and_ft_on_the_labelled_ones(tiny_model_path, tmp_path, received):
    cfg = _cfg(tiny_model_path, "simclr", {"label_fraction": 0.1})
    ds = dataset_for(cfg)
    run, result = runner.run_recipe(cfg, tmp_path / "runs")
    assert result["state"] == "done", result
    ((cl_texts, _),) = received["train_contrastive"]
    assert sorted(cl_texts) == sorted(ds.train["text"].tolist() + ds.unlabelled)
    ((ft_train, _),) = received["train_classifier"]
    assert sorted(ft_train) == sorted(ds.train["text"])
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert metrics["phases"]["cl"]["data"] == {"loss": "simclr", "texts": len(cl_texts)}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "threephase_core", "run", *args, "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
        cwd=ROOT,
        check=False,
    )


def test_cli_refuses_a_budget_a_class_cannot_meet(tmp_path):
    out = _cli("--recipe", "ft", "--model", "tiny", "--labels-per-class", "50", "--runs-dir", str(tmp_path))
    assert out.returncode == 2
    assert "error: labels_per_class=50 asks for 50 labelled texts per class" in out.stderr
    assert "'cancel_subscription' has 10" in out.stderr and "Traceback" not in out.stderr
    assert not list(tmp_path.iterdir())  # refused before any run folder was made


def test_budget_with_label_levels_counts_the_finest_class(tiny_model_path, tmp_path, received):
    cfg = _cfg(tiny_model_path, "cl_ft", {"label_column": "group,label", "labels_per_class": 4})
    ds = dataset_for(cfg)
    assert ds.hierarchy is not None and set(ds.train["label"].value_counts()) == {4} and len(ds.train) == 28
    run, result = runner.run_recipe(cfg, tmp_path / "runs")
    assert result["state"] == "done", result
    ((cl_texts, pairs),) = received["train_contrastive"]
    assert sorted(cl_texts) == sorted(ds.train["text"])
    assert sum(result["metrics"]["phases"]["cl"]["data"]["counts_before"].values()) == 28
    assert set(result["metrics"]["levels"]) == {"group", "label"} and result["metrics"]["texts"]["labelled"] == 28
