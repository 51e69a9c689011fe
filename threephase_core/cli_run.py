"""The `run` command: arguments to a RunConfig, a run folder, a progress bar, Ctrl-C, the report.

What Ctrl-C does at each moment (see `_ctrl_c_cancels`): during a phase it stops the run at the
next step (status "cancelled", exit 130, finished phases kept); a second one quits at once; after
the last training step it is too late to stop anything (the run finishes, the report says so,
exit 0). `--config` and `--resume` are read here too (command_line.py, checkpoints.py).

`--nproc N` (N > 1) and a process started by ``torchrun``/``accelerate launch`` go through
cli_team.py (distributed.py says how the work is split). What the command prints (the header,
the progress bars, the report) is cli_report.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from threephase_core import cli_report
from threephase_core.config import ConfigError


def run_command(args) -> int:
    """Check the input, make the run folder, run the recipe in a worker thread and report.

    Everything that can be refused (settings, data, a local model path, the runs folder) is
    checked before the run folder is made, so bad input leaves no failed run behind.
    """
    from threephase_core import distributed
    from threephase_core.data import DataError

    if distributed.launched():
        from threephase_core.cli_team import run_in_team

        return run_in_team(args)
    if args.resume:
        return _resume(args)
    try:
        cfg, dataset = _prepare(args)
    except (ConfigError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if cfg.nproc > 1:
        from threephase_core.cli_team import launch_processes
        from threephase_core.runstore import Run

        # --run-folder: the workbench's queue made the folder (job_processes.py)
        return launch_processes(args, cfg, dataset, Run(args.run_folder) if args.run_folder else None)
    run = _create_run(args.runs_dir, cfg)
    if run is None:
        return 2
    cli_report.print_header(run, cfg, dataset)
    result, progress = _execute(cfg, run, dataset, quiet=args.quiet)
    return cli_report.report(result, progress, run)


# Flags that would change what a resumed run's finished phases were trained with.
_NOT_WITH_RESUME = (
    "config",
    "recipe",
    "dataset",
    "model",
    "seed",
    "text_column",
    "label_column",
    "label_sep",
    "unlabelled",
    "unlabelled_rows",
    "labels_per_class",
    "label_fraction",
    "gpu_preset",
    "nproc",
)


def _resume(args) -> int:
    """Go on with a stopped run from its last finished phase, in its folder, with its saved config;
    --set, --device and --max-steps may change what the phases still to run use. A run of several
    processes goes on with as many (cli_team.py)."""
    from threephase_core import checkpoints
    from threephase_core.data import DataError

    try:
        run, cfg, dataset, start = resume_input(args)
    except (ConfigError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    todo = " -> ".join(checkpoints.remaining(cfg.phases, start))
    print(
        f"run {run.id}: resuming recipe {cfg.recipe} "
        f"{f'after {start}' if start else 'from the start (no finished phase was saved)'}; to run: {todo}"
    )
    if cfg.nproc > 1:
        from threephase_core.cli_team import launch_processes

        return launch_processes(args, cfg, dataset, run)
    result, progress = _execute(cfg, run, dataset, quiet=args.quiet, resume=True)
    return cli_report.report(result, progress, run)


def resume_input(args):
    """(run, config, data, the phase it goes on after) of `--resume`; raises ConfigError/DataError."""
    from threephase_core import checkpoints
    from threephase_core.config import load_config
    from threephase_core.data import dataset_for

    given = [name for name in _NOT_WITH_RESUME if getattr(args, name) not in (None, False)]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise ConfigError(
            f"{flag} cannot be given with --resume: the run goes on with its saved config "
            "(--set changes the settings of the phases still to run)"
        )
    run = checkpoints.find_run(args.resume, args.runs_dir)
    problem = checkpoints.resume_problem(run)
    if problem:
        raise ConfigError(problem)
    try:
        saved = load_config(run.path / "config.json")
    except ValueError as e:
        raise ConfigError(f"the saved config of run {run.id} cannot be read ({e})") from None
    start = checkpoints.resume_point(run, saved.phases)
    extra = list(args.overrides) + [
        f"{key}={getattr(args, key)}" for key in ("device", "max_steps") if getattr(args, key) is not None
    ]
    for item in extra:
        problem = checkpoints.resume_change_problem(_set_key(item), saved.phases, start)
        if problem:
            raise ConfigError(problem)
    cfg = saved.with_overrides(extra).validate()
    dataset = dataset_for(cfg, root=args.data_root)
    return run, cfg, dataset, start


def _prepare(args):
    """The run's config and data; raises ConfigError/DataError on bad input."""
    from threephase_core.command_line import config_from_settings
    from threephase_core.data import dataset_for
    from threephase_core.encoder import local_model_problem

    cfg, extra, file_settings = config_from_args(args)
    problem = local_model_problem(cfg.model)
    if problem:
        raise ConfigError(problem)
    dataset = dataset_for(cfg, root=args.data_root)
    dataset.at_level(cfg.ft.level)  # a level the labels lack is refused before the run folder is made
    if args.gpu_preset:
        preset = _gpu_preset(cfg, len(dataset.train))
        if preset:
            cfg = config_from_settings(args.recipe, {**preset, **file_settings}, extra)  # the user's settings win
            print("GPU preset: " + ", ".join(f"{k}={v}" for k, v in preset.items()))
    return cfg, dataset


