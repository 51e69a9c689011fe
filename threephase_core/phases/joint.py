"""The paper's Joint variant: one model trained on L_CL + w * L_DAE, summed at every step.

Each step takes one DAE batch (noisy text -> original) and one batch of labelled pairs and
back-propagates the weighted sum of the two losses (the original code alternated the losses
and gave every pair the label 0; we do what the paper says). The shorter stream is cycled.
Learning rate, epochs and pair batch size come from the `cl` section; the DAE batch size,
noise, bottleneck and the weight w (`dae.joint_weight`) from `dae`.

Why a weight: the two terms live on different scales. L_DAE is a cross-entropy over the
vocabulary (about 10 nats at the start with the packaged MiniLM, whose decoder head starts
untrained), L_CL a mean squared error of cosines (below 1). Unweighted, the sum is nearly all
L_DAE. The default w is chosen on validation (bench/phase_effect.py --sweep joint).
"""

from __future__ import annotations

from threephase_core.config import CLConfig, DAEConfig
from threephase_core.phases.contrastive import PairBatches, _stats, checked_pairs
from threephase_core.phases.dae import DAEBatches, dae_loss_on, make_dae_loss, split_decoder_params
from threephase_core.training import PhaseContext, fit


def train_joint(
    model, texts, labels, n_classes: int, dae: DAEConfig, cl: CLConfig, ctx: PhaseContext, pairs: dict | None = None
) -> dict:
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    dae_loss = make_dae_loss(model, dae, ctx.cuda).to(ctx.device)
    cl_loss = CosineSimilarityLoss(model)
    pairs = pairs or checked_pairs(texts, labels, n_classes, cl, ctx.seed, phase="the Joint phase")
    pair_batches = PairBatches(model, pairs, cl.batch_size, ctx)
    dae_batches = DAEBatches(model, texts, dae, ctx, loss_fn=dae_loss)
    n_steps = max(len(pair_batches), len(dae_batches))

    def make(epoch: int) -> list:
        p, d = pair_batches.epoch(epoch), []
        while len(d) < n_steps:  # each pass over the texts draws fresh noise (never a reused copy)
            d.extend(dae_batches.epoch(epoch))
        return [(p[i % len(p)], d[i]) for i in range(n_steps)]

    pooled = dae.bottleneck == "pooled"

    def loss(item):
        idx, dae_item = item
        cl_term = pair_batches.loss(cl_loss, model, idx)
        if not dae.joint_weight:
            return cl_term
        return cl_term + dae.joint_weight * dae_loss_on(dae_loss, dae_batches.features(dae_item), pooled)

    dae_loss.train()
    shared, own = split_decoder_params(model, dae_loss, dae)
    fit(ctx, "joint", cl.epochs, n_steps, make, loss, shared, cl.lr, extra_groups=own)
    return _stats(pairs)  # the DAE decoder goes with this function's locals
