"""A run split over 2 processes (gloo on the CPU, the tiny encoder, a few steps per phase).

- It trains as one process does at the same global batch: the same losses at every step of
  DAE, CL and FT, the same final predictions; its run folder is complete and written once.
- A Ctrl-C stops every process and leaves the run cancelled with its finished phases.
- A failure in one process fails the run with that process's message; no process is left.
- The pieces without processes: each process's share of a batch, agreed stops, the config.

The multi-process tests start the real command (``threephase run --nproc 2``) and wait for
events in the run folder or for the command's end, never for time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from threephase_core.config import RunConfig, from_dict, load_config, save_config
from threephase_core.distributed import Team, TeamProgress
from threephase_core.progress import Cancelled
from threephase_core.recipes import build_config
from threephase_core.runner import run_recipe

ROOT = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 900  # a guard against a hung child only: every wait ends on an event long before

# Learning rates high enough that a few steps change the model and its predictions.
SETTINGS = {
    "dae.lr": 1e-3,
    "cl.lr": 1e-3,
    "ft.lr": 1e-3,
    "ft.dropout": 0.0,  # dropout masks are drawn per process: none, so both runs draw nothing
    "embed_rows": 24,
    "embed_train_rows": 24,
}
PER_PROCESS_BATCH = 4


@pytest.fixture(scope="module")
def still_model(tiny_model_path, tmp_path_factory) -> str:
    """The tiny encoder without dropout (see SETTINGS)."""
    path = tmp_path_factory.mktemp("models") / "tiny-no-dropout"
    shutil.copytree(tiny_model_path, path)
    config = json.loads((path / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


def _command(model: str, runs: Path, recipe: str, settings: dict, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "threephase_core", "run", "--recipe", recipe, "--model", model]
    cmd += ["--runs-dir", str(runs), "--quiet", *extra]
    for key, value in settings.items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


def _env(**extra: str) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **extra}


def _start(cmd: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    def sigint_default() -> None:  # a test session started in the background may ignore SIGINT
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(**env),
        cwd=cwd,
        preexec_fn=sigint_default,  # noqa: PLW1509 - only a signal reset
    )


def _finish(proc: subprocess.Popen) -> str:
    try:
        output, _ = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return output


def _events(run: Path) -> list[dict]:
    out = []
    log = run / "events.jsonl"
    if log.exists():
        for line in log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # a line being written
                continue
    return out


def _only_run(runs: Path) -> Path:
    folders = [p for p in runs.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def _wait_for_event(proc: subprocess.Popen, runs: Path, wanted) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not any(wanted(e) for p in runs.glob("*") for e in _events(p)):
        assert proc.poll() is None, f"the command ended before the awaited event:\n{proc.communicate()[0]}"
        assert time.monotonic() < deadline, "the awaited event never came"
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    """No such process, or only its exit status left (a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _losses(run: Path) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list] = {}
    for e in _events(run):
        if e.get("type") == "loss":
            out.setdefault(e["phase"], []).append((e["step"], e["loss"]))
    return out


# ---- two processes train as one -----------------------------------------------------------
def test_two_processes_train_as_one_process_at_the_same_global_batch(still_model, tmp_path):
    steps = 4
    one = tmp_path / "one"
    global_batch = {f"{p}.batch_size": PER_PROCESS_BATCH * 2 for p in ("dae", "cl", "ft")}
    cfg = build_config("three_phase", {**SETTINGS, **global_batch, "model": still_model, "max_steps": steps})
    reference, result = run_recipe(cfg, one)
    reference_folder = reference.path
    assert result["state"] == "done", result

    two = tmp_path / "two"
    per_process = {f"{p}.batch_size": PER_PROCESS_BATCH for p in ("dae", "cl", "ft")}
    cmd = _command(still_model, two, "three_phase", {**SETTINGS, **per_process}, "--nproc", "2")
    proc = _start(cmd + ["--max-steps", str(steps)], tmp_path)
    output = _finish(proc)
    assert proc.returncode == 0, output
    assert "best validation accuracy" in output and "Traceback" not in output
    run = _only_run(two)  # one folder, made once

    # The same loss at every step of every phase.
    expected, got = _losses(reference_folder), _losses(run)
    assert list(got) == ["dae", "cl", "ft"] and list(expected) == list(got)
    for phase in got:
        assert [s for s, _ in got[phase]] == list(range(1, steps + 1)), got[phase]  # each step logged once
        np.testing.assert_allclose(
            [v for _, v in got[phase]], [v for _, v in expected[phase]], rtol=1e-3, err_msg=phase
        )
    assert expected["ft"][0][1] != pytest.approx(expected["ft"][-1][1], rel=1e-2)  # the model did change

    # The same final predictions.
    for split in ("", "train/"):
        mine = np.load(run / "embeddings" / f"{split}ft.npz")
        theirs = np.load(reference_folder / "embeddings" / f"{split}ft.npz")
        np.testing.assert_allclose(mine["proba"], theirs["proba"], atol=1e-3)
        assert (mine["proba"].argmax(1) == theirs["proba"].argmax(1)).all()
        np.testing.assert_allclose(mine["embeddings"], theirs["embeddings"], atol=1e-3)
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("validation", "test"):
        assert metrics[split]["accuracy"] == pytest.approx(reference.metrics[split]["accuracy"])

    # Complete, and written once: every part of a run folder, one start and one end.
    for part in ("config.json", "status.json", "data.json", "metrics.json", "model"):
        assert (run / part).exists(), part
    assert sorted(p.name for p in (run / "embeddings").glob("*.npz")) == ["base.npz", "cl.npz", "dae.npz", "ft.npz"]
    kinds = [e["type"] for e in _events(run)]
    assert kinds.count("state") == 2 and kinds.count("saved") == 1 and kinds.count("eval") == 1
    assert [kinds.count("phase_start"), kinds.count("phase_end")] == [3, 3]
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "done" and status["processes"] == 2 and status["backend"] == "gloo"
    assert all(_gone(pid) for pid in status["pids"])
    config = json.loads((run / "config.json").read_text())
    assert config["nproc"] == 2 and config["ft"]["batch_size"] == PER_PROCESS_BATCH
    assert config["global_batch"] == {"dae": 2 * PER_PROCESS_BATCH, "cl": 2 * PER_PROCESS_BATCH, "ft": 8}
    assert load_config(run / "config.json").nproc == 2


