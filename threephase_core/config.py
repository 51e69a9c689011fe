"""One typed configuration per run: `RunConfig` with a section per phase.

A run's whole configuration is one object that is printed, saved as `config.json` in the
run folder and reloaded from it. Settings are changed with `key=value` overrides
(`ft.lr=3e-5`, `seed=2`) that are type-checked against the dataclass fields, so a typo
or a wrong type is a clear `ConfigError`, never a quiet fallback to a default.

Each setting is declared once, beside its field, with `setting(default, label, limits...)`
(see `setting_spec.py`): its default and type (the field's), a label, and its limits (a range,
what 0 or a negative value means where they have a meaning of their own, the choices of a text
setting).
`RunConfig.validate` refuses a value outside them, naming the setting as it is typed; the
workbench's Train form and its saved-settings loader read the same limits through `spec(key)`.
Rules that tie settings together (r_min <= r_max, re-drawn layers with LoRA) stay in `validate`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threephase_core.setting_spec import SettingSpec, setting

IMBALANCE_PRESETS: dict[str, tuple[float, float]] = {
    "normal": (1.5, 4.0),
    "extra": (1.5, 20.0),
    "none": (1.0, 1.0),
}
PHASE_NAMES = ("dae", "cl", "joint", "ft")
SECTION_NAMES = ("dae", "cl", "ft")


class ConfigError(ValueError):
    """A setting that does not exist or does not parse; the message says which and why."""


LR = {"min": 1e-7, "max": 1.0}  # every learning rate
FRACTION = {"min": 0.0, "max": 0.95}  # a drop or deletion probability (1 would drop everything)


@dataclass
class DAEConfig:
    """Phase 1, TSDAE: reconstruct each sentence from the pooled vector of a noisy copy."""

    epochs: int = setting(1, "Epochs", min=1)
    lr: float = setting(3e-5, "Learning rate", **LR)
    batch_size: int = setting(32, "Batch size", min=1)
    # Probability of deleting each word, drawn afresh every epoch.
    noise_ratio: float = setting(0.6, "Noise ratio (word deletion)", **FRACTION)
    decoder: str = setting("", "Decoder")  # empty: the encoder's own checkpoint, weights tied (TSDAE default)
    # Vocabulary projection only at real target tokens (same loss, less work).
    fast_loss: bool = setting(True, "Fast DAE loss")
    # Joint only: weight of L_DAE in L_CL + joint_weight * L_DAE. The DAE term is a cross-entropy of several
    # nats, the pair term an MSE below 1. Chosen on validation by `bench/phase_effect.py --sweep joint`
    # (bench/results/phase_effect_sweep_joint_cpu.md, demo, seed 0): the largest weight whose train-referenced
    # 5-NN equals CL alone's (0.975 at 0.1, 0.03 and 0; 0.962 at 1, where silhouette fell from 0.50 to 0.28).
    joint_weight: float = setting(0.1, "Weight of the DAE loss in Joint", min=0.0, zero="Joint trains on L_CL alone")
    # What the decoder reads: the encoder's sentence embedding (normalized, for encoders that end in a
    # Normalize module) or the pooled vector before that module (pooled); see phases/dae.py.
    # Learning rate of the decoder's own parameters (those it does not share with the encoder: with the tied
    # default, its freshly drawn cross-attention and LM-head transform); 0: dae.lr.
    # Both chosen on validation by `bench/phase_effect.py --sweep dae` (bench/results/phase_effect_sweep_dae_cpu.md):
    # on the demo the decoder at dae.lr never learned to read the sentence vector (the same loss from another
    # sentence's vector) and the phase cost 2.5 points of train-referenced 5-NN; at 1e-3 it cost 0.8, and the
    # pooled vector made the decoder read it more (0.07 nats against 0.01).
    bottleneck: str = setting("pooled", "DAE bottleneck", choices=("normalized", "pooled"))
    decoder_lr: float = setting(1e-3, "Decoder's own learning rate", min=1e-7, max=1.0, zero="the DAE learning rate")


@dataclass
class CLConfig:
    """Phase 2, supervised contrastive learning on (imbalance-corrected) text pairs."""

    epochs: int = setting(1, "Epochs", min=1)
    # lr and positives chosen on validation by `bench/phase_effect.py --sweep cl` (bench/results/
    # phase_effect_sweep_cl_cpu.md): on the demo after the DAE, 1e-4 with balanced positives gave
    # 0.966 train-referenced 5-NN and silhouette 0.53 (base 0.924, 0.105); 2e-5 with the paper's 0.895, 0.13.
    lr: float = setting(1e-4, "Learning rate", **LR)
    batch_size: int = setting(32, "Batch size", min=1)
    imbalance: str = setting("normal", "Imbalance preset", choices=tuple(IMBALANCE_PRESETS))
    # Explicit ratios win over the preset; f(1) = r_max is the most a class of one is repeated.
    min_ratio: float = setting(-1.0, "Min ratio r_min", min=0.0, max=10.0, negative="from the preset")
    max_ratio: float = setting(-1.0, "Max ratio r_max", min=1.0, max=50.0, negative="from the preset")
    # Pair multiplier = augmentation * floor(log2(n_classes)).
    augmentation: int = setting(2, "Pair augmentation", min=1)
    loss: str = setting("cosine", "Loss", choices=("cosine", "supcon", "simclr"))  # cosine is the paper's
    temperature: float = setting(0.07, "Temperature", min=0.0, open_min=True)  # supcon / simclr only
    # The cap keeps max_pairs // 2 pairs of each kind: 1 would leave phase 2 with no pairs at all.
    max_pairs: int = setting(0, "Max pairs (0 = all)", min=2, zero="no cap")
    # balanced: positive pairs per class in proportion to its size | paper: ~ size squared
    positives: str = setting("balanced", "Positive pairs per class", choices=("balanced", "paper"))

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

    epochs: int = setting(5, "Max epochs", min=1)
    lr: float = setting(5e-5, "Encoder learning rate", **LR)
    # The freshly drawn head learns faster than the pretrained encoder.
    head_lr: float = setting(1e-3, "Head learning rate", **LR)
    batch_size: int = setting(32, "Batch size", min=1)
    head_hidden: int = setting(256, "Head hidden size", min=1)
    # Parameter-free LayerNorm on the embedding before the head (see classifier.py).
    head_input_norm: bool = setting(True, "Normalise the head's input")
    dropout: float = setting(0.1, "Dropout", **FRACTION)
    freeze_encoder: bool = setting(False, "Freeze the encoder")
    # Epochs without a better validation accuracy before stopping.
    patience: int = setting(
        2, "Early-stopping patience (epochs)", min=0, zero="stop at the first evaluation without a gain"
    )
    scheduler: str = setting("linear", "Schedule", choices=("linear", "cosine", "constant"))  # after warm-up
    warmup_ratio: float = setting(0.06, "Warm-up (fraction of the steps)", min=0.0, max=1.0)
    weight_decay: float = setting(0.01, "Weight decay", min=0.0)  # AdamW refuses a negative one
    evals_per_epoch: int = setting(1, "Validation passes per epoch", min=1)  # more for big data
    # With labels in levels: the level FT learns to predict (1 = top level); metrics.json also
    # scores every level above it from these predictions.
    level: int = setting(0, "Label level to predict", min=0, zero="the finest level")
    # Companion-study techniques.
    swa: bool = setting(False, "Stochastic weight averaging")
    # Fraction of training after which weights are averaged (1 would average nothing, quietly).
    swa_start: float = setting(0.75, "SWA start (fraction of training)", min=0.0, max=1.0, open_max=True)
    swa_lr_factor: float = setting(3.0, "SWA learning-rate factor", min=0.0, open_min=True)
    reinit_layers: int = setting(0, "Top encoder layers re-drawn before FT", min=0)
    lora: bool = setting(False, "LoRA adapters")
    lora_r: int = setting(8, "LoRA rank", min=1)
    lora_alpha: int = setting(16, "LoRA alpha", min=1)
    lora_dropout: float = setting(0.1, "LoRA dropout", **FRACTION)
    lora_targets: str = setting("query,value", "LoRA target modules")


@dataclass
class RunConfig:
    """Everything a run needs; saved first in the run folder as `config.json`."""

    dataset: str = setting("demo", "Dataset")
    # minilm (packaged all-MiniLM-L6-v2) | tiny (random, for tests) | path | hub id
    model: str = setting("minilm", "Model")
    recipe: str = setting("three_phase", "Recipe")
    phases: tuple[str, ...] = setting((), "Phases")  # filled from the recipe
    # pandas' sampling (numpy's legacy RandomState) takes seeds below 2**32: a bigger one fails mid-run.
    seed: int = setting(0, "Seed", min=0, max=2**32 - 1)
    device: str = setting("auto", "Device", choices=("auto", "cpu", "cuda"), pattern=r"cuda:\d+")
    max_steps: int = setting(0, "Max steps per phase (0 = full)", min=0)  # >0 caps every phase (smoke runs)
    # Processes of a data-parallel run (one per GPU; distributed.py). Every batch_size is per process:
    # the global batch is batch_size x nproc (config.json records it as `global_batch`).
    nproc: int = setting(1, "Processes (data parallel)", min=1, max=1024)
    max_length: int = setting(128, "Max tokens per text", min=8)
    # truncate | chunk (mean of chunk embeddings, for FT and embeddings)
    long_text: str = setting("truncate", "Long texts", choices=("truncate", "chunk"))
    # >0: stratified row cap on train (CPU runs of big data)
    max_train_rows: int = setting(0, "Max training rows (0 = all)", min=0)
    # Validation rows whose embeddings are saved after each phase.
    embed_rows: int = setting(5000, "Validation rows kept for the maps", min=0)
    # Training rows (stratified, seeded) whose embeddings are saved after each phase.
    embed_train_rows: int = setting(2000, "Training rows kept for the maps", min=0)
    text_column: str = setting("text", "Text column")
    # Labels with levels: several columns, top level first ("coarse,fine"), or one column whose
    # labels hold the levels joined by label_sep ("HUM:ind" with ":"); see label_levels.py.
    label_column: str = setting("label", "Label column(s)")
    label_sep: str = setting("", "Label level separator")  # empty: the labels have no separator
    # Texts without labels, for the label-free phases only (the DAE, and CL with cl.loss=simclr); never
    # for pairs, FT or a metric (see unlabelled.py): a file (.txt, one text per line, or a table whose
    # text column is text_column or `text`), and/or the dataset's rows without a label.
    unlabelled: str = setting("", "Unlabelled texts (file)")
    unlabelled_rows: bool = setting(False, "Rows without a label are unlabelled texts")
    # A label budget (label_budget.py): keep this many labelled training texts per class, or this
    # fraction of train, stratified and seeded by `seed`; the rest of train becomes unlabelled text.
    labels_per_class: int = setting(0, "Labelled texts per class", min=0, zero="every training label")
    label_fraction: float = setting(
        0.0, "Fraction of train labelled", min=0.0, max=1.0, open_min=True, zero="every training label"
    )
    # Carved from train when the dataset has no validation (test) split.
    # Each phase's encoder is saved in checkpoints/<phase>/ so a stopped run can resume; a run that
    # finishes keeps only its final model unless this is set.
    keep_checkpoints: bool = setting(False, "Keep phase checkpoints after the run")
    val_fraction: float = setting(0.1, "Validation fraction", min=0.0, max=0.5, open_min=True, open_max=True)
    test_fraction: float = setting(0.1, "Test fraction", min=0.0, max=0.5, open_min=True, open_max=True)
    dae: DAEConfig = field(default_factory=DAEConfig)
    cl: CLConfig = field(default_factory=CLConfig)
    ft: FTConfig = field(default_factory=FTConfig)

    # ---- overrides -------------------------------------------------------------------
    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> RunConfig:
        """A copy with `key=value` (or {key: value}) settings applied and type-checked."""
        cfg = from_dict(to_dict(self))
        items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
        for key, value in items:
            _set(cfg, key, value)
        return cfg

    def get(self, key: str) -> Any:
        """The value of a setting by its key as typed (`ft.lr`, `seed`)."""
        target: Any = self
        for part in key.split("."):
            target = getattr(target, part)
        return target

    def validate(self) -> RunConfig:
        """Raise ConfigError on values that cannot work; return self.

        Everything a run would trip over later is checked here, before any training, so a bad
        value costs one message instead of a traceback (or a phase that fails after the earlier
        ones have trained). Each message names the setting as it is typed (`ft.head_lr`) and
        says what it accepts. Every setting is first checked against its own type and limits
        (`setting` above), then the rules that tie settings together.
        """
        if not self.phases:
            raise ConfigError("no phases: pick a recipe (see `python -m threephase_core recipes`)")
        for key, one in specs().items():
            problem = one.problem(self.get(key))
            if problem:
                raise ConfigError(problem)
        if not self.model.strip():  # else the run would record "" while loading the default model
            raise ConfigError("model is empty; give minilm (the packaged default), tiny, a model folder or a hub id")
        unknown = [p for p in self.phases if p not in PHASE_NAMES]
        if unknown:
            raise ConfigError(f"unknown phase(s) {unknown}; phases are {list(PHASE_NAMES)}")
        if self.phases[-1] != "ft":
            raise ConfigError("a recipe must end with the 'ft' phase (it makes the classifier)")
        if "joint" in self.phases and self.cl.loss != "cosine":
            raise ConfigError(
                f"cl.loss={self.cl.loss!r} with the Joint phase: Joint sums L_DAE and the paper's "
                "cosine pair loss (cl.loss applies to a CL phase)"
            )
        if self.labels_per_class and self.label_fraction:
            raise ConfigError(
                f"labels_per_class={self.labels_per_class} and label_fraction={self.label_fraction:g} are both set; "
                "give the label budget one way"
            )
        self._validate_ratios()
        ft = self.ft
        if ft.reinit_layers and (ft.lora or ft.freeze_encoder):
            raise ConfigError(
                "ft.reinit_layers with ft.lora or ft.freeze_encoder would leave the re-drawn layers untrained"
            )
        if ft.lora and not [t for t in ft.lora_targets.split(",") if t.strip()]:
            raise ConfigError(
                "ft.lora_targets is empty; with ft.lora=true name the modules to adapt, "
                "e.g. ft.lora_targets=query,value"
            )
        # Only where a phase loads the decoder: the folder has to exist where the run trains.
        if self.dae.decoder and {"dae", "joint"} & set(self.phases):
            problem = decoder_folder_problem(self.dae.decoder)
            if problem:
                raise ConfigError(f"dae.{problem}")
        return self

    def _validate_ratios(self) -> None:
        """r_min above r_max: f(x) never exceeds r_max, so no class would ever be oversampled."""
        cl = self.cl
        r_min, r_max = cl.ratios()
        if r_min > r_max:

            def source(key: str, v: float) -> str:
                return f"cl.{key}={v}" if getattr(cl, key) >= 0 else f"{v} from cl.imbalance={cl.imbalance}"

            raise ConfigError(
                f"the minimum ratio ({source('min_ratio', r_min)}) is above the maximum ratio "
                f"({source('max_ratio', r_max)}): no class would be oversampled; "
                "use cl.imbalance=none for no correction"
            )


_SECTIONS = {"dae": DAEConfig, "cl": CLConfig, "ft": FTConfig}


def _build_specs() -> Mapping[str, SettingSpec]:
    out = {}
    for prefix, cls in (("", RunConfig), *((f"{name}.", c) for name, c in _SECTIONS.items())):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not dataclasses.is_dataclass(hints[f.name]):
                out[prefix + f.name] = SettingSpec(prefix + f.name, hints[f.name], f.default, **f.metadata)
    return types.MappingProxyType(out)


_SPECS: Mapping[str, SettingSpec] | None = None


def specs() -> Mapping[str, SettingSpec]:
    """Every setting by its key as typed (`seed`, `ft.lr`), in declaration order."""
    global _SPECS
    if _SPECS is None:
        _SPECS = _build_specs()
    return _SPECS


def spec(key: str) -> SettingSpec:
    """One setting's type, default, label and limits; ConfigError for an unknown key."""
    if key not in specs():
        raise ConfigError(f"unknown setting {key!r}")
    return specs()[key]


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
    d.pop(GLOBAL_BATCH, None)  # derived (save_config), not a setting
    sections = {}
    for name, cls in _SECTIONS.items():
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


GLOBAL_BATCH = "global_batch"


def save_config(cfg: RunConfig, path: Path) -> None:
    """Write `cfg`; a run of several processes also records each phase's global batch (the
    per-process batch_size x nproc), read back as nothing: it follows from the settings."""
    from threephase_core.runstore import write_json_atomic

    data = to_dict(cfg)
    if cfg.nproc > 1:
        data[GLOBAL_BATCH] = {name: getattr(cfg, name).batch_size * cfg.nproc for name in SECTION_NAMES}
    write_json_atomic(path, data)


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
        if target is not cfg or part not in SECTION_NAMES:
            raise ConfigError(f"unknown section {part!r} in {key!r}; sections are dae, cl, ft")
        target = getattr(target, part)
    hints = typing.get_type_hints(type(target))
    name = parts[-1]
    if name not in hints:
        raise ConfigError(f"unknown setting {key!r}; known: {sorted(hints)}")
    if dataclasses.is_dataclass(hints[name]):
        raise ConfigError(f"{key!r} is a section, not a setting; set one of its fields, e.g. {name}.lr=3e-5")
    setattr(target, name, _coerce(value, hints[name], key))
