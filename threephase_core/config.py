"""One typed configuration per run: `RunConfig` with a section per phase.

A run's whole configuration is one object that is printed, saved as `config.json` in the
run folder and reloaded from it. Settings are changed with `key=value` overrides
(`ft.lr=3e-5`, `seed=2`) that are type-checked against the dataclass fields, so a typo
or a wrong type is a clear `ConfigError`, never a silent default.
"""
from __future__ import annotations

import dataclasses
import json
import math
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
    joint_weight: float = 1.0  # Joint only: weight of L_DAE in L_CL + joint_weight * L_DAE


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
    positives: str = "paper"  # balanced: positive pairs per class in proportion to its size | paper: ~ size squared

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
    embed_train_rows: int = 2000  # training rows (stratified, seeded) whose embeddings are saved after each phase
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
        """Raise ConfigError on values that cannot work; return self.

        Everything a run would trip over later is checked here, before any training, so a bad
        value costs one message instead of a traceback (or a phase that fails after the earlier
        ones have trained). Each message names the setting as it is typed (`ft.head_lr`).
        Ranges follow what each setting means where it is used: 0 is kept where it has a
        documented meaning (`cl.max_pairs=0` no cap, `ft.patience=0` stop at the first
        evaluation without a gain, a negative `cl.min_ratio`/`cl.max_ratio` takes the preset).
        """
        if not self.phases:
            raise ConfigError("no phases: pick a recipe (see `python -m threephase_core recipes`)")
        _check_types(self)  # the comparisons below need numbers
        if not self.model.strip():  # else the run would record "" while loading the default model
            raise ConfigError("model is empty; give minilm (the packaged default), tiny, a model folder or a hub id")
        # pandas' sampling (numpy's legacy RandomState) takes seeds below 2**32: a bigger one fails mid-run.
        _check("seed", self.seed, _is_int(self.seed) and 0 <= self.seed < 2**32, "an integer >= 0 and < 2**32")
        for key in ("max_steps", "max_train_rows", "embed_rows", "embed_train_rows"):
            value = getattr(self, key)
            _check(key, value, _is_int(value) and value >= 0, "an integer >= 0")
        if self.max_length < 8:
            raise ConfigError(f"max_length={self.max_length} is too short; use at least 8 tokens")
        unknown = [p for p in self.phases if p not in PHASE_NAMES]
        if unknown:
            raise ConfigError(f"unknown phase(s) {unknown}; phases are {list(PHASE_NAMES)}")
        if self.phases and self.phases[-1] != "ft":
            raise ConfigError("a recipe must end with the 'ft' phase (it makes the classifier)")
        if self.cl.loss not in ("cosine", "supcon", "simclr"):
            raise ConfigError(f"cl.loss={self.cl.loss!r}; choose cosine, supcon or simclr")
        if "joint" in self.phases and self.cl.loss != "cosine":
            raise ConfigError(f"cl.loss={self.cl.loss!r} with the Joint phase: Joint sums L_DAE and the paper's cosine pair loss "
                              "(cl.loss applies to a CL phase)")
        _check("dae.joint_weight", self.dae.joint_weight, _is_finite(self.dae.joint_weight) and self.dae.joint_weight >= 0,
               "a finite number >= 0 (0: Joint trains on L_CL alone)")
        if not 0.0 <= self.dae.noise_ratio < 1.0:
            raise ConfigError(f"dae.noise_ratio={self.dae.noise_ratio} must be in [0, 1)")
        if self.ft.scheduler not in ("linear", "cosine", "constant"):
            raise ConfigError(f"ft.scheduler={self.ft.scheduler!r}; choose linear, cosine or constant")
        if self.long_text not in ("truncate", "chunk"):
            raise ConfigError(f"long_text={self.long_text!r}; choose truncate or chunk")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device={self.device!r}; choose auto, cpu or cuda")
        for name, section in (("dae", self.dae), ("cl", self.cl), ("ft", self.ft)):
            for key in ("epochs", "batch_size"):
                value = getattr(section, key)
                _check(f"{name}.{key}", value, _is_int(value) and value >= 1, "an integer >= 1")
            _check(f"{name}.lr", section.lr, _is_finite(section.lr) and section.lr > 0, "a finite number > 0")
        for key in ("val_fraction", "test_fraction"):
            value = getattr(self, key)
            _check(key, value, _is_finite(value) and 0 < value < 0.5, "between 0 and 0.5")
        self._validate_cl()
        self._validate_ft()
        # Only where a phase loads the decoder: the folder has to exist where the run trains.
        if self.dae.decoder and {"dae", "joint"} & set(self.phases):
            problem = decoder_folder_problem(self.dae.decoder)
            if problem:
                raise ConfigError(f"dae.{problem}")
        _check_finite(self)
        return self

    def _validate_cl(self) -> None:
        """Phase-2 settings: imbalance ratios, pair counts, temperature."""
        cl = self.cl
        r_min, r_max = cl.ratios()  # also refuses an unknown preset
        for key in ("min_ratio", "max_ratio"):  # any finite value: < 0 means "from the preset"
            value = getattr(cl, key)
            _check(f"cl.{key}", value, _is_finite(value), "a finite number (< 0: from the preset)")
        if r_min > r_max:
            # f(x) never exceeds r_max, so with r_min above it no class is ever oversampled.
            def source(key: str, v: float) -> str:
                return f"cl.{key}={v}" if getattr(cl, key) >= 0 else f"{v} from cl.imbalance={cl.imbalance}"

            raise ConfigError(
                f"the minimum ratio ({source('min_ratio', r_min)}) is above the maximum ratio "
                f"({source('max_ratio', r_max)}): no class would be oversampled; use cl.imbalance=none for no correction"
            )
        if cl.positives not in ("balanced", "paper"):
            raise ConfigError(f"cl.positives={cl.positives!r}; choose balanced (per class ~ its size) or paper (~ size squared)")
        _check("cl.augmentation", cl.augmentation, _is_int(cl.augmentation) and cl.augmentation >= 1, "an integer >= 1")
        # The cap keeps max_pairs // 2 pairs of each kind: 1 would leave phase 2 with no pairs at all.
        _check("cl.max_pairs", cl.max_pairs, _is_int(cl.max_pairs) and (cl.max_pairs == 0 or cl.max_pairs >= 2),
               "0 (no cap) or an integer >= 2 (one positive and one negative pair)")
        _check("cl.temperature", cl.temperature, _is_finite(cl.temperature) and cl.temperature > 0, "a finite number > 0")

    def _validate_ft(self) -> None:
        """Phase-3 settings; checked up front because FT runs last, after the other phases trained."""
        ft = self.ft
        _check("ft.head_lr", ft.head_lr, _is_finite(ft.head_lr) and ft.head_lr > 0, "a finite number > 0")
        _check("ft.head_hidden", ft.head_hidden, _is_int(ft.head_hidden) and ft.head_hidden >= 1, "an integer >= 1")
        for key in ("dropout", "lora_dropout"):  # torch refuses p > 1; p = 1 zeroes every input
            value = getattr(ft, key)
            _check(f"ft.{key}", value, _is_finite(value) and 0 <= value < 1, "in [0, 1)")
        _check("ft.patience", ft.patience, _is_int(ft.patience) and ft.patience >= 0, "an integer >= 0")
        _check("ft.warmup_ratio", ft.warmup_ratio, _is_finite(ft.warmup_ratio) and 0 <= ft.warmup_ratio <= 1,
               "in [0, 1] (a fraction of the training steps)")
        _check("ft.weight_decay", ft.weight_decay, _is_finite(ft.weight_decay) and ft.weight_decay >= 0, "a finite number >= 0")
        _check("ft.evals_per_epoch", ft.evals_per_epoch, _is_int(ft.evals_per_epoch) and ft.evals_per_epoch >= 1, "an integer >= 1")
        # swa_start = 1 would start averaging after the last step: no average, silently.
        _check("ft.swa_start", ft.swa_start, _is_finite(ft.swa_start) and 0 <= ft.swa_start < 1, "in [0, 1) (a fraction of training)")
        _check("ft.swa_lr_factor", ft.swa_lr_factor, _is_finite(ft.swa_lr_factor) and ft.swa_lr_factor > 0, "a finite number > 0")
        _check("ft.reinit_layers", ft.reinit_layers, _is_int(ft.reinit_layers) and ft.reinit_layers >= 0, "an integer >= 0")
        if ft.reinit_layers and (ft.lora or ft.freeze_encoder):
            raise ConfigError("ft.reinit_layers with ft.lora or ft.freeze_encoder would leave the re-drawn layers untrained")
        _check("ft.lora_r", ft.lora_r, _is_int(ft.lora_r) and ft.lora_r >= 1, "an integer >= 1")
        _check("ft.lora_alpha", ft.lora_alpha, _is_int(ft.lora_alpha) and ft.lora_alpha >= 1, "an integer >= 1")
        if ft.lora and not [t for t in str(ft.lora_targets).split(",") if t.strip()]:
            raise ConfigError("ft.lora_targets is empty; with ft.lora=true name the modules to adapt, e.g. ft.lora_targets=query,value")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """A real number, not NaN or infinite (NaN passes every `<=` test, so it needs its own check)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(key: str, value: Any, ok: bool, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{key} must be {rule}, got {value!r}")


def _numeric_settings(cfg: RunConfig):
    """(key as typed, declared type, value) of every int and float setting, all sections."""
    for prefix, obj in (("", cfg), ("dae.", cfg.dae), ("cl.", cfg.cl), ("ft.", cfg.ft)):
        for name, typ in typing.get_type_hints(type(obj)).items():
            if typ in (int, float):
                yield prefix + name, typ, getattr(obj, name)


def _check_types(cfg: RunConfig) -> None:
    """Int settings hold ints and float settings numbers. Typed overrides ensure it already;
    this covers configs built directly (`RunConfig(...)`, `from_dict` of an edited file)."""
    for key, typ, value in _numeric_settings(cfg):
        ok = _is_int(value) if typ is int else isinstance(value, (int, float)) and not isinstance(value, bool)
        _check(key, value, ok, "an integer" if typ is int else "a number")


def _check_finite(cfg: RunConfig) -> None:
    """Every float setting is finite: a safety net behind the per-setting rules (which give the
    range as well) for a float setting added later without a rule of its own."""
    for key, typ, value in _numeric_settings(cfg):
        if typ is float:
            _check(key, value, _is_finite(value), "a finite number")


def decoder_folder_problem(path: str) -> str:
    """Why a DAE decoder given as a local path cannot be loaded, or "" (also for a hub id).

    Same rule as `encoder.load_encoder`: a path that exists or starts with '.', '/' or '~'
    is a local folder; anything else is a hub id. Without this check a missing folder reaches
    the hub client, whose "Repo id must use alphanumeric chars" error hides the cause.
    """
    local = Path(path).expanduser()
    if not (local.exists() or path.startswith((".", "/", "~"))):
        return ""
    if not local.is_dir():
        return f"decoder folder not found: {path}"
    if not (local / "config.json").exists():
        return f"decoder={path} is not a model folder (no config.json)"
    return ""


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