def test_joint_on_two_processes_trains_as_one_process_at_the_same_global_batch(still_model, tmp_path):
    """Joint (L_CL + weight * L_DAE on one model) splits both its batches between the processes:
    the same summed loss at every step, then the same FT and predictions."""
    steps = 3
    settings = {**SETTINGS, "dae.joint_weight": 1.0}  # both terms weigh in the loss compared
    global_batch = {f"{p}.batch_size": PER_PROCESS_BATCH * 2 for p in ("dae", "cl", "ft")}
    cfg = build_config("joint", {**settings, **global_batch, "model": still_model, "max_steps": steps})
    reference, result = run_recipe(cfg, tmp_path / "one")
    assert result["state"] == "done", result

    per_process = {f"{p}.batch_size": PER_PROCESS_BATCH for p in ("dae", "cl", "ft")}
    cmd = _command(still_model, tmp_path / "two", "joint", {**settings, **per_process}, "--nproc", "2")
    proc = _start(cmd + ["--max-steps", str(steps)], tmp_path)
    output = _finish(proc)
    assert proc.returncode == 0, output
    run = _only_run(tmp_path / "two")
    expected, got = _losses(reference.path), _losses(run)
    assert list(got) == ["joint", "ft"] and list(expected) == list(got)
    for phase in got:
        assert [s for s, _ in got[phase]] == list(range(1, steps + 1)), got[phase]
        np.testing.assert_allclose([v for _, v in got[phase]], [v for _, v in expected[phase]], rtol=1e-3)
    mine, theirs = np.load(run / "embeddings" / "ft.npz"), np.load(reference.path / "embeddings" / "ft.npz")
    np.testing.assert_allclose(mine["proba"], theirs["proba"], atol=1e-3)


# ---- stop and failure ---------------------------------------------------------------------
# Many FT epochs and patience at its limit: nothing ends the run before the test does.
LONG_FT = {"dae.epochs": 1, "ft.epochs": 100, "ft.patience": 100, "embed_rows": 20, "embed_train_rows": 20}


def test_ctrl_c_stops_every_process_and_keeps_the_finished_phases(tiny_model_path, tmp_path):
    runs = tmp_path / "runs"
    proc = _start(_command(tiny_model_path, runs, "dae_ft", LONG_FT, "--nproc", "2"), tmp_path)
    try:
        _wait_for_event(proc, runs, lambda e: e.get("type") == "loss" and e.get("phase") == "ft")
        proc.send_signal(signal.SIGINT)  # what Ctrl-C, or a stop from the workbench, sends
    finally:
        output = _finish(proc)
    assert proc.returncode == 130, output
    assert "cancelled; finished phases are in" in output
    run = _only_run(runs)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "cancelled" and status["message"] == "stopped by request"
    assert "dae" in status["phase_walls"] and "ft" not in status["phase_walls"]
    assert (run / "embeddings" / "dae.npz").exists() and not (run / "embeddings" / "ft.npz").exists()
    assert (run / "checkpoints" / "dae").is_dir()  # the run can go on from there
    assert all(_gone(pid) for pid in status["pids"])
    assert [e["state"] for e in _events(run) if e["type"] == "state"] == ["running", "cancelled"]

    # It goes on with as many processes from its last finished phase.
    again = [sys.executable, "-m", "threephase_core", "run", "--resume", str(run), "--quiet"]
    proc = _start(again + ["--set", "ft.epochs=1", "--max-steps", "2"], tmp_path)
    output = _finish(proc)
    assert proc.returncode == 0, output
    assert "resuming recipe dae_ft after dae" in output and "best validation accuracy" in output
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "done" and status["processes"] == 2 and status["resumed_from"] == "dae"
    assert (run / "embeddings" / "ft.npz").exists() and _only_run(runs) == run


