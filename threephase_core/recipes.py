"""Recipes: a name for an ordered list of phases plus setting changes.

The paper's method and ablations, and the companion study's techniques, are data here, not
code paths: each recipe is phases + overrides applied on top of the user's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from threephase_core.config import ConfigError, RunConfig


@dataclass(frozen=True)
class Recipe:
    name: str
    phases: tuple[str, ...]
    description: str
    overrides: dict = field(default_factory=dict)
    group: str = "paper"


_ALL = [
    Recipe("three_phase", ("dae", "cl", "ft"), "3-Phase: DAE -> CL (normal imbalance correction) -> FT"),
    Recipe("joint", ("joint", "ft"), "Joint: one model on L_DAE + L_CL summed, then FT"),
    Recipe("dae_ft", ("dae", "ft"), "Ablation: DAE -> FT"),
    Recipe("cl_ft", ("cl", "ft"), "Ablation: CL -> FT"),
    Recipe(
        "extra_imb",
        ("dae", "cl", "ft"),
        "3-Phase with extra imbalance correction (1.5, 20)",
        {"cl.imbalance": "extra"},
    ),
    Recipe("no_imb", ("dae", "cl", "ft"), "3-Phase without imbalance correction (1, 1)", {"cl.imbalance": "none"}),
    Recipe("ft", ("ft",), "FT only: the classical baseline (pretrained encoder, trainable)"),
    # Companion study (MASSIVE): baseline settings and techniques.
    Recipe(
        "report_baseline",
        ("ft",),
        "Study baseline: FT, lr 1e-4, cosine to 1e-6 over 10 epochs, batch 16",
        {"ft.lr": 1e-4, "ft.scheduler": "cosine", "ft.epochs": 10, "ft.batch_size": 16, "ft.patience": 10},
        "study",
    ),
    Recipe("swa", ("ft",), "FT with stochastic weight averaging over the last 25% (3x lr)", {"ft.swa": True}, "study"),
    Recipe("reinit", ("ft",), "FT after re-initialising the top 2 encoder layers", {"ft.reinit_layers": 2}, "study"),
    Recipe(
        "swa_reinit",
        ("ft",),
        "FT with SWA after re-initialising the top 2 layers",
        {"ft.swa": True, "ft.reinit_layers": 2},
        "study",
    ),
    Recipe(
        "lora",
        ("ft",),
        "FT with LoRA adapters (peft, r=8) instead of full encoder training",
        {"ft.lora": True, "ft.lr": 5e-4},
        "study",
    ),
    Recipe(
        "supcon",
        ("cl", "ft"),
        "SupCon on dropout views, then a classifier on the frozen encoder",
        {"cl.loss": "supcon", "ft.freeze_encoder": True},
        "study",
    ),
    Recipe(
        "simclr",
        ("cl", "ft"),
        "Unsupervised SimCLR/SimCSE (NT-Xent), then a classifier on the frozen encoder",
        {"cl.loss": "simclr", "cl.temperature": 0.05, "ft.freeze_encoder": True},
        "study",
    ),
]
RECIPES: dict[str, Recipe] = {r.name: r for r in _ALL}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    return RECIPES[name]


def build_config(recipe: str, overrides: list[str] | dict | None = None, base: RunConfig | None = None) -> RunConfig:
    """The config of a run: defaults (or `base`), then the recipe's changes, then the user's."""
    r = get_recipe(recipe)
    cfg = (base or RunConfig()).with_overrides(dict(r.overrides))
    cfg.recipe, cfg.phases = r.name, r.phases
    if overrides:
        cfg = cfg.with_overrides(overrides)
        cfg.recipe, cfg.phases = r.name, r.phases
    return cfg.validate()
