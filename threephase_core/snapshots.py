"""Embeddings of fixed sets of texts after each phase, saved with the phase's cluster metrics.

The workbench shows what each phase does to the classes: the same texts are embedded after
loading (`base`) and after every phase, written to the run folder and scored there.

- Validation texts: at most `embed_rows`, a seeded random sample (as runs have always kept).
- Training texts: at most `embed_train_rows`, a stratified seeded sample (`stratified_rows`);
  they are the reference set of the train-referenced k-NN accuracy and the training points
  of the Embeddings page. 0 keeps none (and no train-referenced k-NN).
- After FT, the classifier's class probabilities of both sets (`proba`).
Metrics per phase (`projection.cluster_quality`) go to ``metrics["phases"][phase]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from threephase_core.batching import Tokenized, tokenize
from threephase_core.training import PhaseContext, encode


@dataclass
class TextSet:
    """Texts whose embeddings are kept after every phase; `rows`: positions in their split."""

    texts: list[str]
    labels: np.ndarray
    rows: np.ndarray
    tok: Tokenized


def stratified_rows(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Sorted positions of about `cap` rows keeping each class's share (rounded, at least one
    row per class), drawn with `seed`; all rows when there are no more than `cap`."""
    labels = np.asarray(labels)
    n = len(labels)
    if cap <= 0:
        return np.zeros(0, dtype=np.int64)
    if n <= cap:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        take = min(len(members), max(1, int(round(len(members) * cap / n))))
        picked.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def validation_set(df: pd.DataFrame, cap: int, seed: int, tokenizer, ctx: PhaseContext) -> TextSet:
    """The validation texts kept per phase: all, or a seeded sample of `cap` (pandas' sample,
    so runs keep the rows they always kept)."""
    positions = np.arange(len(df))
    if len(df) > cap:
        positions = np.asarray(pd.Series(positions).sample(n=cap, random_state=seed).to_numpy())
    return _text_set(df, positions, tokenizer, ctx)


def train_set(df: pd.DataFrame, cap: int, seed: int, tokenizer, ctx: PhaseContext) -> TextSet | None:
    """The training texts kept per phase (`stratified_rows`), or None when `cap` is 0."""
    if cap <= 0 or len(df) == 0:
        return None
    return _text_set(df, stratified_rows(df["label"].to_numpy(), cap, seed), tokenizer, ctx)


def _text_set(df: pd.DataFrame, positions: np.ndarray, tokenizer, ctx: PhaseContext) -> TextSet:
    texts = df["text"].iloc[positions].tolist()
    tok = tokenize(tokenizer, texts, ctx.max_length, ctx.chunk, ctx.token_cache)
    return TextSet(texts, df["label"].to_numpy()[positions], np.asarray(positions, dtype=np.int64), tok)


def probabilities(clf, tok: Tokenized) -> np.ndarray:
    """Softmax of the classifier's logits, float32, one row per text."""
    return torch.softmax(torch.from_numpy(clf.logits_for(tok)).float(), dim=-1).numpy()


def snapshot(
    run, model, ctx: PhaseContext, phase: str, val: TextSet, train: TextSet | None, label_names: list[str], clf=None
) -> dict:
    """Embed both sets with `model`, save them (with `proba` when `clf` is given) and return
    the phase's cluster metrics."""
    from threephase_core.projection import cluster_quality

    val_emb = encode(model, val.tok, ctx)
    run.save_embeddings(
        phase, val_emb, val.labels, val.texts, proba=None if clf is None else probabilities(clf, val.tok)
    )
    train_emb = None
    if train is not None:
        train_emb = encode(model, train.tok, ctx)
        run.save_embeddings(
            phase,
            train_emb,
            train.labels,
            train.texts,
            split="train",
            rows=train.rows,
            proba=None if clf is None else probabilities(clf, train.tok),
        )
    return cluster_quality(
        val_emb,
        val.labels,
        reference=train_emb,
        reference_labels=None if train is None else train.labels,
        label_names=label_names,
    )