# Imported by every Python process started with this folder first on PYTHONPATH: process 1 of
# the run fails at its first FT step; process 0 and the launcher are left as they are.
_FAIL_IN_PROCESS_1 = """
import os
if os.environ.get("RANK") == "1":
    from threephase_core import progress

    original = progress.Progress.step

    def step(self, *args, **kwargs):
        if self.phase == "ft":
            raise RuntimeError("the GPU of process 1 caught fire")
        return original(self, *args, **kwargs)

    progress.Progress.step = step
"""


def test_a_failure_in_one_process_fails_the_run_with_its_message(tiny_model_path, tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_FAIL_IN_PROCESS_1)
    runs = tmp_path / "runs"
    proc = _start(
        _command(tiny_model_path, runs, "dae_ft", LONG_FT, "--nproc", "2"),
        tmp_path,
        PYTHONPATH=f"{hook}{os.pathsep}{ROOT}",
    )
    output = _finish(proc)
    assert proc.returncode == 1, output
    message = "process 1 of 2 failed: RuntimeError: the GPU of process 1 caught fire"
    assert f"error: {message}" in output
    run = _only_run(runs)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and status["message"] == message
    # The DAE was over in every process before the FT step that failed: it is kept.
    assert (run / "checkpoints" / "dae").is_dir() and (run / "embeddings" / "dae.npz").exists()
    assert all(_gone(pid) for pid in status["pids"])
    events = _events(run)
    assert [e for e in events if e["type"] == "state"][-1]["message"] == message
    assert sum(e["type"] == "traceback" for e in events) == 1


def test_torchrun_with_two_nodes_on_one_host_runs_and_reports(tiny_model_path, tmp_path):
    """`torchrun` as on two machines (one process each, a c10d rendezvous): process 0 makes the
    run folder, writes it and reports; no --nproc launcher is involved."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runs = tmp_path / "runs"
    run_args = ["-m", "threephase_core", "run"] + _command(tiny_model_path, runs, "ft", SETTINGS)[4:]
    nodes = [
        _start(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1"]
            + ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "two-nodes"]
            + run_args
            + ["--max-steps", "2"],
            tmp_path,
        )
        for _ in range(2)
    ]
    outputs = [_finish(node) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert sum("best validation accuracy" in out for out in outputs) == 1  # process 0 reports, once
    run = _only_run(runs)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "done" and status["processes"] == 2
    assert json.loads((run / "config.json").read_text())["nproc"] == 2
    assert [s for s, _ in _losses(run)["ft"]] == [1, 2]


# ---- the pieces, without processes --------------------------------------------------------
def _team(rank: int, size: int = 2) -> Team:
    return Team(rank=rank, size=size, local_rank=rank, device="cpu", backend="gloo", control=None)


def test_each_process_takes_every_nth_text_of_a_batch_and_the_shares_cover_it():
    batch = np.array([5, 1, 7, 3, 9])
    parts = [_team(r).share(batch) for r in range(2)]
    assert [p.tolist() for p, _ in parts] == [[5, 7, 9], [1, 3]]
    assert [w for _, w in parts] == [pytest.approx(3 / 5), pytest.approx(2 / 5)]
    # The DAE's (noisy texts, indices): the texts go whole, the indices are shared.
    noisy = object()
    (part, idx), weight = _team(1).share((noisy, np.arange(4)))
    assert part is noisy and idx.tolist() == [1, 3] and weight == 0.5
    # Joint's (pairs, (noisy texts, indices)) and the frozen FT's index tensors.
    (pairs, (_, texts)), _ = _team(0).share((np.arange(6), (noisy, np.arange(4))))
    assert pairs.tolist() == [0, 2, 4] and texts.tolist() == [0, 2]
    part, _ = _team(1).share(torch.arange(4))
    assert part.tolist() == [1, 3]


def test_a_process_with_nothing_in_a_small_batch_runs_process_0s_part_at_weight_0():
    part, weight = _team(2, size=3).share(np.array([4, 8]))
    assert part.tolist() == [4] and weight == 0.0


def test_a_stop_asked_of_one_process_waits_for_the_team():
    progress = TeamProgress()
    progress.start_phase("ft", 10)
    progress.request_cancel()
    progress.step(1, loss=1.0)  # a wish only: no Cancelled before the processes agree
    assert progress.cancel_requested
    team = _team(0)
    team.agree = lambda *wishes: wishes  # as if alone: the agreement is this process's wish
    with pytest.raises(Cancelled):
        team.stop_together(progress)
    with pytest.raises(Cancelled):
        progress.step(1)  # and from then on, every check says so


def test_the_config_records_processes_and_global_batch_and_reads_back(tmp_path):
    cfg = RunConfig().with_overrides({"nproc": 3, "ft.batch_size": 16})
    save_config(cfg, tmp_path / "config.json")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["global_batch"] == {"dae": 96, "cl": 96, "ft": 48}
    assert load_config(tmp_path / "config.json") == cfg
    save_config(RunConfig(), tmp_path / "one.json")
    assert "global_batch" not in json.loads((tmp_path / "one.json").read_text())  # one process: as before
    assert from_dict(saved).nproc == 3
