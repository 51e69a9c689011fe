"""Phase 3, fine-tuning: the encoder plus a 2-layer MLP head, trained with cross-entropy.

The head sees the pooled embedding through a weight-free LayerNorm (`head_input_norm`, see
classifier.py): without it a fresh head barely learns from unit-length embeddings in a short budget.

The encoder is trainable by default (the paper found this better); `freeze_encoder` trains
the head alone on embeddings computed once (fast). The best evaluation point is chosen on
the validation split only, with early stopping after `patience` epochs without a better
accuracy (however many evaluations per epoch); the test split is never seen here.

Companion-study options: `reinit_layers` re-draws the top encoder layers before training;
`lora` trains low-rank adapters (peft) instead of the encoder weights and merges them at the
end; `swa` averages the weights over the last part of training (torch.optim.swa_utils) and
the averaged model is the one kept.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from threephase_core.batching import Tokenized, bucketed_batches, collate, tokenize
from threephase_core.classifier import Classifier
from threephase_core.config import FTConfig
from threephase_core.training import PhaseContext, make_optimizer, make_scheduler, run_steps, steps_per_epoch


# ---- companion-study techniques ------------------------------------------------------
def encoder_layers(model) -> nn.ModuleList:
    """The transformer blocks of a SentenceTransformer's underlying model."""
    base = model.transformers_model
    base = getattr(base, "base_model", base)
    for name in ("encoder.layer", "encoder.layers", "layers", "transformer.layer", "h"):
        obj = base
        for part in name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return obj
    raise ValueError(f"cannot find the transformer layers of {type(base).__name__} to re-initialise")


def reinit_top_layers(model, n: int, seed: int = 0) -> list[int]:
    """Re-draw the top n layers: Linear/Embedding weights ~ N(0, initializer_range), biases 0,
    LayerNorm weights 1. Returns the indices of the re-drawn layers."""
    layers = encoder_layers(model)
    n = min(n, len(layers))
    std = getattr(model.transformers_model.config, "initializer_range", 0.02)
    gen = torch.Generator().manual_seed(seed)
    touched = list(range(len(layers) - n, len(layers)))
    with torch.no_grad():
        for i in touched:
            for module in layers[i].modules():
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    w = torch.randn(module.weight.shape, generator=gen) * std
                    module.weight.copy_(w.to(module.weight))
                    if getattr(module, "bias", None) is not None:
                        module.bias.zero_()
                elif isinstance(module, nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()
    return touched


def _transformer_module(model):
    from sentence_transformers.base.modules.transformer import Transformer

    for module in model:
        if isinstance(module, Transformer):
            return module
    raise ValueError("LoRA needs a model with a transformers backbone")


def apply_lora(model, cfg: FTConfig) -> dict:
    """Wrap the backbone with peft LoRA adapters; only adapter weights stay trainable."""
    from peft import LoraConfig, get_peft_model

    module = _transformer_module(model)
    targets = [t.strip() for t in cfg.lora_targets.split(",") if t.strip()]
    lora_cfg = LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, target_modules=targets
    )
    module.model = get_peft_model(module.model, lora_cfg)
    trainable = sum(p.numel() for p in module.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in module.model.parameters())
    return {"trainable_params": int(trainable), "total_params": int(total), "trainable_share": trainable / total}


def merge_lora(model) -> None:
    """Fold the adapters into the weights so the saved encoder is a plain model."""
    module = _transformer_module(model)
    if hasattr(module.model, "merge_and_unload"):
        module.model = module.model.merge_and_unload()


# ---- evaluation ----------------------------------------------------------------------
def accuracy(clf: Classifier, tok: Tokenized, labels: np.ndarray, batch_size: int) -> tuple[float, np.ndarray]:
    pred = clf.logits_for(tok, batch_size).argmax(-1)
    return float((pred == labels).mean()), pred


