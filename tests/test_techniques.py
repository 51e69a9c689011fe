"""Companion-study techniques: SWA averages weights, re-initialisation touches exactly the top
n layers, LoRA trains only adapter weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from threephase_core.config import FTConfig
from threephase_core.encoder import load_encoder
from threephase_core.phases.finetune import _SWA, apply_lora, encoder_layers, merge_lora, reinit_top_layers


def test_swa_keeps_the_average_of_the_weights_after_the_start():
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    swa = _SWA(model, opt, FTConfig(swa_start=0.5, swa_lr_factor=3.0), total=10)
    seen = []
    for step in range(1, 11):
        with torch.no_grad():
            model.weight.fill_(float(step))
            model.bias.fill_(-float(step))
        swa.on_step(step)
        if step >= 5:
            seen.append(float(step))
    assert swa.updates == len(seen) == 6
    assert opt.param_groups[0]["lr"] == 0.1 * 3.0  # the SWA learning rate took over
    swa.finish()
    expected = sum(seen) / len(seen)
    torch.testing.assert_close(model.weight, torch.full((2, 3), expected))
    torch.testing.assert_close(model.bias, torch.full((2,), -expected))


def test_reinit_changes_exactly_the_top_layers(tiny_model_path):
    model = load_encoder(tiny_model_path, "cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n_layers = len(encoder_layers(model))
    touched = reinit_top_layers(model, 1, seed=3)
    assert touched == [n_layers - 1]
    after = model.state_dict()
    top = f"layer.{n_layers - 1}."
    for key, old in before.items():
        if top in key:
            if key.endswith("LayerNorm.weight"):
                assert torch.all(after[key] == 1)
            elif key.endswith("bias"):
                assert torch.all(after[key] == 0)
            else:
                assert not torch.equal(after[key], old), key
        else:
            assert torch.equal(after[key], old), f"{key} should not change"


def test_lora_trains_only_adapter_weights(tiny_model_path):
    model = load_encoder(tiny_model_path, "cpu")
    info = apply_lora(model, FTConfig(lora=True, lora_r=4))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert info["trainable_params"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    lora_before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    feats = model.tokenizer(["one text", "another text here"], padding=True, return_tensors="pt")
    for _ in range(3):
        emb = model({"input_ids": feats["input_ids"], "attention_mask": feats["attention_mask"]})["sentence_embedding"]
        emb.pow(2).sum().backward()
        opt.step()
        opt.zero_grad()
    named = dict(model.named_parameters())
    assert all(torch.equal(named[n], v) for n, v in frozen.items())
    assert any(not torch.equal(named[n], v) for n, v in lora_before.items())
    merge_lora(model)
    assert not any("lora_" in n for n, _ in model.named_parameters())


def test_swa_learning_rate_is_a_multiple_of_the_configured_rate_not_the_warmed_up_one():
    from threephase_core.training import make_scheduler

    model = nn.Linear(3, 2)
    opt = torch.optim.AdamW([{"params": [model.weight], "lr": 1e-3}, {"params": [model.bias], "lr": 5e-5}])
    make_scheduler(opt, total_steps=1000, warmup_ratio=0.06)  # warm-up scales the live rates down
    swa = _SWA(model, opt, FTConfig(swa_start=0.75, swa_lr_factor=3.0), total=1000)
    for step in range(750, 760):
        opt.step()
        swa.on_step(step)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([3e-3, 1.5e-4])
