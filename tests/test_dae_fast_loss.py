"""The DAE fast loss (head only at real target tokens) against sentence-transformers' own forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from threephase_core.config import DAEConfig
from threephase_core.encoder import load_encoder
from threephase_core.phases.dae import (
    DAEBatches,
    bucket_size,
    can_select_positions,
    dae_loss_on,
    make_dae_loss,
    next_token_labels,
)
from threephase_core.training import PhaseContext

TEXTS = [
    "book a table for two at an italian place tonight",
    "play some jazz",
    "what is the weather like in paris tomorrow morning please tell me now",
    "wake me up at seven",
    "add milk",
    "turn the living room lights off and lock the front door",
]


def test_next_token_labels_are_the_real_next_tokens_at_their_grid_positions():
    rows = [np.array([101, 7, 8, 9, 102]), np.array([101, 102]), np.array([101, 3, 4, 5, 6, 7, 8, 102])]
    width = 8
    grid = np.zeros((3, width), dtype=np.int64)
    for r, ids in enumerate(rows):
        grid[r, : len(ids)] = ids
    positions, labels = next_token_labels(rows, width)
    real = labels != -100
    n_real = sum(len(r) - 1 for r in rows)
    assert real.sum() == n_real and real[:n_real].all()  # padding only at the end
    assert len(positions) == bucket_size(n_real)
    next_tokens = grid[:, 1:].reshape(-1)  # label of grid position p is the token after it
    assert (next_tokens[positions[real]] == labels[real]).all()
    assert len(set(positions[real].tolist())) == n_real


def test_bucket_sizes_are_few_and_tight():
    sizes = {bucket_size(n) for n in range(1, 70_000)}
    assert len(sizes) < 40
    for n in (1, 255, 256, 257, 1000, 4097, 65_000):
        b = bucket_size(n)
        assert b >= n and (n <= 256 or b <= n * 1.25)


@pytest.mark.parametrize("batch_size", [2, 6])
def test_fast_loss_equals_stock_forward_and_gradients(tiny_model_path, batch_size):
    torch.manual_seed(0)
    model = load_encoder(tiny_model_path, "cpu")
    cfg = DAEConfig(batch_size=batch_size, fast_loss=True)
    loss_fn = make_dae_loss(model, cfg)
    loss_fn.eval()  # no dropout, so both paths see the same network
    assert can_select_positions(loss_fn)
    batches = DAEBatches(model, TEXTS, cfg, PhaseContext(device="cpu", seed=0))
    for item in batches.epoch(0):
        feats = batches.features(item)
        assert "label_positions" in feats[1] and "label_ids" in feats[1]
        fast = dae_loss_on(loss_fn, feats)
        g_fast = torch.autograd.grad(fast, [p for p in loss_fn.parameters() if p.requires_grad], allow_unused=True)
        plain = [{k: f[k] for k in ("input_ids", "attention_mask")} for f in feats]
        stock = loss_fn(plain, None)
        g_stock = torch.autograd.grad(stock, [p for p in loss_fn.parameters() if p.requires_grad], allow_unused=True)
        assert torch.allclose(fast, stock, atol=1e-5), (fast.item(), stock.item())
        for a, b in zip(g_fast, g_stock):
            if a is None or b is None:
                assert a is None and b is None
            else:
                assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_fast_loss_off_uses_stock_path(tiny_model_path):
    model = load_encoder(tiny_model_path, "cpu")
    cfg = DAEConfig(batch_size=3, fast_loss=False)
    batches = DAEBatches(model, TEXTS, cfg, PhaseContext(device="cpu", seed=0))
    feats = batches.features(batches.epoch(0)[0])
    assert "label_positions" not in feats[1]


def test_fast_loss_ignores_a_literal_pad_token_like_the_stock_loss(tiny_model_path):
    model = load_encoder(tiny_model_path, "cpu")
    cfg = DAEConfig(batch_size=2, fast_loss=True)
    loss_fn = make_dae_loss(model, cfg)
    loss_fn.eval()
    texts = ["a text with a literal [PAD] inside it", "another [PAD] one"]
    batches = DAEBatches(model, texts, cfg, PhaseContext(device="cpu", seed=0))
    assert any((c[0] == model.tokenizer.pad_token_id).any() for c in batches.targets.chunks)
    feats = batches.features(batches.epoch(0)[0])
    plain = [{k: f[k] for k in ("input_ids", "attention_mask")} for f in feats]
    with torch.no_grad():
        assert torch.allclose(dae_loss_on(loss_fn, feats), loss_fn(plain, None), atol=1e-5)


# ---- the bottleneck the decoder reads -------------------------------------------------
def _with_normalize(tiny_model_path):
    """The tiny encoder ending in a Normalize module, as the packaged MiniLM does."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize

    tiny = load_encoder(tiny_model_path, "cpu")
    return SentenceTransformer(modules=[tiny[0], tiny[1], Normalize()], device="cpu")


