"""Contrastive losses that sentence-transformers does not ship, one per file.

The paper's own phase-2 loss is sentence-transformers' `CosineSimilarityLoss`, used as is.
"""

from threephase_core.losses.ntxent import NTXentLoss, nt_xent_loss
from threephase_core.losses.supcon import SupConLoss, supcon_loss

__all__ = ["SupConLoss", "supcon_loss", "NTXentLoss", "nt_xent_loss"]
