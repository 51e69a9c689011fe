"""The `run` command on several processes: the --nproc launcher's side, and each process's side.

* `launch_processes` (``threephase run --nproc N``, or `--resume` of such a run): checks the
  input, makes (or takes) the run folder, starts N processes of the same command with torch's
  launcher (launch.py) and reports from the run folder once they have all ended.
* `run_in_team`: one of those processes, or one started by ``torchrun`` / ``accelerate launch``
  (``WORLD_SIZE`` > 1): read the same input, join the process group (distributed.py), train on
  its share. Process 0 writes the run folder; it also makes the folder and reports when no
  --nproc launcher did.
"""

from __future__ import annotations

import os
import sys

from threephase_core.cli_report import print_header, report
from threephase_core.cli_run import _create_run, _execute, _prepare, resume_input
from threephase_core.config import ConfigError


def launch_processes(args, cfg, dataset, run=None) -> int:
    """Start cfg.nproc processes writing `run` (a new folder unless resuming) and report."""
    from threephase_core.launch import launch

    try:
        _check_processes(cfg)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if run is None:
        run = _create_run(args.runs_dir, cfg)
        if run is None:
            return 2
        print_header(run, cfg, dataset)
    outcome = launch(args.argv, cfg.nproc, str(run.path))
    return report_from_folder(run, outcome, cfg.nproc)


def _check_processes(cfg) -> None:
    """Refuse more GPU processes than GPUs (each process takes one GPU)."""
    import torch

    if cfg.device != "cpu" and torch.cuda.is_available() and cfg.nproc > torch.cuda.device_count():
        raise ConfigError(
            f"nproc={cfg.nproc} but {torch.cuda.device_count()} GPU(s) are visible: one process per GPU "
            "(or --device cpu for CPU processes)"
        )


def run_in_team(args) -> int:
    """One process of a data-parallel run: returns the command's exit status."""
    from threephase_core.data import DataError
    from threephase_core.distributed import Team, env_rank
    from threephase_core.runstore import Run

    run = None
    try:
        if args.resume:  # every process reads the stopped run's folder (storage they all see)
            run, cfg, dataset, _ = resume_input(args)
        else:
            cfg, dataset = _prepare(args)
        world = int(os.environ["WORLD_SIZE"])
        if cfg.nproc not in (1, world):
            raise ConfigError(f"nproc={cfg.nproc}, but the launcher started {world} processes; give one number")
        cfg = cfg.with_overrides({"nproc": world})
    except (ConfigError, DataError) as e:
        if env_rank() == 0:  # every process read the same input: one message is enough
            print(f"error: {e}", file=sys.stderr)
        return 2
    # Every process has read its input before any joins: no process writes the folder before all
    # have checked it (a resumed run is "running" once process 0 starts).
    team = Team.join(cfg.device)
    launcher_reports = bool(args.run_folder)  # the --nproc launcher made the folder and reports
    if run is None and team.leader:
        run = Run(args.run_folder) if launcher_reports else _create_run(args.runs_dir, cfg)
    path = team.broadcast(None if run is None else str(run.path))
    if path is None:  # process 0 could not make the folder (it said why)
        team.finish()
        return 2
    run = run or Run(path)
    if team.leader and not launcher_reports and not args.resume:
        print_header(run, cfg, dataset)
    quiet = args.quiet or not team.leader
    result, progress = _execute(cfg, run, dataset, quiet=quiet, resume=bool(args.resume), team=team)
    state = result.get("state")
    if state == "failed":
        # No goodbye: the others may be waiting in a collective this process will never join;
        # they fail when it is gone, or the launcher stops them.
        if result.get("reported") and not launcher_reports:
            print(f"error: {result.get('message')}", file=sys.stderr)
        return 1
    if team.leader and not launcher_reports:
        code = report(result, progress, run)
    else:
        code = 130 if state == "cancelled" else 0
    team.finish()
    return code


def report_from_folder(run, outcome: dict, nproc: int) -> int:
    """The --nproc launcher's report once every process has ended: what process 0 (or the first
    process that failed) wrote in the run folder; a run nobody marked as ended is marked here."""
    from threephase_core.progress import Progress
    from threephase_core.runstore import Run

    run = Run(run.path)
    status = run.status
    state, message = status.get("state"), status.get("message", "")
    if state not in ("done", "cancelled", "failed"):
        if outcome.get("signal"):
            state, message = "cancelled", f"stopped by request ({outcome['signal']})"
        elif outcome.get("error"):
            state, message = "failed", outcome["error"]
        else:
            failures = sorted(outcome.get("failures", {}).items())
            told = "; ".join(f"process {r} of {nproc}: {why}" for r, why in failures)
            state, message = "failed", f"the processes ended without a report ({told or 'no exit status'})"
        run.update_status(state=state, message=message)
    result = {"state": state, "message": message}
    if state == "done":
        result["metrics"] = run.metrics
    return report(result, Progress(), run)
