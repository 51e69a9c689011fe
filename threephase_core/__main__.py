"""`python -m threephase_core`: the command line (threephase_core/cli.py)."""
import signal

from threephase_core.cli import main

status = main()
# The work is done and reported. A Ctrl-C from here on lands in the interpreter's teardown
# (torch's atexit hooks) and printed a KeyboardInterrupt traceback there; with the default
# action the process just ends, as the user asked.
if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # an ignored Ctrl-C (nohup) stays ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)
raise SystemExit(status)
