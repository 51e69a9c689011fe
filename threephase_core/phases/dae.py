"""Phase 1, DAE (TSDAE): adapt the encoder to the data by reconstructing each sentence from
the pooled vector of a noisy copy.

Noise deletes each word with probability `noise_ratio`, drawn afresh every epoch. The
decoder is the encoder's own checkpoint as a causal LM with cross-attention on the pooled
vector, its weights tied to the encoder (sentence-transformers `DenoisingAutoEncoderLoss`).
For encoders with no decoder class in transformers (MPNet), `dae.decoder` names another
checkpoint of the same hidden size, untied. No labels are used.
"""
from __future__ import annotations

from threephase_core.batching import bucketed_batches, collate, tokenize
from threephase_core.config import DAEConfig
from threephase_core.noise import delete_words_batch
from threephase_core.training import PhaseContext, fit, steps_per_epoch, unique_params


def make_dae_loss(model, cfg: DAEConfig):
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    if cfg.decoder:
        return DenoisingAutoEncoderLoss(model, decoder_name_or_path=cfg.decoder, tie_encoder_decoder=False)
    return DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)


class DAEBatches:
    """Per epoch: fresh noise for every text, then length-bucketed (source, target) batches."""

    def __init__(self, model, texts: list[str], cfg: DAEConfig, ctx: PhaseContext, salt: int = 1):
        self.tokenizer, self.texts, self.cfg, self.ctx = model.tokenizer, list(texts), cfg, ctx
        self.targets = tokenize(self.tokenizer, self.texts, ctx.max_length)
        self.rng = ctx.rng(salt)

    def __len__(self) -> int:
        return steps_per_epoch(len(self.texts), self.cfg.batch_size)

    def epoch(self, epoch: int) -> list:
        noisy = delete_words_batch(self.texts, self.cfg.noise_ratio, self.rng)
        source = tokenize(self.tokenizer, noisy, self.ctx.max_length)
        return [(source, idx) for idx in bucketed_batches(self.targets.lengths, self.cfg.batch_size, self.rng)]

    def features(self, item) -> list[dict]:
        source, idx = item
        return [collate(source, idx, self.ctx.device), collate(self.targets, idx, self.ctx.device)]


def dae_loss_on(loss_fn, feats: list[dict]):
    src, tgt = ({"input_ids": f["input_ids"], "attention_mask": f["attention_mask"]} for f in feats)
    return loss_fn([src, tgt], None)


def train_dae(model, texts: list[str], cfg: DAEConfig, ctx: PhaseContext) -> int:
    """Train `model` in place as a denoising autoencoder; returns the number of steps."""
    loss_fn = make_dae_loss(model, cfg).to(ctx.device)
    loss_fn.train()
    batches = DAEBatches(model, texts, cfg, ctx)
    steps = fit(
        ctx, "dae", cfg.epochs, len(batches), batches.epoch, lambda item: dae_loss_on(loss_fn, batches.features(item)),
        unique_params(loss_fn), cfg.lr, warmup_ratio=0.0, schedule="constant",
    )
    del loss_fn  # the decoder goes; the encoder keeps the trained (tied) weights
    return steps
