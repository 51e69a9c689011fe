"""One typed configuration per run: `RunConfig` with a section per phase.

A run's whole configuration is one object that is printed, saved as `config.json` in the
run folder and reloaded from it. Settings are changed with `key=value` overrides
(`ft.lr=3e-5`, `seed=2`) that are type-checked against the dataclass fields, so a typo
or a wrong type is a clear `ConfigError`, never a silent default.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMBALANCE_PRESETS: dict[str, tuple[float, float]] = {
    "normal": (1.5, 4.0),
    "extra": (1.5, 20.0),
    "none": (1.0, 1.0),
}
PHASE_NAMES = ("dae", "cl", "joint", "ft")


class ConfigError(ValueError):
    """A setting that does not exist or does not parse; the message says which and why."""


@dataclass
class DAEConfig:
    """Phase 1, TSDAE: reconstruct each sentence from the pooled vector of a noisy copy."""

    epochs: int = 1
    lr: float = 3e-5
    batch_size: int = 32
    noise_ratio: float = 0.6  # probability of deleting each word, drawn afresh every epoch
    decoder: str = ""  # empty: the encoder's own checkpoint, weights tied (TSDAE default)
    fast_loss: bool = True  # vocabulary projection only at real target tokens (same loss, less work)


@dataclass
class CLConfig:
    """Phase 2, supervised contrastive learning on (imbalance-corrected) text pairs."""

    epochs: int = 1
    lr: float = 2e-5
    batch_size: int = 32
    imbalance: str = "normal"  # preset name: normal | extra | none
    min_ratio: float = -1.0  # < 0: take it from the preset
    max_ratio: float = -1.0
    augmentation: int = 2  # pair multiplier = augmentation * floor(log2(n_classes))
    loss: str = "cosine"  # cosine (the paper's) | supcon | simclr
    temperature: float = 0.07  # supcon / simclr only
    max_pairs: int = 0  # 0: no cap

    def ratios(self) -> tuple[float, float]:
        """(r_min, r_max): explicit values win over the preset."""
        if self.imbalance not in IMBALANCE_PRESETS:
            raise ConfigError(
                f"cl.imbalance={self.imbalance!r} is not a preset; choose one of {sorted(IMBALANCE_PRESETS)}"
            )
        r_min, r_max = IMBALANCE_PRESETS[self.imbalance]
        return (self.min_ratio if self.min_ratio >= 0 else r_min, self.max_ratio if self.max_ratio >= 0 else r_max)


@dataclass
class FTConfig:
    """Phase 3, fine-tuning: a 2-layer MLP head on the encoder, best epoch on validation."""

    epochs: int = 5
    lr: float = 5e-5  # encoder learning rate
    head_lr: float = 1e-3  # the freshly drawn head learns faster than the pretrained encoder
    batch_size: int = 32
    head_hidden: int = 256
    head_input_norm: bool = True  # parameter-free LayerNorm on the embedding before the head (see classifier.py)
    dropout: float = 0.1
    freeze_encoder: bool = False
    patience: int = 2  # epochs without a better validation accuracy before stopping
    scheduler: str = "linear"  # linear | cosine | constant (after warm-up)
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    evals_per_epoch: int = 1  # validation passes per epoch (more for big data)
    # Companion-study techniques.
    swa: bool = False
    swa_start: float = 0.75  # fraction of training after which weights are averaged
    swa_lr_factor: float = 3.0
    reinit_layers: int = 0  # top encoder layers re-drawn before FT
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    lora_targets: str = "query,value"


@dataclass
class RunConfig:
    """Everything a run needs; saved first in the run folder as `config.json`."""

    dataset: str = "demo"
    model: str = "minilm"  # minilm (packaged all-MiniLM-L6-v2) | tiny (random, for tests) | path | hub id
    recipe: str = "three_phase"
    phases: tuple[str, ...] = ()  # filled from the recipe
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    max_steps: int = 0  # >0 caps every phase (smoke runs)
    max_length: int = 128
    long_text: str = "truncate"  # truncate | chunk (mean of chunk embeddings, for FT and embeddings)
    max_train_rows: int = 0  # >0: stratified row cap on train (CPU runs of big data)
    embed_rows: int = 5000  # validation rows whose embeddings are saved after each phase
    text_column: str = "text"
    label_column: str = "label"
    val_fraction: float = 0.1  # carved from train when the dataset has no validation split
    test_fraction: float = 0.1
    dae: DAEConfig = field(default_factory=DAEConfig)
    cl: CLConfig = field(default_factory=CLConfig)
    ft: FTConfig = field(default_factory=FTConfig)

    # ---- overrides -------------------------------------------------------------------
    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> "RunConfig":
        """A copy with `key=value` (or {key: value}) settings applied and type-checked."""
        cfg = from_dict(to_dict(self))
        items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
        for key, value in items:
            _set(cfg, key, value)
        return cfg

    def validate(self) -> "RunConfig":
        """Raise ConfigError on values that cannot work; return self."""
        if not self.phases:
            raise ConfigError("no phases: pick a recipe (see `python -m threephase_core recipes`)")
        if self.seed < 0 or self.max_steps < 0 or self.max_train_rows < 0:
            raise ConfigError("seed, max_steps and max_train_rows must be >= 0")
        if self.max_length < 8:
            raise ConfigError(f"max_length={self.max_length} is too short; use at least 8 tokens")
        if self.ft.reinit_layers and (self.ft.lora or self.ft.freeze_encoder):
            raise ConfigError("ft.reinit_layers with ft.lora or ft.freeze_encoder would leave the re-drawn layers untrained")
        unknown = [p for p in self.phases if p not in PHASE_NAMES]
        if unknown:
            raise ConfigError(f"unknown phase(s) {unknown}; phases are {list(PHASE_NAMES)}")
        if self.phases and self.phases[-1] != "ft":
            raise ConfigError("a recipe must end with the 'ft' phase (it makes the classifier)")
        self.cl.ratios()
        if self.cl.loss not in ("cosine", "supcon", "simclr"):
            raise ConfigError(f"cl.loss={self.cl.loss!r}; choose cosine, supcon or simclr")
        if not 0.0 <= self.dae.noise_ratio < 1.0:
            raise ConfigError(f"dae.noise_ratio={self.dae.noise_ratio} must be in [0, 1)")
        if self.ft.scheduler not in ("linear", "cosine", "constant"):
            raise ConfigError(f"ft.scheduler={self.ft.scheduler!r}; choose linear, cosine or constant")
        if self.long_text not in ("truncate", "chunk"):
            raise ConfigError(f"long_text={self.long_text!r}; choose truncate or chunk")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device={self.device!r}; choose auto, cpu or cuda")
        for section in (self.dae, self.cl, self.ft):
            if section.batch_size < 1 or section.epochs < 1 or section.lr <= 0:
                raise ConfigError("batch_size and epochs must be >= 1 and lr > 0 in every phase")
        if not 0 < self.val_fraction < 0.5 or not 0 < self.test_fraction < 0.5:
            raise ConfigError("val_fraction and test_fraction must be between 0 and 0.5")
        return self


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["phases"] = list(cfg.phases)
    return d


def from_dict(d: dict[str, Any]) -> RunConfig:
    """Rebuild a RunConfig; unknown keys raise ConfigError (a config from a newer version)."""
    d = dict(d)
    sections = {}
    for name, cls in (("dae", DAEConfig), ("cl", CLConfig), ("ft", FTConfig)):
        sub = d.pop(name, {}) or {}
        known = {f.name for f in dataclasses.fields(cls)}
        bad = set(sub) - known
        if bad:
            raise ConfigError(f"unknown {name} setting(s): {sorted(bad)}")
        sections[name] = cls(**sub)
    known = {f.name for f in dataclasses.fields(RunConfig)}
    bad = set(d) - known
    if bad:
        raise ConfigError(f"unknown setting(s): {sorted(bad)}")
    d["phases"] = tuple(d.get("phases", ()))
    return RunConfig(**d, **sections)


def save_config(cfg: RunConfig, path: Path) -> None:
    from threephase_core.runstore import write_json_atomic

    write_json_atomic(path, to_dict(cfg))


def load_config(path: Path) -> RunConfig:
    return from_dict(json.loads(Path(path).read_text()))


def _split(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key=value (e.g. ft.lr=3e-5)")
    key, value = item.split("=", 1)
    return key.strip(), value.strip()


def _coerce(value: Any, typ: Any, key: str) -> Any:
    if not isinstance(value, str):
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if typ == tuple[str, ...] and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        if isinstance(value, bool) and typ is not bool:
            raise ConfigError(f"{key}: expected {getattr(typ, '__name__', typ)}, got {value!r}")
        if isinstance(typ, type) and isinstance(value, typ):
            return value
        raise ConfigError(f"{key}: expected {getattr(typ, '__name__', typ)}, got {value!r}")
    try:
        if typ is bool:
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            return int(float(value)) if float(value).is_integer() else int(value)
        if typ is float:
            return float(value)
        if typ == tuple[str, ...]:
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value
    except ValueError:
        raise ConfigError(f"{key}={value!r} is not a valid {getattr(typ, '__name__', typ)}") from None


def _set(cfg: RunConfig, key: str, value: Any) -> None:
    target: Any = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        if target is not cfg or part not in ("dae", "cl", "ft"):
            raise ConfigError(f"unknown section {part!r} in {key!r}; sections are dae, cl, ft")
        target = getattr(target, part)
    hints = typing.get_type_hints(type(target))
    name = parts[-1]
    if name not in hints:
        raise ConfigError(f"unknown setting {key!r}; known: {sorted(hints)}")
    if dataclasses.is_dataclass(hints[name]):
        raise ConfigError(f"{key!r} is a section, not a setting; set one of its fields, e.g. {name}.lr=3e-5")
    setattr(target, name, _coerce(value, hints[name], key))
