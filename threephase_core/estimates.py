"""How long a run will take on this machine: before it starts, and while it trains.

Before a run (`estimate_run`): the runs folder already says how fast this machine trains.
1. Finished runs on this host with the same shape (recipe, data, model, device, step cap, epochs
   and batch sizes): the median of their wall times.
2. Otherwise the seconds per training sample of each phase, measured in earlier runs of the same
   model on this host (from their events.jsonl), times the samples this run will see, plus the
   time spent outside the phases (loading, the maps after each phase, the final test).
3. Otherwise, for the packaged MiniLM, a prior for a 2-core CPU (`PRIORS`): a rough figure, said
   to be one. Other models with no earlier run here, and GPUs with none, get no estimate.

While a run trains (`RunEta`): the whole run's remaining time, from the current phase's own step
time (blended with the estimate for its first steps), the remaining phases' estimates scaled by
how much faster or slower this run goes than estimated (another job on the CPU slows all phases
alike), and the time between phases. The shown value counts down between updates and moves by at
most `MAX_CHANGE` of itself per update, so it does not jump when one step is slow.

What it does not handle: early stopping (FT is estimated at its full epochs, so the ETA falls when
it stops early), and load that changes after the estimate was made.
"""

from __future__ import annotations

import json
import math
import socket
import statistics
from dataclasses import dataclass, field
from pathlib import Path

MAX_CHANGE = 0.15  # the largest move of the shown ETA per update, as a fraction of itself (or of 10 s)
PRIOR_STEPS_WEIGHT = 3.0  # a phase's estimated step time counts as this many observed steps
RECENT_RUNS = 5  # the latest runs a median is taken over

# Seconds per training sample per phase, and seconds outside the phases, for the packaged MiniLM on a
# 2-core CPU with nothing else running: the per-phase shares of a recorded demo three_phase run
# (tests/fixtures/demo_run: DAE 37.4 s for 384 samples, CL 78.8 s for 1,536, FT 42.7 s for 1,536,
# 36.8 s outside; 196 s on a busy machine) scaled to the demo's 60-67 s alone on such a CPU. Joint:
# the sum of DAE and CL per pair. Only used until a run here measured better; other models get none.
PRIORS: dict[str, dict[str, float]] = {
    "minilm": {"dae": 0.031, "cl": 0.016, "joint": 0.047, "ft": 0.0088, "outside": 12.0},
}


