"""The optimiser every phase builds (`training.make_optimizer`): weight decay on matrices only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from threephase_core.classifier import Classifier
from threephase_core.encoder import load_encoder
from threephase_core.training import make_optimizer


@pytest.fixture
def classifier(tiny_model_path):
    return Classifier(load_encoder(tiny_model_path, device="cpu"), ["a", "b", "c"], head_hidden=8)


def _expected_exempt(model: nn.Module) -> set[int]:
    """Biases of every module and all LayerNorm parameters, found by module type."""
    out = set()
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            out |= {id(p) for p in module.parameters(recurse=False)}
        bias = getattr(module, "bias", None)
        if isinstance(bias, nn.Parameter):
            out.add(id(bias))
    return out


def test_groups_exempt_biases_and_layernorm_weights_and_keep_learning_rates(classifier):
    """FT's two groups (head at head_lr, encoder at lr) each split into decayed and exempt parts."""
    groups = [
        {"params": list(classifier.head.parameters()), "lr": 1e-3},
        {"params": list(classifier.encoder.parameters()), "lr": 5e-5},
    ]
    opt = make_optimizer(groups, "cpu", weight_decay=0.01)
    exempt = _expected_exempt(classifier)
    assert any(isinstance(m, nn.LayerNorm) for m in classifier.encoder.modules())  # the check below means something
    seen = []
    for group in opt.param_groups:
        for p in group["params"]:
            seen.append(id(p))
            assert group["weight_decay"] == (0.0 if id(p) in exempt else 0.01)
            head = any(p is q for q in classifier.head.parameters())
            assert group["lr"] == (1e-3 if head else 5e-5)
    assert sorted(seen) == sorted(id(p) for p in classifier.parameters())  # each parameter once
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    emb = classifier.encoder[0].auto_model.embeddings.word_embeddings.weight
    assert id(emb) in decayed and id(classifier.head[1].weight) in decayed


def test_a_step_with_zero_gradients_decays_matrices_only(classifier):
    """AdamW with zero gradients moves each parameter only by its decay: p <- p * (1 - lr * wd)."""
    params = [p for p in classifier.parameters()]
    before = [p.detach().clone() for p in params]
    opt = make_optimizer([{"params": params, "lr": 0.1}], "cpu", weight_decay=0.5)
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()
    exempt = _expected_exempt(classifier)
    for p, old in zip(params, before):
        expected = old if id(p) in exempt else old * (1 - 0.1 * 0.5)
        torch.testing.assert_close(p.detach(), expected)
