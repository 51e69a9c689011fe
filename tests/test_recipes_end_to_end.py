"""Every recipe runs end to end on the demo data with the tiny encoder and leaves a complete
run folder whose saved classifier loads and predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from threephase_core.classifier import load_classifier
from threephase_core.recipes import RECIPES, build_config
from threephase_core.runner import run_recipe

PHASE_METRICS = (
    "silhouette",
    "silhouette_ci",
    "silhouette_per_class",
    "knn_acc",
    "knn_acc_ci",
    "knn_train_acc",
    "knn_train_ci",
)


def _check_run_folder(run, cfg) -> dict:
    path = run.path
    for name in ("config.json", "status.json", "events.jsonl", "data.json", "metrics.json"):
        assert (path / name).is_file(), name
    assert json.loads((path / "config.json").read_text())["recipe"] == cfg.recipe
    assert run.status["state"] == "done"
    assert run.embedding_phases() == ["base", *cfg.phases]
    assert run.embedding_phases("train") == ["base", *cfg.phases]  # embeddings/train/ is not a phase above
    for split in ("validation", "train"):
        for phase in run.embedding_phases(split):
            emb = run.load_embeddings(phase, split)
            assert emb["embeddings"].shape[0] == len(emb["labels"]) == len(emb["texts"]) > 0
            assert np.isfinite(emb["embeddings"]).all()
            assert ("rows" in emb) == (split == "train")
            assert ("proba" in emb) == (phase == "ft")
    for name in ("classifier.json", "head.safetensors", "encoder/modules.json"):
        assert (run.model_dir / name).is_file(), name
    events = run.events()
    kinds = {e["type"] for e in events}
    assert {"state", "phase_start", "phase_end", "eval", "saved"} <= kinds
    return run.metrics


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_recipe_runs_and_saves_everything(recipe, tiny_model_path, tmp_path):
    cfg = build_config(recipe, {"model": tiny_model_path, "max_steps": 2, "embed_rows": 40, "dataset": "demo"})
    run, result = run_recipe(cfg, runs_dir=tmp_path)
    assert result["state"] == "done", result
    m = _check_run_folder(run, cfg)
    for split in ("validation", "test"):
        assert 0.0 <= m[split]["accuracy"] <= 1.0
        assert len(m[split]["confusion_matrix"]) == 7
    assert m["before_ft"]["val_acc"] is not None  # the sanity row of the companion study
    for phase in ("base", *cfg.phases):
        assert set(PHASE_METRICS) <= set(m["phases"][phase])
    if "cl" in cfg.phases and cfg.cl.loss == "cosine":
        data = m["phases"]["cl"]["data"]
        assert data["pairs"] == 2 * data["positive_pairs"]
        before, after = data["counts_before"], data["counts_after"]
        changed = {k for k in before if after[k] != before[k]}
        small = {"technical_issue", "cancel_subscription"}  # the classes below M ** 0.625
        if cfg.cl.imbalance == "normal":
            assert changed == small
        elif cfg.cl.imbalance == "extra":  # threshold M ** (1 - 1.5/20): more classes qualify
            assert small < changed and "order_status" not in changed
        else:
            assert changed == set()
    clf = load_classifier(run.path, device="cpu")
    preds = clf.predict(["where is my parcel?", "I want my money back"])
    assert all(p in clf.label_names for p in preds)


def test_lora_recipe_reports_trainable_share(tiny_model_path, tmp_path):
    cfg = build_config("lora", {"model": tiny_model_path, "max_steps": 2, "embed_rows": 20})
    run, result = run_recipe(cfg, runs_dir=tmp_path)
    assert result["state"] == "done"
    lora = result["metrics"]["ft"]["lora"]
    assert 0 < lora["trainable_params"] < lora["total_params"]
    assert 0 < lora["trainable_share"] < 0.5


def test_same_seed_same_result_on_cpu(tiny_model_path, tmp_path):
    cfg = build_config("three_phase", {"model": tiny_model_path, "max_steps": 3, "embed_rows": 30, "seed": 7})
    _, a = run_recipe(cfg, runs_dir=tmp_path / "a")
    _, b = run_recipe(cfg, runs_dir=tmp_path / "b")
    assert a["metrics"]["validation"]["confusion_matrix"] == b["metrics"]["validation"]["confusion_matrix"]
    assert a["metrics"]["phases"]["cl"]["silhouette"] == pytest.approx(b["metrics"]["phases"]["cl"]["silhouette"])


def test_long_texts_can_be_chunked(tiny_model_path, tmp_path):
    """long_text=chunk: each text is cut into max_length chunks whose embeddings are averaged."""
    cfg = build_config(
        "ft", {"model": tiny_model_path, "max_steps": 2, "embed_rows": 20, "long_text": "chunk", "max_length": 8}
    )
    run, result = run_recipe(cfg, runs_dir=tmp_path)
    assert result["state"] == "done", result
    assert run.load_embeddings("ft")["embeddings"].shape[0] == 20
    clf = load_classifier(run.path, device="cpu")
    assert clf.chunk and clf.max_length == 8
    long_text = " ".join(["refund"] * 60)
    assert clf.predict_proba([long_text]).shape == (1, 7)


@pytest.mark.parametrize("recipe", ["three_phase", "joint"])
def test_data_without_pairs_fails_before_the_first_phase_trains(recipe, tiny_model_path, tmp_path):
    """Capped to one row per class, phase 2 has no positive pairs: the run is refused before the
    DAE trains (it used to fail only when phase 2 began, after phase 1's training)."""
    cfg = build_config(recipe, {"model": tiny_model_path, "max_steps": 2, "dataset": "demo", "max_train_rows": 1})
    run, result = run_recipe(cfg, runs_dir=tmp_path)
    assert result["state"] == "failed" and result["input_error"], result
    assert "no positive/negative pairs" in result["message"]
    assert not any(e["type"] == "phase_start" for e in run.events())


def test_training_embeddings_rows_and_probabilities(tiny_model_path, tmp_path):
    """embeddings/train/: a stratified sample of embed_train_rows training texts with their rows
    in the training split; FT's files hold the saved classifier's class probabilities."""
    from threephase_core.data import load_dataset

    cfg = build_config("ft", {"model": tiny_model_path, "max_steps": 2, "embed_rows": 30, "embed_train_rows": 70})
    run, result = run_recipe(cfg, runs_dir=tmp_path)
    assert result["state"] == "done", result
    train = load_dataset("demo", seed=cfg.seed).train
    saved = run.load_embeddings("base", "train")
    assert len(saved["rows"]) == len(set(saved["rows"].tolist())) == pytest.approx(70, abs=4)
    assert saved["texts"].tolist() == train["text"].iloc[saved["rows"]].tolist()
    np.testing.assert_array_equal(saved["labels"], train["label"].to_numpy()[saved["rows"]])
    share = lambda y: np.bincount(y, minlength=7) / len(y)  # noqa: E731
    assert np.abs(share(saved["labels"]) - share(train["label"].to_numpy())).max() < 0.03  # stratified
    assert run.load_embeddings("ft", "train")["rows"].tolist() == saved["rows"].tolist()  # the same rows every phase
    clf = load_classifier(run.path, device="cpu")
    for split in ("validation", "train"):
        ft = run.load_embeddings("ft", split)
        np.testing.assert_allclose(ft["proba"], clf.predict_proba(ft["texts"].tolist()), atol=1e-5)
    q = run.metrics["phases"]["ft"]
    assert q["knn_train_ci"][0] <= q["knn_train_acc"] <= q["knn_train_ci"][1]
    assert set(q["silhouette_per_class"]) <= set(clf.label_names)


def test_no_training_embeddings_when_embed_train_rows_is_zero(tiny_model_path, tmp_path):
    cfg = build_config("ft", {"model": tiny_model_path, "max_steps": 1, "embed_rows": 20, "embed_train_rows": 0})
    run, result = run_recipe(cfg, runs_dir=tmp_path)
    assert result["state"] == "done", result
    assert run.embedding_phases("train") == [] and run.embedding_phases() == ["base", "ft"]
    assert "knn_train_acc" not in run.metrics["phases"]["ft"] and "knn_acc" in run.metrics["phases"]["ft"]