def fmt_duration(seconds: float) -> str:
    """'45 s', '3 min 5 s', '1 h 20 min': short enough for a sidebar line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec} s" if sec and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


MODEL_ALIASES = {"default": "minilm", "all-MiniLM-L6-v2": "minilm"}
SHAPE_KEYS = ("recipe", "phases", "dataset", "model", "device", "max_steps", "max_train_rows", "max_length")
SECTION_SHAPE_KEYS = ("epochs", "batch_size", "imbalance", "min_ratio", "max_ratio", "augmentation", "max_pairs")


@dataclass
class Estimate:
    """A run's expected duration: `total_s` = the phases' `phase_s` + `outside_s`; `basis` says
    where the figure comes from, in words."""

    total_s: float
    phase_s: dict[str, float]
    phase_steps: dict[str, int]
    outside_s: float
    basis: str
    rough: bool = False  # from a prior, not from this machine

    def phase_step_s(self, phase: str) -> float | None:
        steps = self.phase_steps.get(phase)
        return self.phase_s[phase] / steps if steps and phase in self.phase_s else None


# ---- what a run will do ---------------------------------------------------------------------
def planned_steps(cfg, n_train: int, n_pairs: int | None = None) -> dict[str, int]:
    """Training steps per phase of `cfg` on `n_train` rows (after any row cap) and `n_pairs`
    phase-2 pairs (`expected_pairs`; None: about 2 per row and augmentation). FT counts its full
    epochs."""
    cap = int(cfg.max_steps or 0)
    rows = min(n_train, cfg.max_train_rows) if cfg.max_train_rows else n_train
    pairs = n_pairs if n_pairs is not None else 2 * rows * cfg.cl.augmentation
    if cfg.cl.max_pairs:
        pairs = min(pairs, cfg.cl.max_pairs)
    out = {}
    for phase in cfg.phases:
        if phase == "dae":
            n, bs, epochs = rows, cfg.dae.batch_size, cfg.dae.epochs
        elif phase == "ft":
            n, bs, epochs = rows, cfg.ft.batch_size, cfg.ft.epochs
        else:  # cl, joint: pairs (the cosine loss) or the rows' views (SupCon, SimCLR)
            n = pairs if (phase == "joint" or cfg.cl.loss == "cosine") else rows
            bs, epochs = cfg.cl.batch_size, cfg.cl.epochs
        steps = max(1, math.ceil(n / bs)) * epochs
        out[phase] = min(steps, cap) if cap else steps
    return out


def expected_pairs(labels, n_classes: int, cl) -> int:
    """Phase 2's pair count for these training labels and CL settings, without drawing the pairs:
    the rows after the imbalance correction times the pair multiplier (the pair builder's own
    figures; exact unless duplicate texts run a class out of distinct pairs), capped by max_pairs."""
    from threephase_core.imbalance import class_sizes, corrected_counts
    from threephase_core.pairs import pair_multiplier

    r_min, r_max = cl.ratios()
    rows = sum(corrected_counts(class_sizes(labels), r_min, r_max).values())
    pairs = rows * pair_multiplier(cl.augmentation, n_classes)
    return min(pairs, cl.max_pairs) if cl.max_pairs else pairs


def batch_size(cfg_dict: dict, phase: str) -> int:
    section = cfg_dict.get("cl" if phase == "joint" else phase) or {}
    return int(section.get("batch_size") or 32)


# ---- what earlier runs did ------------------------------------------------------------------
@dataclass
class PastRun:
    """What one run folder says about this machine's speed."""

    config: dict
    host: str
    device: str
    state: str
    wall_s: float | None
    phase_walls: dict[str, float]
    phase_steps: dict[str, int] = field(default_factory=dict)  # steps actually taken

    @property
    def outside_s(self) -> float | None:
        if self.wall_s is None or not self.phase_walls:
            return None
        return max(0.0, self.wall_s - sum(self.phase_walls.values()))

    def seconds_per_sample(self, phase: str) -> float | None:
        steps, wall = self.phase_steps.get(phase), self.phase_walls.get(phase)
        if not steps or not wall:
            return None
        return wall / (steps * batch_size(self.config, phase))


_CACHE: dict[str, tuple[float, PastRun | None]] = {}


def read_run(folder: Path) -> PastRun | None:
    """The speed record of a run folder (None when it holds none); cached by the status file's time."""
    status_path = folder / "status.json"
    try:
        stamp = status_path.stat().st_mtime
    except OSError:
        return None
    key = str(folder)
    if key in _CACHE and _CACHE[key][0] == stamp:
        return _CACHE[key][1]
    record = None
    try:
        status = json.loads(status_path.read_text())
        config = json.loads((folder / "config.json").read_text())
        if isinstance(status, dict) and isinstance(config, dict) and status.get("phase_walls"):
            record = PastRun(
                config=config,
                host=str(status.get("host", "")),
                device=str(status.get("device", "")),
                state=str(status.get("state", "")),
                wall_s=float(status["wall_s"]) if status.get("state") == "done" and status.get("wall_s") else None,
                phase_walls={k: float(v) for k, v in status["phase_walls"].items()},
                phase_steps=_steps_taken(folder / "events.jsonl"),
            )
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        record = None
    _CACHE[key] = (stamp, record)
    return record


def _steps_taken(events: Path) -> dict[str, int]:
    """The last step logged per phase (a phase that stopped early took fewer than its total)."""
    steps: dict[str, int] = {}
    with open(events, encoding="utf-8") as f:
        for line in f:
            if '"loss"' not in line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("type") == "loss" and e.get("phase") and isinstance(e.get("step"), int):
                steps[e["phase"]] = max(steps.get(e["phase"], 0), e["step"])
    return steps


def past_runs(runs_dir: str | Path, host: str | None = None) -> list[PastRun]:
    """Speed records of the runs in `runs_dir` made on `host` (default: this machine), newest first."""
    host = host or socket.gethostname()
    root = Path(runs_dir)
    try:
        folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)
    except OSError:
        return []
    records = (read_run(p) for p in folders)
    return [r for r in records if r is not None and r.host == host]


