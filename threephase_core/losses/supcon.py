"""Supervised contrastive loss (SupCon) on two dropout views of each text."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def supcon_loss(embeddings: Tensor, labels: Tensor, temperature: float = 0.07) -> Tensor:
    """SupCon ("L_out") over a batch of views.

    embeddings: (n, d), any scale (normalised here); labels: (n,) class ids. Every other row
    with the same label is a positive of a row; rows with no positive are skipped.
        loss_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p/t) / sum_{a != i} exp(z_i.z_a/t) )
    """
    z = F.normalize(embeddings.float(), dim=-1)
    n = z.shape[0]
    logits = z @ z.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = positive.sum(1)
    has = (n_pos > 0).to(z.dtype)
    # Rows without a positive are left out of the mean; written without a data-dependent
    # branch so the GPU never waits for the host.
    mean_log_prob = log_prob.masked_fill(~positive, 0.0).sum(1) / n_pos.clamp(min=1)
    return -(mean_log_prob * has).sum() / has.sum().clamp(min=1.0)


class SupConLoss(nn.Module):
    """Supervised contrastive loss (Khosla et al., 2020) with dropout views.

    Each text is encoded twice in one forward pass (dropout makes the two views differ); all
    views of the same class are positives of each other, every other view is a negative.

    Args:
        model: the SentenceTransformer being trained.
        temperature: softmax temperature (0.07 in the paper).

    References:
        Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020, arXiv:2004.11362.

    Requirements:
        Class labels; batches with several texts per class (larger batches help).

    Inputs:
        +----------------------+--------------+
        | Texts                | Labels       |
        +======================+==============+
        | single text column   | class id     |
        +----------------------+--------------+

    Example:
        loss = SupConLoss(model)(features, labels)   # features: one collated batch
    """

    def __init__(self, model, temperature: float = 0.07):
        super().__init__()
        self.model, self.temperature = model, temperature

    def forward(self, features: dict[str, Tensor], labels: Tensor) -> Tensor:
        doubled = {k: torch.cat([v, v]) if isinstance(v, Tensor) else v for k, v in features.items()}
        emb = self.model(doubled)["sentence_embedding"]
        return supcon_loss(emb, torch.cat([labels, labels]), self.temperature)