def test_pooled_bottleneck_is_the_vector_before_normalize(tiny_model_path):
    from threephase_core.phases.dae import bottleneck

    model = _with_normalize(tiny_model_path).eval()
    feats = model.tokenizer(TEXTS, padding=True, return_tensors="pt")
    feats = {"input_ids": feats["input_ids"], "attention_mask": feats["attention_mask"]}
    with torch.no_grad():
        normalized, pooled = bottleneck(model, dict(feats), False), bottleneck(model, dict(feats), True)
        by_hand = model[1](model[0](dict(feats)))["sentence_embedding"]
    torch.testing.assert_close(pooled, by_hand)
    torch.testing.assert_close(normalized.norm(dim=-1), torch.ones(len(TEXTS)))
    torch.testing.assert_close(normalized, pooled / pooled.norm(dim=-1, keepdim=True))
    assert not torch.allclose(pooled.norm(dim=-1), torch.ones(len(TEXTS)), atol=1e-2)


@pytest.mark.parametrize("fast", [True, False])
def test_both_loss_paths_read_the_chosen_bottleneck(tiny_model_path, fast):
    """Fast and stock paths give the stock forward's loss on the normalized vector, and a
    different loss on the pooled one (the decoder then reads another vector)."""
    torch.manual_seed(0)
    model = _with_normalize(tiny_model_path)
    cfg = DAEConfig(batch_size=3, fast_loss=fast)
    loss_fn = make_dae_loss(model, cfg)
    loss_fn.eval()
    batches = DAEBatches(model, TEXTS, cfg, PhaseContext(device="cpu", seed=0))
    feats = batches.features(batches.epoch(0)[0])
    assert ("label_positions" in feats[1]) == fast
    plain = [{k: f[k] for k in ("input_ids", "attention_mask")} for f in feats]
    with torch.no_grad():
        stock = loss_fn(plain, None)
        assert torch.allclose(dae_loss_on(loss_fn, feats, pooled=False), stock, atol=1e-5)
        assert not torch.allclose(dae_loss_on(loss_fn, feats, pooled=True), stock, atol=1e-4)


def test_train_dae_reports_whether_the_decoder_reads_the_bottleneck(tiny_model_path):
    from threephase_core.phases.dae import train_dae

    model = load_encoder(tiny_model_path, "cpu")
    stats = train_dae(model, TEXTS * 2, DAEConfig(batch_size=4), PhaseContext(device="cpu", seed=0, max_steps=2))
    assert stats["steps"] == 2
    assert np.isfinite(stats["loss_own_vector"]) and np.isfinite(stats["loss_other_vector"])


def test_decoder_lr_gives_the_decoders_own_parameters_their_own_group(tiny_model_path):
    """With dae.decoder_lr, the parameters the tied decoder does not share with the encoder (its
    cross-attention and LM-head transform) form their own group; the shared ones stay at dae.lr."""
    from threephase_core.phases.dae import split_decoder_params

    model = load_encoder(tiny_model_path, "cpu")
    loss_fn = make_dae_loss(model, DAEConfig())
    encoder = {id(p) for p in model.parameters()}
    shared, extra = split_decoder_params(model, loss_fn, DAEConfig(decoder_lr=1e-3))
    assert {id(p) for p in shared} == encoder  # every encoder weight is used by the tied decoder
    (group,) = extra
    assert group["lr"] == 1e-3 and group["params"] and not {id(p) for p in group["params"]} & encoder
    names = {n for n, p in loss_fn.decoder.named_parameters() if any(p is q for q in group["params"])}
    assert any("crossattention" in n for n in names) and any(n.startswith("cls.predictions.transform") for n in names)
    assert all("crossattention" in n or n.startswith("cls.") for n in names)
    every, none = split_decoder_params(model, loss_fn, DAEConfig(decoder_lr=0.0))  # 0: all at dae.lr
    assert none == () and len(every) == len(shared) + len(group["params"])