def shape(config: dict) -> tuple:
    """What decides a run's duration, for matching runs like it."""
    top = tuple(tuple(config.get(k)) if isinstance(config.get(k), list) else config.get(k) for k in SHAPE_KEYS)
    sections = tuple(tuple((config.get(s) or {}).get(k) for k in SECTION_SHAPE_KEYS) for s in ("dae", "cl", "ft"))
    return top + sections


def _device_matches(record: PastRun, device: str) -> bool:
    return device == "auto" or record.device == device or (device == "cuda" and record.device.startswith("cuda"))


# ---- the estimate ---------------------------------------------------------------------------
def estimate_run(
    cfg, runs_dir: str | Path, n_train: int, n_pairs: int | None = None, host: str | None = None
) -> Estimate | None:
    """The expected wall time of `cfg` on this machine (see the module doc); None when nothing
    here or in `PRIORS` says."""
    from threephase_core.config import to_dict

    wanted = to_dict(cfg)
    steps = planned_steps(cfg, n_train, n_pairs)
    records = [r for r in past_runs(runs_dir, host) if _device_matches(r, cfg.device)]
    model = MODEL_ALIASES.get(cfg.model, cfg.model)
    same_model = [r for r in records if MODEL_ALIASES.get(r.config.get("model"), r.config.get("model")) == model]

    alike = [r.wall_s for r in same_model if r.wall_s and shape(r.config) == shape(wanted)][:RECENT_RUNS]
    rates = {
        p: _median([r.seconds_per_sample(p) for r in _same_data_first(same_model, cfg.dataset, p)]) for p in steps
    }
    outside = _median([r.outside_s for r in same_model if r.config.get("dataset") == cfg.dataset][:RECENT_RUNS])
    if outside is None:
        outside = _median([r.outside_s for r in same_model][:RECENT_RUNS])
    prior = PRIORS.get(model) if cfg.device in ("auto", "cpu") else None
    rough = False
    for p in steps:
        if rates[p] is None and prior is not None:
            rates[p], rough = prior[p], True
    if outside is None and prior is not None:
        outside, rough = prior["outside"], True
    if any(v is None for v in rates.values()) or outside is None:
        return None
    phase_s = {p: steps[p] * _bs(wanted, p) * rates[p] for p in steps}
    total = sum(phase_s.values()) + outside
    if alike:
        measured = statistics.median(alike)
        scale = measured / total if total else 1.0
        phase_s = {p: s * scale for p, s in phase_s.items()}
        outside *= scale
        runs = "run" if len(alike) == 1 else "runs"
        return Estimate(measured, phase_s, steps, outside, f"{len(alike)} earlier {runs} like this one here")
    if rough:
        basis = "a rough figure for a 2-core CPU (no run of this model here yet)"
    else:
        basis = "the step times of earlier runs of this model here"
    return Estimate(total, phase_s, steps, outside, basis, rough=rough)


def for_run(cfg, runs_dir: str | Path, n_train: int, n_pairs: int | None = None) -> Estimate | None:
    """`estimate_run` for a run about to train: a runs folder it cannot read gives no estimate,
    never a failed run."""
    try:
        return estimate_run(cfg, runs_dir, n_train, n_pairs)
    except Exception:  # noqa: BLE001 - an estimate is a nicety
        return None


def _same_data_first(records: list[PastRun], dataset: str, phase: str) -> list[PastRun]:
    with_phase = [r for r in records if r.seconds_per_sample(phase) is not None]
    same = [r for r in with_phase if r.config.get("dataset") == dataset]
    return (same or with_phase)[:RECENT_RUNS]


