"""SupCon and NT-Xent against a direct, loop-based computation of their formulas."""

from __future__ import annotations

import math

import pytest
import torch

from threephase_core.losses import NTXentLoss, SupConLoss, nt_xent_loss, supcon_loss


def _cos(u: torch.Tensor, v: torch.Tensor) -> float:
    u, v = u.double(), v.double()
    return float(u @ v / (u.norm() * v.norm()))


def supcon_reference(emb: torch.Tensor, labels: list[int], t: float) -> torch.Tensor:
    """Khosla et al. L_out, one anchor at a time; anchors without a positive are skipped."""
    n = emb.shape[0]
    per_anchor = []
    for i in range(n):
        positives = [p for p in range(n) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        denom = sum(math.exp(_cos(emb[i], emb[a]) / t) for a in range(n) if a != i)
        total = sum(math.log(math.exp(_cos(emb[i], emb[p]) / t) / denom) for p in positives)
        per_anchor.append(-total / len(positives))
    return torch.tensor(sum(per_anchor) / len(per_anchor) if per_anchor else 0.0)


def ntxent_reference(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    z = torch.cat([a, b])
    m = z.shape[0]
    n = a.shape[0]
    losses = []
    for i in range(m):
        j = (i + n) % m
        denom = sum(math.exp(_cos(z[i], z[k]) / t) for k in range(m) if k != i)
        losses.append(-math.log(math.exp(_cos(z[i], z[j]) / t) / denom))
    return torch.tensor(sum(losses) / m)


def _close(actual: torch.Tensor, expected: torch.Tensor):
    torch.testing.assert_close(actual.double().detach(), expected.double(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "labels",
    [
        [0, 0, 1, 1],
        [0, 1, 0, 1, 2, 2],
        [0, 0, 0, 1, 2, 1, 3],  # label 3 (and 2) have no positive in the batch: skipped
        [5, 5, 5, 5],
    ],
)
@pytest.mark.parametrize("temperature", [0.07, 0.5, 1.0])
def test_supcon_matches_formula(labels, temperature):
    g = torch.Generator().manual_seed(len(labels))
    emb = torch.randn(len(labels), 8, generator=g) * 3  # any scale: normalised inside
    out = supcon_loss(emb, torch.tensor(labels), temperature)
    assert out.shape == ()
    _close(out, supcon_reference(emb, labels, temperature))


def test_supcon_row_without_positive_does_not_change_the_mean():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(5, 6, generator=g)
    labels = torch.tensor([0, 0, 1, 1, 9])
    with_lonely = supcon_loss(emb, labels, 0.1)
    # the lonely row still counts as a negative in others' denominators, so compare with the formula
    _close(with_lonely, supcon_reference(emb, labels.tolist(), 0.1))
    assert torch.isfinite(with_lonely)


def test_supcon_no_positive_at_all_is_zero_with_gradient():
    emb = torch.randn(4, 6, requires_grad=True)
    out = supcon_loss(emb, torch.tensor([0, 1, 2, 3]))
    assert out.item() == 0.0
    out.backward()
    assert emb.grad is not None and torch.count_nonzero(emb.grad) == 0


def test_supcon_temperature_matters():
    g = torch.Generator().manual_seed(1)
    emb, labels = torch.randn(6, 8, generator=g), torch.tensor([0, 0, 1, 1, 2, 2])
    assert not torch.isclose(supcon_loss(emb, labels, 0.07), supcon_loss(emb, labels, 0.5))


def test_supcon_prefers_clustered_embeddings():
    labels = torch.tensor([0, 0, 1, 1])
    clustered = torch.tensor([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99]])
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.99, 0.1], [0.1, 0.99]])
    assert supcon_loss(clustered, labels, 0.1) < supcon_loss(mixed, labels, 0.1)


def test_supcon_gradient_is_finite():
    emb = torch.randn(6, 8, requires_grad=True)
    supcon_loss(emb, torch.tensor([0, 0, 1, 1, 2, 3])).backward()
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("temperature", [0.05, 0.2, 1.0])
def test_nt_xent_matches_formula(n, temperature):
    g = torch.Generator().manual_seed(n)
    a, b = torch.randn(n, 8, generator=g), torch.randn(n, 8, generator=g) * 2
    out = nt_xent_loss(a, b, temperature)
    assert out.shape == ()
    _close(out, ntxent_reference(a, b, temperature))


def test_nt_xent_temperature_matters_and_identical_views_score_lower():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    assert not torch.isclose(nt_xent_loss(a, b, 0.05), nt_xent_loss(a, b, 0.5))
    assert nt_xent_loss(a, a, 0.1) < nt_xent_loss(a, b, 0.1)


def test_nt_xent_gradient_is_finite():
    a, b = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4, requires_grad=True)
    nt_xent_loss(a, b).backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


# ---- modules on the tiny model ---------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model(tiny_model_path):
    from threephase_core.encoder import load_encoder

    torch.manual_seed(0)
    return load_encoder(tiny_model_path, device="cpu")


TEXTS = ["where is my order", "refund my money please", "my parcel is late", "I want a refund", "reset my password"]


def _features(model, texts):
    """sentence-transformers features (with its non-tensor 'modality' entry on v6+)."""
    return (model.preprocess if hasattr(model, "preprocess") else model.tokenize)(texts)


def _grads(model):
    return [p.grad for p in model.parameters() if p.requires_grad]


@pytest.mark.parametrize(
    "make, labels",
    [
        (lambda m: SupConLoss(m, temperature=0.1), torch.tensor([0, 1, 0, 1, 2])),
        (lambda m: NTXentLoss(m, temperature=0.05), None),
    ],
    ids=["supcon", "ntxent"],
)
def test_loss_modules_forward_backward(tiny_model, make, labels):
    tiny_model.train()
    tiny_model.zero_grad(set_to_none=True)
    features = _features(tiny_model, TEXTS)
    loss_fn = make(tiny_model)
    loss = loss_fn(features, labels) if labels is not None else loss_fn(features)
    assert loss.shape == () and torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    grads = [g for g in _grads(tiny_model) if g is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    tiny_model.zero_grad(set_to_none=True)


def test_supcon_module_equals_function_on_the_same_embeddings(tiny_model):
    # in eval mode (no dropout) both views are identical, so the module is supcon_loss on [e; e]
    tiny_model.eval()
    features = _features(tiny_model, TEXTS)
    labels = torch.tensor([0, 1, 0, 1, 2])
    with torch.no_grad():
        emb = tiny_model(dict(features))["sentence_embedding"]
        expected = supcon_loss(torch.cat([emb, emb]), torch.cat([labels, labels]), 0.1)
        got = SupConLoss(tiny_model, temperature=0.1)(_features(tiny_model, TEXTS), labels)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_ntxent_module_equals_function_on_the_same_embeddings(tiny_model):
    tiny_model.eval()
    with torch.no_grad():
        emb = tiny_model(dict(_features(tiny_model, TEXTS)))["sentence_embedding"]
        expected = nt_xent_loss(emb, emb, 0.05)
        got = NTXentLoss(tiny_model, temperature=0.05)(_features(tiny_model, TEXTS))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
