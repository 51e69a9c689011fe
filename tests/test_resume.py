"""Phase checkpoints and resuming a stopped run: after a cancel, after the process was killed in FT,
and the runs that cannot be resumed. Waits are on events (the event log, the progress sink), never on time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from threephase_core import checkpoints
from threephase_core import cli as cli_module
from threephase_core.progress import Progress
from threephase_core.recipes import build_config
from threephase_core.runner import execute
from threephase_core.runstore import Run, RunStore

HANG_GUARD_S = 900  # a guard against a hung child only: the wait below ends on an event long before


def small_config(model: str, **extra):
    settings = {
        "model": model,
        "device": "cpu",
        "max_steps": 3,
        "embed_rows": 20,
        "embed_train_rows": 20,
        "cl.max_pairs": 64,
        "seed": 1,
    }
    return build_config("three_phase", {**settings, **extra})


def cancel_at_first_ft_step(progress: Progress):
    def sink(event: dict) -> None:
        if event.get("type") == "loss" and event.get("phase") == "ft":
            progress.request_cancel()  # Progress.step raises Cancelled right after this step

    progress.sinks.append(sink)
    return progress


def scores(run: Run) -> dict:
    m = run.metrics
    return {
        "validation": m["validation"],
        "test": m["test"],
        "ft": m["ft"]["best_val_acc"],
        "phases": {p: {k: v.get(k) for k in ("silhouette", "knn_acc")} for p, v in m["phases"].items()},
    }


def test_a_cancelled_run_resumes_after_its_last_phase_and_ends_as_an_uninterrupted_one(tiny_model_path, tmp_path):
    from threephase_core.jobs import JobManager

    cfg = small_config(tiny_model_path)
    whole = RunStore(tmp_path / "whole").create(cfg.recipe, cfg.dataset, cfg.seed)
    assert execute(cfg, whole, Progress())["state"] == "done"
    assert not (whole.path / "checkpoints").exists()  # keep_checkpoints=false: only the final model stays

    store = RunStore(tmp_path / "runs")
    run = store.create(cfg.recipe, cfg.dataset, cfg.seed)
    assert execute(cfg, run, cancel_at_first_ft_step(Progress()))["state"] == "cancelled"
    assert checkpoints.resume_point(run, cfg.phases) == "cl"
    assert set(checkpoints.disk_use(run)) == {"dae", "cl"} and all(n > 0 for n in checkpoints.disk_use(run).values())
    before = run.metrics["phases"]
    created = run.status["created"]

    mgr = JobManager(store.root)
    try:
        job = mgr.resume(run.id)
        assert job.wait(HANG_GUARD_S) and job.result["state"] == "done", job.result
    finally:
        mgr.shutdown()
    status = run.status
    assert (status["state"], status["resumed_from"], status["created"]) == ("done", "cl", created)
    assert {"dae", "cl", "ft"} <= set(status["phase_walls"])
    resumed = [e for e in run.events() if e.get("type") == "resumed"]
    assert [e["from_phase"] for e in resumed] == ["cl"]
    later = run.events()[run.events().index(resumed[0]) :]
    assert {e.get("phase") for e in later if e.get("type") == "phase_start"} == {"ft"}
    for phase in ("base", "dae", "cl"):  # finished phases' metrics are kept
        assert run.metrics["phases"][phase] == before[phase]
    assert scores(run) == scores(whole)  # the saved encoder and random state: the same run as without the stop
    assert run.has_model() and not (run.path / "checkpoints").exists()


def test_a_run_killed_during_ft_resumes_from_its_cl_encoder_and_finishes(tiny_model_path, tmp_path, capsys):
    runs = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "threephase_core",
        "run",
        "--recipe",
        "cl_ft",
        "--model",
        tiny_model_path,
        "--device",
        "cpu",
        "--set",
        "cl.max_pairs=64",
        "--set",
        "ft.epochs=100",
        "--set",
        "ft.patience=100",
        "--set",
        "embed_rows=20",
        "--set",
        "embed_train_rows=20",
        "--quiet",
        "--runs-dir",
        str(runs),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=tmp_path,
    )
    try:
        _wait_for_ft_step(proc, runs)  # ~100 epochs of FT still to go
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    (path,) = runs.iterdir()
    run = Run(path)
    assert run.status["state"] == "running" and not run.has_model()  # killed: nothing could mark it
    cl_metrics = run.metrics["phases"]["cl"]

    # The settings of the phase still to run may change; ft.epochs=1 keeps the test short.
    rc = cli_module.main(["run", "--resume", str(path), "--set", "ft.epochs=1", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "resuming recipe cl_ft after cl; to run: ft" in out and "best validation accuracy" in out
    status = run.status
    assert (status["state"], status["resumed_from"]) == ("done", "cl")
    assert [e["from_phase"] for e in run.events() if e.get("type") == "resumed"] == ["cl"]
    assert run.metrics["phases"]["cl"] == cl_metrics and "ft" in run.metrics["phases"]
    assert run.config["ft"]["epochs"] == 1 and run.has_model()
    assert not (path / "checkpoints").exists()


def _wait_for_ft_step(proc: subprocess.Popen, runs: Path) -> None:
    """Block until the run's event log shows an FT training step (polled)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        for log in runs.glob("*/events.jsonl"):
            for line in log.read_text().splitlines():
                try:
                    event = json.loads(line)
                except ValueError:  # a line being written
                    continue
                if event.get("type") == "loss" and event.get("phase") == "ft":
                    return
        assert proc.poll() is None, f"the run ended before FT:\n{proc.communicate()[0]}"
        assert time.monotonic() < deadline, "FT never started"
        time.sleep(0.1)


