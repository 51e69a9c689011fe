"""The classifier head's input norm: what it computes, why it is there, and old saves."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from threephase_core.classifier import Classifier, load_classifier
from threephase_core.encoder import load_encoder


@pytest.fixture(scope="module")
def encoder(tiny_model_path):
    return load_encoder(tiny_model_path, device="cpu")


LABELS = ["a", "b", "c"]


def test_input_norm_makes_logits_independent_of_embedding_scale(encoder):
    torch.manual_seed(0)
    with_norm = Classifier(encoder, LABELS, head_hidden=16, dropout=0.0).eval()
    e = torch.randn(4, with_norm.head[1].in_features)
    unit = e / e.norm(dim=-1, keepdim=True)  # what a Normalize-ending sentence encoder gives
    torch.testing.assert_close(with_norm.classify(e), with_norm.classify(unit), rtol=1e-4, atol=1e-5)
    without = Classifier(encoder, LABELS, head_hidden=16, dropout=0.0, input_norm=False).eval()
    without.head.load_state_dict(with_norm.head.state_dict())
    assert not torch.allclose(without.classify(e), without.classify(unit), rtol=1e-2, atol=1e-3)


def _unit_norm_long_tail(seed: int = 0):
    """Unit-length 384-d points around 5 class centres, 400/100/25/12/6 rows, and a balanced
    held-out set: the shape of sentence-encoder embeddings of a long-tailed dataset."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 384))

    def draw(counts):
        y = np.repeat(np.arange(5), counts)
        x = centres[y] + 1.5 * rng.normal(size=(len(y), 384))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return torch.tensor(x, dtype=torch.float32), torch.tensor(y)

    return draw([400, 100, 25, 12, 6]), draw([50] * 5)


def _train_head(clf: Classifier, x, y, steps: int = 40, batch: int = 64, lr: float = 1e-3) -> None:
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(clf.head.parameters(), lr=lr, weight_decay=0.01)
    clf.train()
    for _ in range(steps):
        idx = torch.randint(len(y), (batch,), generator=gen)
        loss = nn.functional.cross_entropy(clf.classify(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    clf.eval()


def test_input_norm_lets_a_fresh_head_learn_rare_classes_from_unit_length_embeddings(encoder):
    """Same seed, data, steps and learning rate: only the norm differs. Without it the head
    barely moves off the majority class in 40 steps; with it the rare classes are learnt."""
    (x, y), (xv, yv) = _unit_norm_long_tail()
    recalls = {}
    for norm in (False, True):
        torch.manual_seed(0)
        clf = Classifier(encoder, list("abcde"), head_hidden=256, dropout=0.1, input_norm=norm)
        clf.head[1] = nn.Linear(384, 256)  # the tiny test encoder is narrower than MiniLM
        if norm:
            clf.norm = nn.LayerNorm(384, eps=1e-6, elementwise_affine=False)
        _train_head(clf, x, y)
        with torch.no_grad():
            pred = clf.classify(xv).argmax(-1)
        recalls[norm] = [float((pred[yv == k] == k).float().mean()) for k in range(5)]
    rare_without, rare_with = np.mean(recalls[False][2:]), np.mean(recalls[True][2:])
    assert rare_with > 0.8, recalls
    assert rare_without < 0.5, recalls


def test_saved_classifier_keeps_its_input_norm_and_old_saves_load_without_it(encoder, tmp_path):
    torch.manual_seed(0)
    clf = Classifier(encoder, LABELS, head_hidden=16, dropout=0.0)
    clf.save(tmp_path / "new")
    meta = json.loads((tmp_path / "new" / "classifier.json").read_text())
    assert meta["input_norm"] is True
    texts = ["refund please", "where is my order"]
    loaded = load_classifier(tmp_path / "new", device="cpu")
    assert loaded.input_norm
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.eval().predict_proba(texts), rtol=1e-5, atol=1e-6)

    # A classifier saved before the norm existed: no "input_norm" key, and no norm when loaded.
    old = Classifier(encoder, LABELS, head_hidden=16, dropout=0.0, input_norm=False)
    old.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "classifier.json").read_text())
    del meta["input_norm"]
    (tmp_path / "old" / "classifier.json").write_text(json.dumps(meta))
    reloaded = load_classifier(tmp_path / "old", device="cpu")
    assert not reloaded.input_norm and isinstance(reloaded.norm, nn.Identity)
    np.testing.assert_allclose(reloaded.predict_proba(texts), old.eval().predict_proba(texts), rtol=1e-5, atol=1e-6)
