"""NT-Xent (SimCLR / unsupervised SimCSE) on two dropout views of each text."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def nt_xent_loss(view_a: Tensor, view_b: Tensor, temperature: float = 0.05) -> Tensor:
    """NT-Xent over 2n views: each view's positive is the other view of the same text, all
    other 2n - 2 views are negatives.
        loss_i = -log( exp(s(i, j(i))/t) / sum_{k != i} exp(s(i, k)/t) ),  s = cosine
    """
    n = view_a.shape[0]
    z = F.normalize(torch.cat([view_a, view_b]).float(), dim=-1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n, device=z.device), torch.arange(0, n, device=z.device)])
    return F.cross_entropy(logits, target)


class NTXentLoss(nn.Module):
    """Unsupervised contrastive loss of SimCLR / SimCSE, with dropout as the augmentation.

    Args:
        model: the SentenceTransformer being trained.
        temperature: softmax temperature (SimCSE uses 0.05).

    References:
        Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
        ICML 2020; Gao et al., "SimCSE", EMNLP 2021.

    Requirements:
        Texts only; no labels are used.

    Inputs:
        +----------------------+--------+
        | Texts                | Labels |
        +======================+========+
        | single text column   | none   |
        +----------------------+--------+

    Example:
        loss = NTXentLoss(model)(features)
    """

    def __init__(self, model, temperature: float = 0.05):
        super().__init__()
        self.model, self.temperature = model, temperature

    def forward(self, features: dict[str, Tensor], labels: Tensor | None = None) -> Tensor:
        n = features["input_ids"].shape[0]
        doubled = {k: torch.cat([v, v]) if isinstance(v, Tensor) else v for k, v in features.items()}
        emb = self.model(doubled)["sentence_embedding"]
        return nt_xent_loss(emb[:n], emb[n:], self.temperature)