def _bs(config: dict, phase: str) -> int:
    return batch_size(config, phase)


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---- while the run trains -------------------------------------------------------------------
class RunEta:
    """The whole run's remaining seconds, updated from its progress events (dicts with "t",
    "type", and "phase"/"step"/"total" as `Progress` writes them) and shown smoothed."""

    def __init__(self, estimate: Estimate | None, phases: list[str], max_change: float = MAX_CHANGE):
        self.estimate = estimate
        self.phases = list(phases)
        self.max_change = max_change
        self.started: float | None = None
        self.phase: str | None = None
        self.phase_started = self.ended = 0.0
        self.step, self.total = 0, 0
        self.done: dict[str, float] = {}  # phase -> measured wall
        self.value: float | None = None  # the shown ETA at `at`
        self.at = 0.0

    def update(self, event: dict) -> float | None:
        """Take one event; return the shown ETA after it (None until there is a basis)."""
        t, kind = float(event["t"]), event.get("type")
        if self.started is None:
            self.started = t
        if kind == "phase_start":
            self.phase, self.phase_started = event["phase"], t
            self.step, self.total = 0, int(event.get("total") or 0)
        elif kind == "loss" and event.get("phase") == self.phase and isinstance(event.get("step"), int):
            self.step = max(self.step, event["step"])
        elif kind == "phase_end":
            self.done[event["phase"]] = float(event.get("wall_s") or (t - self.phase_started))
            self.phase, self.ended = None, t
        elif kind == "state" and event.get("state") in ("done", "failed", "cancelled"):
            self.value, self.at = 0.0, t
            return 0.0
        else:
            return self.at_time(t)
        raw = self.raw(t)
        if raw is None:
            return self.at_time(t)
        if self.value is None:
            self.value, self.at = raw, t
            return raw
        shown = self.at_time(t)
        room = self.max_change * max(shown, 10.0)
        self.value, self.at = max(0.0, shown + min(max(raw - shown, -room), room)), t
        return self.value

    def at_time(self, t: float) -> float | None:
        """The shown ETA at time `t`: the last one, counted down (never below zero)."""
        if self.value is None:
            return None
        return max(0.0, self.value - (t - self.at))

    def raw(self, t: float) -> float | None:
        """The unsmoothed remaining time at `t`."""
        est = self.estimate
        speed = self._speed(t)
        remaining, future_known = 0.0, True
        current = self.phase
        if current is not None:
            elapsed = t - self.phase_started
            prior_step = est.phase_step_s(current) if est else None
            if prior_step is not None:
                prior_step *= speed
                step_s = (PRIOR_STEPS_WEIGHT * prior_step + elapsed) / (PRIOR_STEPS_WEIGHT + self.step)
            elif self.step:
                step_s = elapsed / self.step
            else:
                return None
            remaining += max(0, self.total - self.step) * step_s
        later = [p for p in self.phases if p not in self.done and p != current]
        for p in later:
            if est and p in est.phase_s:
                remaining += est.phase_s[p] * speed
            else:
                future_known = False
        if not future_known:
            return None
        if est:  # outside the phases: loading before the first, the maps (and at the end the test) after each
            share = est.outside_s * speed / (len(self.phases) + 1)
            outside_left = share * (len(later) + (1 if current is not None else 0))
            if current is None and not self.done:  # still loading before the first phase
                outside_left = max(est.outside_s * speed - (t - self.started), outside_left)
            elif current is None:  # between phases, or after the last one
                outside_left += max(0.0, share - (t - self.ended))
            remaining += outside_left
        elif current is None:
            return None
        return remaining

    def _speed(self, t: float) -> float:
        """Measured over estimated time of the phases so far (1 before any evidence), kept in [0.25, 8]."""
        est = self.estimate
        if est is None:
            return 1.0
        measured = sum(self.done.values())
        expected = sum(est.phase_s.get(p, 0.0) for p in self.done)
        if self.phase is not None and self.step:
            step_s = est.phase_step_s(self.phase)
            if step_s:
                measured += t - self.phase_started
                expected += self.step * step_s
        if expected <= 0:
            return 1.0
        weight = min(1.0, expected / max(est.total_s * 0.2, 1e-9))  # trust grows with the evidence
        ratio = measured / expected
        return min(8.0, max(0.25, 1.0 + weight * (ratio - 1.0)))


def replay(events: list[dict], estimate: Estimate | None, phases: list[str]) -> list[tuple[float, float | None]]:
    """(time, shown ETA) after each event of a recorded events.jsonl: what the pages showed."""
    eta = RunEta(estimate, phases)
    return [(float(e["t"]), eta.update(e)) for e in events]
