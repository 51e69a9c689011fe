"""The Joint phase's weighted sum L_CL + w * L_DAE (`dae.joint_weight`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from threephase_core.config import CLConfig, DAEConfig
from threephase_core.encoder import load_encoder
from threephase_core.phases.joint import train_joint
from threephase_core.progress import Progress
from threephase_core.training import PhaseContext

TEXTS = [f"{w} request number {i} about {w}" for i in range(12) for w in ("refund", "password", "delivery")]
LABELS = np.array([k for _ in range(12) for k in range(3)])


def _first_loss(tiny_model_path, weight: float) -> float:
    torch.manual_seed(0)  # the decoder's fresh cross-attention and the dropout masks: the same in every call
    model = load_encoder(tiny_model_path, "cpu")
    ctx = PhaseContext(device="cpu", seed=0, max_steps=1, progress=Progress())
    train_joint(model, TEXTS, LABELS, 3, DAEConfig(batch_size=8, joint_weight=weight), CLConfig(batch_size=8), ctx)
    return ctx.progress.losses["joint"][0][1]


def test_the_dae_term_is_weighted(tiny_model_path):
    """The cosine pair loss is a squared error of cosines (at most 4); the DAE cross-entropy of an
    untrained decoder is near ln(vocabulary) ~ 10. The logged step loss shows which terms it holds."""
    cl_only = _first_loss(tiny_model_path, 0.0)
    full = _first_loss(tiny_model_path, 1.0)
    tenth = _first_loss(tiny_model_path, 0.1)
    assert cl_only < 4 < 8 < full
    assert tenth == pytest.approx(cl_only + 0.1 * (full - cl_only), rel=1e-4)  # the same batch, the same terms
