"""Duration estimates (estimates.py): from earlier runs on this machine, and the whole run's ETA
replayed on a recorded event log of a real demo three_phase run (tests/fixtures/demo_run: 354
training rows, DAE 12 steps, CL 48, FT stopped early at 48 of 60; 196 s on a busy 2-core CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from threephase_core.config import load_config
from threephase_core.estimates import (
    MAX_CHANGE,
    PRIORS,
    estimate_run,
    fmt_duration,
    planned_steps,
    replay,
)
from threephase_core.progress import Progress
from threephase_core.recipes import build_config

FIXTURE = Path(__file__).parent / "fixtures" / "demo_run"
HOST = "vm"  # where the fixture run was recorded
N_TRAIN, N_PAIRS = 354, 1536


def _events() -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / "events.jsonl").read_text().splitlines()]


def _cfg():
    return load_config(FIXTURE / "config.json")


def _copy_run(runs: Path, name: str, wall_s: float | None = None, host: str = HOST, **config) -> Path:
    dest = runs / name
    shutil.copytree(FIXTURE, dest)
    status = json.loads((dest / "status.json").read_text())
    status["host"] = host
    if wall_s is not None:
        status["wall_s"] = wall_s
    (dest / "status.json").write_text(json.dumps(status))
    if config:
        cfg = json.loads((dest / "config.json").read_text())
        cfg.update(config)
        (dest / "config.json").write_text(json.dumps(cfg))
    return dest


def _jumps(timeline: list[tuple[float, float | None]]) -> list[float]:
    """Per update while running: how far the shown ETA moved from its own countdown, relative."""
    out, last = [], None
    for t, eta in timeline[:-1]:  # the last event ends the run (ETA 0)
        if eta is None:
            continue
        if last is not None:
            countdown = max(0.0, last[1] - (t - last[0]))
            out.append(abs(eta - countdown) / max(countdown, 10.0))
        last = (t, eta)
    return out


def test_planned_steps_match_the_recorded_run():
    steps = planned_steps(_cfg(), N_TRAIN, N_PAIRS)
    recorded = {e["phase"]: e["total"] for e in _events() if e["type"] == "phase_start"}
    assert steps == recorded == {"dae": 12, "cl": 48, "ft": 60}


def test_planned_steps_follow_the_step_cap_and_row_cap():
    cfg = build_config("three_phase", {"max_steps": 5})
    assert planned_steps(cfg, N_TRAIN, N_PAIRS) == {"dae": 5, "cl": 5, "ft": 5}
    cfg = build_config("ft", {"max_train_rows": 64, "ft.epochs": 2})
    assert planned_steps(cfg, N_TRAIN) == {"ft": 4}


@pytest.mark.parametrize("history", [False, True], ids=["prior only", "one earlier run"])
def test_the_whole_run_eta_moves_by_at_most_max_change_per_update(tmp_path, history):
    if history:
        _copy_run(tmp_path, "20261206-000000-three_phase-demo-s0")
    estimate = estimate_run(_cfg(), tmp_path, N_TRAIN, N_PAIRS, host=HOST)
    assert estimate is not None
    timeline = replay(_events(), estimate, ["dae", "cl", "ft"])
    jumps = _jumps(timeline)
    assert len(jumps) > 100  # an update at every step
    assert max(jumps) <= MAX_CHANGE + 1e-9
    assert timeline[-1][1] == 0.0  # done


def test_with_an_earlier_run_like_it_the_eta_is_close_to_the_truth(tmp_path):
    _copy_run(tmp_path, "20261206-000000-three_phase-demo-s0")
    estimate = estimate_run(_cfg(), tmp_path, N_TRAIN, N_PAIRS, host=HOST)
    assert estimate.basis == "1 earlier run like this one here"
    events = _events()
    end = events[-1]["t"]
    timeline = replay(events, estimate, ["dae", "cl", "ft"])
    errors = [abs(eta - (end - t)) / (end - t) for t, eta in timeline if eta is not None and end - t > 30]
    assert len(errors) > 60
    # FT stopped early (48 of 60 steps), so the ETA runs a little long; never by more than 40 %.
    assert max(errors) < 0.4
    assert sorted(errors)[len(errors) // 2] < 0.2


def test_on_a_prior_alone_the_eta_learns_the_machines_speed(tmp_path):
    """The prior is for an idle CPU; the recorded run was ~3x slower. By the FT phase the ETA has
    caught up with the truth (within 40 %: FT stopped early, after 48 of its 60 steps)."""
    estimate = estimate_run(_cfg(), tmp_path, N_TRAIN, N_PAIRS, host=HOST)
    assert estimate.rough and "rough" in estimate.basis
    events = _events()
    end = events[-1]["t"]
    ft_start = next(e["t"] for e in events if e["type"] == "phase_start" and e["phase"] == "ft")
    late = [
        abs(eta - (end - t)) / (end - t)
        for t, eta in replay(events, estimate, ["dae", "cl", "ft"])
        if eta is not None and t >= ft_start and end - t > 30
    ]
    assert late and max(late) < 0.4


def test_without_any_basis_there_is_no_eta_until_the_run_measures_itself():
    events = _events()
    timeline = replay(events, None, ["dae", "cl", "ft"])
    first_step = next(i for i, e in enumerate(events) if e["type"] == "loss")
    assert all(eta is None for _, eta in timeline[:first_step])
    assert all(eta is not None for _, eta in timeline[events.index(_phase_start(events, "ft")) + 1 :])


def _phase_start(events, phase):
    return next(e for e in events if e["type"] == "phase_start" and e["phase"] == phase)


def test_the_estimate_is_the_median_of_earlier_runs_like_this_one(tmp_path):
    for i, wall in enumerate((100.0, 130.0, 400.0)):
        _copy_run(tmp_path, f"2026120{i}-000000-three_phase-demo-s0", wall_s=wall)
    _copy_run(tmp_path, "20261209-000000-three_phase-demo-s0", wall_s=5.0, host="another-machine")
    est = estimate_run(_cfg(), tmp_path, N_TRAIN, N_PAIRS, host=HOST)
    assert est.total_s == 130.0
    assert est.basis == "3 earlier runs like this one here"
    assert sum(est.phase_s.values()) + est.outside_s == pytest.approx(130.0)


def test_a_run_of_another_shape_is_estimated_from_the_measured_step_times(tmp_path):
    _copy_run(tmp_path, "20261206-000000-three_phase-demo-s0")
    cfg = build_config("three_phase", {"dataset": "demo", "max_steps": 6})
    est = estimate_run(cfg, tmp_path, N_TRAIN, N_PAIRS, host=HOST)
    status = json.loads((FIXTURE / "status.json").read_text())
    walls = status["phase_walls"]
    steps_taken = {"dae": 12, "cl": 48, "ft": 48}
    assert est.basis == "the step times of earlier runs of this model here"
    for phase in ("dae", "cl", "ft"):  # 6 steps at the recorded seconds per step
        assert est.phase_s[phase] == pytest.approx(6 * walls[phase] / steps_taken[phase])
    assert est.outside_s == pytest.approx(status["wall_s"] - sum(walls.values()))


def test_no_earlier_run_gives_the_documented_prior_or_nothing(tmp_path):
    (tmp_path / "broken-run").mkdir()
    (tmp_path / "broken-run" / "status.json").write_text("{not json")
    est = estimate_run(_cfg(), tmp_path, N_TRAIN, N_PAIRS, host=HOST)
    prior = PRIORS["minilm"]
    expected = 12 * 32 * prior["dae"] + 48 * 32 * prior["cl"] + 60 * 32 * prior["ft"] + prior["outside"]
    assert est.total_s == pytest.approx(expected)
    assert est.rough
    hub = build_config("ft", {"model": "someone/some-model"})
    assert estimate_run(hub, tmp_path, N_TRAIN, host=HOST) is None
    gpu = build_config("ft", {"device": "cuda"})
    assert estimate_run(gpu, tmp_path, N_TRAIN, host=HOST) is None


def test_progress_reports_the_whole_run_eta_once_planned(tmp_path):
    _copy_run(tmp_path, "20261206-000000-three_phase-demo-s0")
    p = Progress()
    p.set_state("running")
    assert p.snapshot()["run_eta_s"] is None
    p.set_plan(estimate_run(_cfg(), tmp_path, N_TRAIN, N_PAIRS, host=HOST), ["dae", "cl", "ft"])
    p.start_phase("dae", 12)
    p.step(loss=1.0)
    snap = p.snapshot()
    assert snap["estimate_s"] == pytest.approx(json.loads((FIXTURE / "status.json").read_text())["wall_s"])
    assert 0 < snap["run_eta_s"] <= snap["estimate_s"]
    assert snap["estimate_basis"] == "1 earlier run like this one here"
    p.set_state("done")
    assert p.snapshot()["run_eta_s"] is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (44.6, "45 s"), (65, "1 min 5 s"), (195.7, "3 min 16 s"), (600, "10 min"), (3725, "1 h 2 min")],
)
def test_durations_in_words(seconds, text):
    assert fmt_duration(seconds) == text
