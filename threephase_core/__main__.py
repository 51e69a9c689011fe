"""`python -m threephase_core`: the command line (threephase_core/cli.py)."""

from threephase_core.cli import entry_point

entry_point()
