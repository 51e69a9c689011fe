"""Values read from a run's JSON files, which may be damaged: a section that is not an object, a
metric that is not a number. The tables take these instead of raising."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_dict(value: Any) -> dict:
    """`value` if it is a dict, else {}: metrics.json sections of a damaged file."""
    return value if isinstance(value, dict) else {}


def as_number(value: Any) -> float | None:
    """`value` as a float if it is a real number (not a bool), else None: a damaged metric must
    not reach the tables and the pages' number formatting as a string or a list."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value)


def as_seed(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None
