"""The CLI's progress bar tail: the phase's last loss and the whole run's smoothed time left."""

from __future__ import annotations

from threephase_core.cli_report import bar_postfix


def snap(losses=None, run_eta_s=None) -> dict:
    return {"losses": {"cl": losses or []}, "run_eta_s": run_eta_s}


def test_the_bar_shows_the_loss_and_the_whole_runs_time_left():
    assert bar_postfix(snap([(1, 0.5), (2, 0.25)], 95.4), "cl") == "loss=0.2500, run left ~1 min 35 s"


def test_before_a_basis_for_the_time_left_only_the_loss_is_shown():
    assert bar_postfix(snap([(1, 0.5)], None), "cl") == "loss=0.5000"
    assert bar_postfix(snap([], None), "cl") == ""
    assert bar_postfix(snap([], 0.0), "cl") == "run left ~0 s"
