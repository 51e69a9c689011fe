"""Phase 2, contrastive learning with a Siamese encoder.

Default (the paper's): imbalance-corrected training texts -> unique pairs labelled 1 (same
class) or 0, balanced 50/50 -> sentence-transformers `CosineSimilarityLoss`
(MSE between cos(u, v) and the label). Both sides of a batch of pairs go through the encoder
in one forward pass (one launch sequence instead of two: measured faster on GPU).
Options from the companion study: `supcon` (supervised, dropout views) and `simclr`
(unsupervised NT-Xent, dropout views, no labels).
"""

from __future__ import annotations

import numpy as np
import torch

from threephase_core.batching import bucketed_batches, collate, tokenize
from threephase_core.config import CLConfig
from threephase_core.imbalance import class_sizes, correct_imbalance, corrected_counts
from threephase_core.losses import NTXentLoss, SupConLoss
from threephase_core.pairs import build_pairs, pair_multiplier
from threephase_core.training import PhaseContext, fit, steps_per_epoch, unique_params


def prepare_pairs(texts, labels, n_classes: int, cfg: CLConfig, seed: int) -> dict:
    """The phase-2 data: corrected texts and their pairs, with the counts the UI shows."""
    r_min, r_max = cfg.ratios()
    labels = np.asarray(labels)
    sizes = class_sizes(labels)  # keyed by class id, or by label path for hierarchical labels
    ctexts, clabels = correct_imbalance(list(texts), labels, r_min, r_max, seed)
    a, b, scores = build_pairs(
        ctexts, clabels, pair_multiplier(cfg.augmentation, n_classes), seed, cfg.max_pairs, cfg.positives
    )
    return {
        "texts": ctexts,
        "labels": clabels,
        "a": a,
        "b": b,
        "scores": scores,
        "counts_before": sizes,
        "counts_after": corrected_counts(sizes, r_min, r_max),
    }


def merged_pair_embeddings(model, fa: dict, fb: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """u, v for a batch of pairs from one forward pass over both sides padded to one width."""
    width = max(fa["input_ids"].shape[1], fb["input_ids"].shape[1])

    def pad(t: torch.Tensor, value: int) -> torch.Tensor:
        return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)

    ids = torch.cat([pad(fa["input_ids"], 0), pad(fb["input_ids"], 0)])
    mask = torch.cat([pad(fa["attention_mask"], 0), pad(fb["attention_mask"], 0)])
    emb = model({"input_ids": ids, "attention_mask": mask})["sentence_embedding"]
    n = fa["input_ids"].shape[0]
    return emb[:n], emb[n:]


class PairBatches:
    """Length-bucketed batches of (a, b, score) pairs, reshuffled every epoch."""

    def __init__(self, model, pairs: dict, batch_size: int, ctx: PhaseContext, salt: int = 2):
        self.ctx, self.batch_size = ctx, batch_size
        self.tok_a = tokenize(model.tokenizer, pairs["a"], ctx.max_length, cache=ctx.token_cache)
        self.tok_b = tokenize(model.tokenizer, pairs["b"], ctx.max_length, cache=ctx.token_cache)
        self.scores = np.asarray(pairs["scores"], dtype=np.float32)
        self.lengths = np.maximum(self.tok_a.lengths, self.tok_b.lengths)
        self.rng = ctx.rng(salt)

    def __len__(self) -> int:
        return steps_per_epoch(len(self.scores), self.batch_size)

    def epoch(self, epoch: int) -> list:
        return bucketed_batches(self.lengths, self.batch_size, self.rng)

    def loss(self, loss_fn, model, idx) -> torch.Tensor:
        fa = collate(self.tok_a, idx, self.ctx.device, {"scores": self.scores})
        fb = collate(self.tok_b, idx, self.ctx.device)
        u, v = merged_pair_embeddings(model, fa, fb)
        return loss_fn.compute_loss_from_embeddings([u.float(), v.float()], fa["scores"])


def pair_phase(phases, cfg: CLConfig) -> str | None:
    """The first of `phases` that trains on pairs (Joint, or CL with the cosine pair loss;
    SupCon and SimCLR use views instead), or None."""
    return next((p for p in phases if p == "joint" or (p == "cl" and cfg.loss == "cosine")), None)


