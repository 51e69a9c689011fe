"""`ft.patience` counts epochs without a better validation accuracy, also when FT evaluates
several times per epoch (the Train page and config.py say epochs)."""

from __future__ import annotations

import pytest

from threephase_core.config import FTConfig
from threephase_core.data import load_dataset
from threephase_core.encoder import load_encoder
from threephase_core.phases.finetune import train_classifier
from threephase_core.training import PhaseContext, steps_per_epoch


@pytest.mark.parametrize("evals_per_epoch", [1, 6])
def test_patience_is_counted_in_epochs(tiny_model_path, evals_per_epoch):
    ds = load_dataset("demo")
    encoder = load_encoder(tiny_model_path, "cpu")
    # Nothing learns (head lr 0, frozen encoder): the first evaluation is the best and every later
    # one ties it, so the stop point follows from the patience rule alone.
    cfg = FTConfig(
        epochs=10, batch_size=32, lr=0.0, head_lr=0.0, patience=2, evals_per_epoch=evals_per_epoch, freeze_encoder=True
    )
    _, info = train_classifier(
        encoder,
        ds.label_names,
        ds.train.text.tolist(),
        ds.train.label.to_numpy(),
        ds.validation.text.tolist(),
        ds.validation.label.to_numpy(),
        cfg,
        PhaseContext(device="cpu", seed=0),
    )
    n_batches = steps_per_epoch(len(ds.train), cfg.batch_size)
    first_eval = info["evals"][0]["step"]
    assert info["best_step"] == first_eval
    assert info["steps"] == first_eval + cfg.patience * n_batches  # two epochs after the best, not two evaluations
    assert info["steps"] < cfg.epochs * n_batches
