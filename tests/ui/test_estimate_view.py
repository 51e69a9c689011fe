"""The job lines of the sidebar, Home and Train (pages/_parts/estimate_view.py): never "step 0/0"."""

from __future__ import annotations

import pytest

from pages._parts.estimate_view import estimate_text, job_caption, remaining_text
from threephase_core.estimates import Estimate
from threephase_core.progress import Progress


@pytest.mark.parametrize(
    ("status", "caption"),
    [
        ({"state": "queued", "phase": "", "step": 0, "total": 0}, "queued"),
        ({"state": "running", "phase": "", "step": 0, "total": 0, "run_eta_s": None}, "starting…"),
        (
            {"state": "running", "phase": "", "step": 0, "total": 0, "run_eta_s": 64.6},
            "starting… · about 1 min 5 s left",
        ),
        (
            {"state": "running", "phase": "cl", "step": 12, "total": 48, "run_eta_s": 95},
            "CL step 12/48 · about 1 min 35 s left",
        ),
        ({"state": "running", "phase": "ft", "step": 3, "total": 60, "run_eta_s": None}, "FT step 3/60"),
        ({"state": "done", "phase": "ft", "step": 60, "total": 60, "run_eta_s": 0.0}, "done"),
    ],
)
def test_job_caption(status, caption):
    assert job_caption(status) == caption


def test_a_fresh_running_job_says_starting_not_step_zero_of_zero():
    p = Progress()
    p.set_state("running")
    assert job_caption(p.snapshot()) == "starting…"
    assert remaining_text(p.snapshot()) == ""


def test_estimate_text():
    est = Estimate(65.0, {"ft": 50.0}, {"ft": 60}, 15.0, "2 earlier runs like this one here")
    assert estimate_text(est) == "About 1 min 5 s on this machine, from 2 earlier runs like this one here."
    assert (
        estimate_text(est, runs=3)
        == "About 3 min 15 s (3 runs) on this machine, from 2 earlier runs like this one here."
    )
    assert estimate_text(None).startswith("No duration estimate yet")
