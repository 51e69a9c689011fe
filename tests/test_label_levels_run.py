"""Labels with levels end to end: command-line runs on the demo's two levels (group > intent)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import cli


def _run(tmp_path, model: str, *extra: str):
    out = cli(
        "run",
        "--recipe",
        "cl_ft",
        "--model",
        model,
        "--label-column",
        "group,label",
        "--max-steps",
        "3",
        "--set",
        "embed_rows=20",
        "--set",
        "embed_train_rows=20",
        *extra,
        "--quiet",
        "--runs-dir",
        str(tmp_path),
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    (folder,) = list(tmp_path.iterdir())
    return out, folder


def test_two_levels_score_pairs_and_report_every_level(tiny_model_path, tmp_path):
    out, folder = _run(tmp_path, tiny_model_path)
    metrics = json.loads((folder / "metrics.json").read_text())
    data = json.loads((folder / "data.json").read_text())
    # Phase 2 scored pairs by the levels they share: some only share the group (0.5).
    scores = metrics["phases"]["cl"]["data"]["score_counts"]
    assert scores.get("0.5", 0) > 0 and scores["1"] > 0 and scores["0"] > 0
    # The imbalance correction counted the intents (the finest level).
    assert metrics["phases"]["cl"]["data"]["counts_after"]["cancel_subscription"] == 20
    # FT predicted the intents; metrics at both levels, the intent level the same as the main one.
    assert data["levels"]["level_names"] == ["group", "label"]
    levels = metrics["levels"]
    assert [levels["group"]["level"], levels["label"]["level"]] == [1, 2]
    for split in ("validation", "test"):
        assert levels["label"][split]["accuracy"] == metrics[split]["accuracy"]
        # The group level is scored on the groups of the intent predictions: rebuild it from the
        # intents' confusion matrix and the intent -> group map.
        confusion = np.asarray(metrics[split]["confusion_matrix"])
        group_of = np.asarray(data["levels"]["paths"])[:, 0]
        same_group = group_of[:, None] == group_of[None, :]
        assert levels["group"][split]["accuracy"] == pytest.approx(confusion[same_group].sum() / confusion.sum())
        assert levels["group"][split]["n"] == metrics[split]["n"]
    assert "level 1 (group, 4 classes)" in out.stdout and "level 2 (label, 7 classes)" in out.stdout


def test_ft_can_predict_the_top_level(tiny_model_path, tmp_path):
    _, folder = _run(tmp_path, tiny_model_path, "--set", "ft.level=1")
    metrics = json.loads((folder / "metrics.json").read_text())
    data = json.loads((folder / "data.json").read_text())
    classifier = json.loads((folder / "model" / "classifier.json").read_text())
    groups = ["orders", "billing", "tech_support", "pre_sales"]
    assert data["label_names"] == groups and classifier["label_names"] == groups
    assert list(metrics["levels"]) == ["group"] and len(metrics["test"]["confusion_matrix"]) == 4
    # Phase 2 still scored pairs on both levels.
    assert metrics["phases"]["cl"]["data"]["score_counts"].get("0.5", 0) > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--label-column", "group,intent"], "the demo has no column 'intent'"),
        (["--label-sep", "/"], "the separator '/' occurs in none of the labels"),
        (["--label-column", "group,label", "--label-sep", ":"], "use one column with a separator"),
        (["--label-column", "group,label", "--set", "ft.level=3"], "ft.level=3, but the labels have 2 levels"),
    ],
)
def test_a_bad_level_spec_is_one_clear_line(args, message, tmp_path):
    out = cli("run", "--model", "tiny", *args, "--runs-dir", str(tmp_path / "runs"), timeout=600)
    assert out.returncode == 2, out.stdout
    assert message in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_supcon_with_levels_counts_the_finest_classes(tmp_path):
    """SupCon takes class ids: with levels, each label path is one class (the finest level)."""
    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    cfg = build_config("supcon", {"model": "tiny", "max_steps": 2, "label_column": "group,label", "embed_rows": 20})
    _, result = run_recipe(cfg, tmp_path)
    assert result["state"] == "done", result
    counts = result["metrics"]["phases"]["cl"]["data"]["counts_after"]
    assert counts["cancel_subscription"] == 20 and counts["order_status"] == 118 and len(counts) == 7