# ---- training ------------------------------------------------------------------------
def train_classifier(
    encoder, label_names: list[str], train_texts, train_labels, val_texts, val_labels, cfg: FTConfig, ctx: PhaseContext
) -> tuple[Classifier, dict]:
    """Fine-tune; returns the classifier at its best validation point and a history dict."""
    torch.manual_seed(ctx.seed)
    info: dict = {}
    if cfg.reinit_layers:
        info["reinit_layers"] = reinit_top_layers(encoder, cfg.reinit_layers, ctx.seed)
    clf = Classifier(
        encoder, label_names, cfg.head_hidden, cfg.dropout, ctx.max_length, ctx.chunk, cfg.head_input_norm
    ).to(ctx.device)
    tok_train = tokenize(encoder.tokenizer, list(train_texts), ctx.max_length, ctx.chunk, ctx.token_cache)
    tok_val = tokenize(encoder.tokenizer, list(val_texts), ctx.max_length, ctx.chunk, ctx.token_cache)
    y_np = np.array(train_labels, dtype=np.int64)  # a copy: pandas hands out read-only arrays, torch.from_numpy warns
    y_val = np.asarray(val_labels)
    eval_bs = max(cfg.batch_size, 128)
    # Validation is the leader's alone when the run is split over processes (distributed.py).
    info["before_ft_val_acc"] = accuracy(clf, tok_val, y_val, eval_bs)[0] if ctx.leader else None

    if cfg.lora:
        info["lora"] = apply_lora(encoder, cfg)
        ctx.progress.log("lora", **info["lora"])
    frozen = cfg.freeze_encoder and not cfg.lora
    if frozen:
        for p in encoder.parameters():
            p.requires_grad_(False)
    enc_params = [p for p in encoder.parameters() if p.requires_grad]
    groups = [{"params": list(clf.head.parameters()), "lr": cfg.head_lr}]
    if enc_params:
        groups.append({"params": enc_params, "lr": cfg.lr})
    params = [p for g in groups for p in g["params"]]

    rng = ctx.rng(4)
    n_batches = steps_per_epoch(len(y_np), cfg.batch_size)
    if frozen:  # embeddings once, then the head alone: minutes become seconds
        from threephase_core.training import encode

        cached = torch.from_numpy(encode(encoder, tok_train, ctx, eval_bs)).to(ctx.device)
        y_dev = torch.from_numpy(y_np).to(ctx.device)

        def make(epoch):
            order = np.array_split(rng.permutation(len(y_np)), n_batches)
            return [torch.from_numpy(i).to(ctx.device) for i in order]

        def step_loss(idx):
            return nn.functional.cross_entropy(clf.classify(cached[idx]), y_dev[idx])
    else:

        def make(epoch):
            return bucketed_batches(tok_train.lengths, cfg.batch_size, rng)

        def step_loss(idx):
            batch = collate(tok_train, idx, ctx.device, {"labels": y_np})
            return nn.functional.cross_entropy(clf(batch), batch["labels"])

    total = ctx.cap(cfg.epochs * n_batches)
    opt = make_optimizer(groups, ctx.device, cfg.weight_decay)
    sched = make_scheduler(opt, total, cfg.warmup_ratio, cfg.scheduler, floor=0.01)
    swa = _SWA(clf, opt, cfg, total) if cfg.swa else None
    eval_every = max(1, n_batches // max(1, cfg.evals_per_epoch))
    state = {"best": -1.0, "best_step": 0, "bad": 0, "snapshot": None, "history": []}

    def after_step(step: int, epoch: int) -> bool:
        if swa is not None:
            swa.on_step(step)
        if (step % eval_every and step != total) or not ctx.leader:
            return False  # the other processes hear the leader's decision from run_steps
        acc, _ = accuracy(clf, tok_val, y_val, eval_bs)
        state["history"].append({"step": step, "epoch": epoch, "val_acc": acc})
        ctx.progress.log("eval", step=step, epoch=epoch, val_acc=acc)
        if acc > state["best"]:
            # Under SWA the averaged model is the one kept, so no snapshot is needed.
            state.update(best=acc, best_step=step, bad=0, snapshot=None if swa is not None else _snapshot(clf))
        else:
            state["bad"] += 1
        # Patience is in epochs: stop once `patience` epochs of steps have passed since the best
        # point (with several evaluations per epoch, that is more than `patience` evaluations).
        return swa is None and state["bad"] > 0 and step - state["best_step"] >= cfg.patience * n_batches

    clf.train()
    if frozen:
        encoder.eval()
    steps = run_steps(ctx, "ft", cfg.epochs, total, make, step_loss, opt, sched, params, after_step)
    if swa is not None and swa.averaged is not None and ctx.leader:
        swa.finish()
        acc, _ = accuracy(clf, tok_val, y_val, eval_bs)
        info.update(swa_val_acc=acc, swa_updates=swa.updates)
        ctx.progress.log("eval", step=steps, val_acc=acc, swa=True)
        state.update(best=acc, best_step=steps)
    elif state["snapshot"] is not None:
        clf.load_state_dict(state["snapshot"])
    if cfg.lora:
        merge_lora(encoder)
    if frozen:
        for p in encoder.parameters():
            p.requires_grad_(True)
    info.update(best_val_acc=state["best"], best_step=state["best_step"], steps=steps, evals=state["history"])
    clf.eval()
    return clf, info


def _snapshot(clf: Classifier) -> dict:
    """A copy of every weight (trainable or not: LoRA and buffers included)."""
    return {k: v.detach().clone() for k, v in clf.state_dict().items()}


class _SWA:
    """Stochastic weight averaging over the last (1 - swa_start) of training, with a constant
    SWA learning rate of swa_lr_factor x the base rates (torch.optim.swa_utils). Before the
    start the usual schedule runs; after it SWALR's rate overrides it at every step."""

    def __init__(self, clf: Classifier, opt, cfg: FTConfig, total: int):
        from torch.optim.swa_utils import SWALR, AveragedModel

        self.clf, self.start = clf, int(total * cfg.swa_start)
        self.averaged = None
        self.updates = 0
        self.every = max(1, (total - self.start) // 20)  # ~20 snapshots in the average
        self._make_avg = lambda: AveragedModel(clf, use_buffers=False)
        self.sched = SWALR(
            opt,
            swa_lr=[g.get("initial_lr", g["lr"]) * cfg.swa_lr_factor for g in opt.param_groups],
            anneal_epochs=1,
            anneal_strategy="linear",
        )

    def on_step(self, step: int) -> None:
        if step < self.start:
            return
        if self.averaged is None:
            self.averaged = self._make_avg()
        self.sched.step()
        if (step - self.start) % self.every == 0:
            self.averaged.update_parameters(self.clf)
            self.updates += 1

    def finish(self) -> None:
        """Copy the averaged weights into the classifier. Parameters only are averaged: the
        encoder has no BatchNorm, and its integer buffers (position ids) cannot be averaged."""
        self.clf.load_state_dict(self.averaged.module.state_dict())
