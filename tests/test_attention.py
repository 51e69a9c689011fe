"""The no-sync SDPA masks (attention.py) give the same outputs as transformers' own."""

from __future__ import annotations

import torch

from threephase_core.attention import NAME, avoid_mask_syncs
from threephase_core.config import DAEConfig
from threephase_core.encoder import load_encoder
from threephase_core.phases.dae import DAEBatches, dae_loss_on, make_dae_loss
from threephase_core.training import PhaseContext

TEXTS = ["a short one", "a somewhat longer sentence with more words in it", "mid length text here", "x"]


def test_encoder_outputs_unchanged_and_not_saved(tiny_model_path, tmp_path):
    model = load_encoder(tiny_model_path, "cpu")
    model.eval()
    hf = model.transformers_model
    assert hf.config._attn_implementation == "sdpa"  # CPU keeps the stock path
    feats = dict(model.tokenize(TEXTS))
    with torch.no_grad():
        before = model(dict(feats))["sentence_embedding"]
    assert avoid_mask_syncs(hf)
    assert hf.config._attn_implementation == NAME
    with torch.no_grad():
        after = model(dict(feats))["sentence_embedding"]
    assert torch.allclose(before, after, atol=1e-6)
    model.save(str(tmp_path / "saved"))
    assert NAME not in (tmp_path / "saved" / "config.json").read_text()
    assert load_encoder(str(tmp_path / "saved"), "cpu").transformers_model.config._attn_implementation == "sdpa"


def test_dae_decoder_with_nosync_masks_gives_the_same_loss(tiny_model_path):
    model = load_encoder(tiny_model_path, "cpu")
    cfg = DAEConfig(batch_size=4)
    batches = DAEBatches(model, TEXTS, cfg, PhaseContext(device="cpu", seed=0))
    feats = batches.features(batches.epoch(0)[0])
    loss_fn = make_dae_loss(model, cfg)
    loss_fn.eval()
    with torch.no_grad():
        stock = dae_loss_on(loss_fn, feats)
        assert avoid_mask_syncs(loss_fn.decoder) and avoid_mask_syncs(model.transformers_model)
        nosync = dae_loss_on(loss_fn, feats)
    assert torch.allclose(stock, nosync, atol=1e-6)


def test_models_not_on_sdpa_are_left_alone():
    class Cfg:
        _attn_implementation = "eager"

    class Model:
        config = Cfg()

    assert not avoid_mask_syncs(Model())
    assert not avoid_mask_syncs(None)


def test_nosync_mask_keeps_the_free_skip_when_there_is_no_padding_mask():
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, bidirectional_mask_function, sdpa_mask

    from threephase_core.attention import _register

    _register()
    nosync = ALL_MASK_ATTENTION_FUNCTIONS[NAME]
    kw = dict(
        batch_size=2,
        q_length=3,
        kv_length=1,
        mask_function=bidirectional_mask_function,
        allow_is_causal_skip=False,
        allow_is_bidirectional_skip=True,
    )  # as create_bidirectional_mask calls it
    assert sdpa_mask(attention_mask=None, **kw) is None
    assert nosync(attention_mask=None, **kw) is None  # no mask to check: no sync either way
    padded = torch.tensor([[True, True, False], [True, True, True]])
    kw["kv_length"] = 3
    assert nosync(attention_mask=padded, **kw) is not None
    assert nosync(attention_mask=torch.ones(2, 3, dtype=torch.bool), **kw) is not None  # never asks the device