# Decided by --recipe: a --set would be quietly reset by the recipe, so it is refused.
_RECIPE_KEYS = ("recipe", "phases")


def config_from_args(args):
    """The run's config from the `run` command's arguments, without reading the data: the config file
    (--config) if any, then --recipe, the flags and --set (see `command_line.config_from_settings`); a
    dataset named by a folder under the data root is recorded as that folder. Returns (config, the
    key=value items, the file's settings); raises ConfigError."""
    from threephase_core.command_line import config_from_settings, read_config_file
    from threephase_core.data_root import resolve_dataset

    file_settings = read_config_file(args.config) if args.config else {}
    extra = _overrides(args, file_settings)
    cfg = config_from_settings(args.recipe, file_settings, extra)
    folder = resolve_dataset(cfg.dataset, args.data_root)
    if folder != cfg.dataset:  # a name under the data root: the run records the folder it reads
        extra.append(f"dataset={folder}")
        cfg = config_from_settings(args.recipe, file_settings, extra)
    return cfg, extra, file_settings


def _overrides(args, file_settings: dict | None = None) -> list[str]:
    """The run's key=value settings: the user's --set values, then the flags that were given, then
    the command line's defaults for what neither they nor the config file (`file_settings`) give.

    Raises ConfigError when a key is given both as a flag and as --set (rather than quietly
    letting one win) and for --set recipe=/phases=, which the recipe decides.
    """
    from threephase_core.command_line import FLAG_DEFAULTS, FLAG_KEYS

    extra = list(args.overrides)
    given = {_set_key(o) for o in extra}
    for key in _RECIPE_KEYS:
        if key in given:
            raise ConfigError(
                f"--set {key}=... is refused: the recipe decides it; choose the recipe with --recipe "
                "(`python -m threephase_core recipes` lists them)"
            )
    for key in FLAG_KEYS:
        value = getattr(args, key)
        if value is not None and key in given:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{key} is given twice ({flag} and --set {key}=...); give it once")
        if value is None and key not in given and key not in (file_settings or {}):
            value = FLAG_DEFAULTS.get(key)
        if value is not None:
            extra.append(f"{key}={value}")
    return extra


def _set_key(item: str) -> str:
    """The key of a --set item ('ft.lr' of 'ft.lr=3e-5'); a malformed item is left to the config."""
    return item.split("=", 1)[0].strip()


