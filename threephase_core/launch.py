"""Start the processes of a ``run --nproc N`` with torch's own launcher, and say how they ended.

The command has already checked the input and made the run folder; here it starts N copies of
itself through `torch.distributed.run` (torchrun's code: a local rendezvous, then one process
per GPU, or N CPU processes under gloo), each told the run folder with ``--run-folder``. Process
0 writes the folder (`distributed.py`). When the processes have ended, the caller reports from
the folder, as a one-process run reports from its result.

* Ctrl-C (SIGINT) here: the launcher passes it on to every process; they stop together at the
  next step and the run is marked cancelled with its finished phases. A process still running
  after `SHUTDOWN_GRACE_S` is killed, and the run is marked cancelled here.
* A process that fails: it writes its message to the run folder and exits; the launcher stops
  the others. A process that died without a word (killed, out of memory) is named here.

Several machines: run ``torchrun --nnodes ... --rdzv-endpoint HOST:PORT -m threephase_core run
...`` on each (see the README); this module is the one-machine shortcut.
"""

from __future__ import annotations

import signal
import sys
import threading

# Seconds the processes get to stop after a Ctrl-C (they stop at the next step; the leader may
# first finish the embeddings it is writing) before the launcher kills them.
SHUTDOWN_GRACE_S = 60


def launch(argv: list[str], nproc: int, run_folder: str) -> dict:
    """Run the `run` command's arguments `argv` in `nproc` processes writing `run_folder`.

    Returns how the processes ended: {"signal": the signal that stopped the launcher or None,
    "failures": {rank: text} for processes that exited with an error}."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    args = parse_args(
        [
            "--standalone",
            f"--nproc-per-node={nproc}",
            "--max-restarts=0",
            f"--shutdown-timeout={SHUTDOWN_GRACE_S}",
            "--module",
            "threephase_core",
        ]
    )
    # Set after parsing: torchrun's parser would take our --nproc for an abbreviation of its own.
    args.training_script_args = [*argv, "--run-folder", str(run_folder)]
    outcome: dict = {"signal": None, "failures": {}}
    # The launcher sets its own handlers for these (in the main thread); they are put back after.
    handled = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)]
    previous = {sig: signal.getsignal(sig) for sig in handled}
    try:
        run(args)
    except SignalException as e:
        outcome["signal"] = signal.Signals(e.sigval).name
    except ChildFailedError as e:
        outcome["failures"] = {int(rank): _describe(f) for rank, f in e.failures.items()}
    except Exception as e:  # noqa: BLE001 - e.g. no free port for the rendezvous: said, not raised
        outcome["error"] = f"the processes could not be started ({type(e).__name__}: {e})"
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in previous.items():
                if handler is not None:
                    signal.signal(sig, handler)
    sys.stdout.flush()
    return outcome


def _describe(failure) -> str:
    """'exit status 1' or 'killed by SIGKILL' for a process's ProcessFailure."""
    code = int(failure.exitcode)
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