def test_kept_checkpoints_are_reported_with_their_size(tiny_model_path, tmp_path, capsys):
    rc = cli_module.main(
        [
            "run",
            "--recipe",
            "dae_ft",
            "--model",
            tiny_model_path,
            "--max-steps",
            "2",
            "--set",
            "embed_rows=20",
            "--set",
            "keep_checkpoints=true",
            "--quiet",
            "--runs-dir",
            str(tmp_path),
        ]
    )
    assert rc == 0
    assert "phase checkpoints kept (keep_checkpoints=true): dae " in capsys.readouterr().out
    (path,) = tmp_path.iterdir()
    assert checkpoints.is_whole(Run(path), "dae")


@pytest.fixture(scope="module")
def cancelled_run(tiny_model_path, tmp_path_factory) -> Run:
    cfg = small_config(tiny_model_path)
    run = RunStore(tmp_path_factory.mktemp("runs")).create(cfg.recipe, cfg.dataset, cfg.seed)
    assert execute(cfg, run, cancel_at_first_ft_step(Progress()))["state"] == "cancelled"
    return run


@pytest.mark.parametrize(
    "args, message",
    [
        (["--recipe", "ft"], "--recipe cannot be given with --resume"),
        (["--seed", "2"], "--seed cannot be given with --resume"),
        (["--set", "seed=2"], "seed cannot change when the run resumes"),
        (["--set", "cl.lr=1e-3"], "cl.lr cannot change when the run resumes"),
        (["--set", "ft.lr=fast"], "ft.lr='fast' is not a valid float"),
    ],
)
def test_resume_refuses_changes_to_finished_phases(cancelled_run, args, message, capsys):
    assert cli_module.main(["run", "--resume", str(cancelled_run.path), *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert cancelled_run.status["state"] == "cancelled"


def test_resume_refuses_a_finished_run_and_a_missing_one(tiny_model_path, tmp_path, capsys):
    cfg = small_config(tiny_model_path, max_steps=1)
    store = RunStore(tmp_path)
    run = store.create(cfg.recipe, cfg.dataset, cfg.seed)
    assert execute(cfg, run, Progress())["state"] == "done"
    assert cli_module.main(["run", "--resume", run.id, "--runs-dir", str(tmp_path)]) == 2
    assert "has finished; nothing to resume" in capsys.readouterr().err
    assert cli_module.main(["run", "--resume", "no-such-run", "--runs-dir", str(tmp_path)]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err
    assert cli_module.main(["run", "--resume", str(tmp_path / "gone"), "--runs-dir", str(tmp_path)]) == 2
    assert "no run" in capsys.readouterr().err
    from threephase_core.config import ConfigError
    from threephase_core.jobs import JobManager

    mgr = JobManager(tmp_path)
    try:
        with pytest.raises(ConfigError, match="nothing to resume"):
            mgr.resume(run.id)
    finally:
        mgr.shutdown()


def test_the_results_pages_resume_button_finishes_a_cancelled_run(tiny_model_path, tmp_runs):
    """The Results page offers Resume for a cancelled run; the job goes on after CL and finishes."""
    from streamlit.testing.v1 import AppTest

    from threephase_core import workbench

    cfg = small_config(tiny_model_path)
    run = RunStore(tmp_runs).create(cfg.recipe, cfg.dataset, cfg.seed)
    assert execute(cfg, run, cancel_at_first_ft_step(Progress()))["state"] == "cancelled"
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300)
    at.switch_page("pages/results.py")
    try:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("Phase checkpoints on disk: dae" in c.value for c in at.caption)
        at.button(key=f"res:resume:{run.id}").click().run()
        assert not at.exception, [e.value for e in at.exception]
        (job,) = [j for m in workbench.managers() for j in m.jobs()]
        assert job.owner == at.session_state["wb._session"]  # the session that pressed Resume may stop it
        assert job.wait(HANG_GUARD_S) and job.result["state"] == "done", job.result
        assert (run.status["state"], run.status["resumed_from"]) == ("done", "cl") and run.has_model()
    finally:
        workbench.shutdown_managers()