def _create_run(runs_dir: str | None, cfg):
    """A new run folder, or None after printing why the runs folder cannot hold one."""
    from threephase_core.runstore import RunStore

    store = RunStore(runs_dir)
    try:
        return store.create(cfg.recipe, cfg.dataset, cfg.seed)
    except OSError as e:
        print(
            f"error: cannot create a run folder in {store.root} ({_why_not_made(e)}); choose another --runs-dir",
            file=sys.stderr,
        )
        return None


def _why_not_made(e: OSError) -> str:
    """The reason a folder could not be made, in words ("a file of that name is in the way")."""
    if isinstance(e, FileExistsError):
        return "a file of that name is in the way"
    if isinstance(e, NotADirectoryError):
        return "part of the path is a file"
    return (e.strerror or str(e)).lower()


def _execute(cfg, run, dataset, quiet: bool, resume: bool = False, team=None):
    """Run the recipe in a worker thread while this thread draws the progress bar.

    The worker sets `done` when it ends; this thread waits on that event, never in
    Thread.join, and Ctrl-C only asks for a cancel (see `_ctrl_c_cancels`); in a process of a
    team the processes agree on it first (distributed.TeamProgress).
    Returns (execute's result, the Progress).
    """
    from threephase_core.distributed import TeamProgress
    from threephase_core.progress import Progress
    from threephase_core.runner import execute

    progress, result, done = (Progress() if team is None else TeamProgress()), {}, threading.Event()

    def work() -> None:
        try:
            result.update(execute(cfg, run, progress, dataset, resume=resume, team=team))
        finally:
            done.set()

    worker = threading.Thread(target=work, name="threephase-cli-run", daemon=True)
    with _ctrl_c_cancels(progress, run if team is None or team.leader else None, done):
        worker.start()
        if team is None or team.leader:
            cli_report.watch(progress, done, quiet=quiet)
        else:
            done.wait()
        worker.join()
    return result, progress


@contextlib.contextmanager
def _ctrl_c_cancels(progress, run, done: threading.Event):
    """While the run is in progress, Ctrl-C asks it to stop at the next step; a second one quits.

    Why not KeyboardInterrupt: on Python 3.11 one landing in Thread.join marks the worker as
    stopped while it still runs, so the process exits and kills the worker inside torch
    ("terminate called without an active exception") and the run stays "running". The handler
    only sets the cancel flag (the watcher prints the notice: printing from a signal handler can
    collide with the progress bar's writes).

    The handler stays in place until the command has reported (`main` puts the previous one back
    at its very end), so a Ctrl-C between the run's end and the report is recorded as a request
    that came too late instead of killing the process after a complete run. Signal handlers can
    only be set in the main thread, and an ignored SIGINT (nohup) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return

    def on_sigint(signum, frame) -> None:
        if progress.cancel_requested and not done.is_set():
            _force_quit(run)
        progress.request_cancel()  # after the run has ended this only marks the request as too late

    signal.signal(signal.SIGINT, on_sigint)
    yield


def _force_quit(run) -> None:
    """The second Ctrl-C: mark the run cancelled and leave now (phases already saved stay).
    `run` is None in the processes of a team other than the leader, which write nothing."""
    if run is None:
        os._exit(130)
    os.write(2, b"\nquitting now; finished phases are in " + str(run.path).encode() + b"\n")
    try:
        run.update_status(state="cancelled", message="quit by a second Ctrl-C")
    finally:
        os._exit(130)


def _gpu_preset(cfg, train_rows: int) -> dict:
    """The GPU preset for this run, or {} (with a note) when it will not run on a GPU."""
    from threephase_core import gpu_presets

    memory = gpu_presets.gpu_memory_gib()
    if memory is None or cfg.device == "cpu":
        print("note: --gpu-preset ignored: the run is on the CPU", file=sys.stderr)
        return {}
    return gpu_presets.recipe_gpu_settings(cfg.recipe, train_rows, memory, cfg.max_length)