def checked_pairs(texts, labels, n_classes: int, cfg: CLConfig, seed: int, phase: str = "phase 2") -> dict:
    """`prepare_pairs`, refusing data that gives no pairs (DataError). The runner calls it before
    the first phase, so a recipe that would fail here fails before the DAE has trained."""
    from threephase_core.data import DataError

    pairs = prepare_pairs(texts, labels, n_classes, cfg, seed)
    if len(pairs["scores"]) == 0:
        raise DataError(
            f"{phase} would find no positive/negative pairs in the {len(texts)} training texts: it needs a class "
            "with at least two different texts and at least two classes (raise max_train_rows, or add texts)"
        )
    return pairs


def train_contrastive(
    model, texts, labels, n_classes: int, cfg: CLConfig, ctx: PhaseContext, pairs: dict | None = None
) -> dict:
    """Train `model` in place; returns phase-2 statistics (class counts, number of pairs).
    `pairs`: `checked_pairs` of the same inputs, when the caller already made them."""
    if cfg.loss in ("supcon", "simclr"):
        return _train_views(model, texts, labels, cfg, ctx)
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    pairs = pairs or checked_pairs(texts, labels, n_classes, cfg, ctx.seed)
    loss_fn = CosineSimilarityLoss(model)
    batches = PairBatches(model, pairs, cfg.batch_size, ctx)
    model.train()
    fit(
        ctx,
        "cl",
        cfg.epochs,
        len(batches),
        batches.epoch,
        lambda idx: batches.loss(loss_fn, model, idx),
        unique_params(model),
        cfg.lr,
    )
    return _stats(pairs)


def _stats(pairs: dict) -> dict:
    """Counts for metrics.json; `score_counts` shows the hierarchical scores (0.5: only the top
    level of two matches)."""
    s = pairs["scores"]
    values, counts = np.unique(np.round(s, 4), return_counts=True)
    return {
        "counts_before": pairs["counts_before"],
        "counts_after": pairs["counts_after"],
        "pairs": int(len(s)),
        "positive_pairs": int((s == 1.0).sum()),
        "score_counts": {f"{v:g}": int(n) for v, n in zip(values.tolist(), counts.tolist())},
    }


def _train_views(model, texts, labels, cfg: CLConfig, ctx: PhaseContext) -> dict:
    """SupCon (labels, imbalance-corrected) or SimCLR (no labels) on dropout views. Hierarchical
    labels (rows of levels) count as their finest class: SupCon's positives share the whole path."""
    labels, paths = np.asarray(labels), None
    if labels.ndim == 2:
        paths, labels = np.unique(labels, axis=0, return_inverse=True)
        labels = labels.reshape(-1)
    if cfg.loss == "supcon":
        r_min, r_max = cfg.ratios()
        texts, labels = correct_imbalance(list(texts), labels, r_min, r_max, ctx.seed)
        loss_fn = SupConLoss(model, cfg.temperature)
    else:
        loss_fn = NTXentLoss(model, cfg.temperature)
    tok = tokenize(model.tokenizer, list(texts), ctx.max_length, cache=ctx.token_cache)
    labels = np.asarray(labels, dtype=np.int64)
    rng = ctx.rng(3)
    n_batches = steps_per_epoch(len(texts), cfg.batch_size)
    # Random (not length-sorted) batches: in-batch negatives should be a fair sample.

    def make(epoch):
        return np.array_split(rng.permutation(len(texts)), n_batches)

    def step_loss(idx):
        feats = collate(tok, idx, ctx.device, {"labels": labels})
        return loss_fn({"input_ids": feats["input_ids"], "attention_mask": feats["attention_mask"]}, feats["labels"])

    model.train()
    fit(ctx, "cl", cfg.epochs, n_batches, make, step_loss, unique_params(model), cfg.lr)
    counts = {int(c): int(n) for c, n in zip(*np.unique(labels, return_counts=True))}
    if paths is not None:  # keyed by label path, as the pair statistics are
        counts = {tuple(paths[c].tolist()): n for c, n in counts.items()}
    return {"loss": cfg.loss, "texts": len(texts), "counts_after": counts}
