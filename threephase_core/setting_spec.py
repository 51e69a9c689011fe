"""One setting's declaration: its default, type, label and limits, and what it accepts in words.

`setting(...)` is how `config.py` declares each field, so that a setting's limits live beside it
and nowhere else; `SettingSpec` is what the CLI's validation, the Train form and the workbench's
saved-settings loader read (`config.spec(key)`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any


def setting(default: Any, label: str, **limits: Any) -> Any:
    """A config field with its label and limits (the keyword arguments of `SettingSpec`)."""
    return field(default=default, metadata={"label": label, **limits})


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its key as typed (`ft.lr`), type, default, label and limits."""

    key: str
    type: Any
    default: Any
    label: str
    min: float | None = None
    max: float | None = None
    open_min: bool = False  # the minimum itself is refused (a temperature > 0)
    open_max: bool = False
    zero: str = ""  # what 0 means: allowed below `min` (cl.max_pairs=0: no cap), or just said
    negative: str = ""  # what any negative value means, when one is allowed (cl.min_ratio < 0: from the preset)
    choices: tuple[str, ...] = ()  # the values a text setting takes
    pattern: str = ""  # further text values, as a regular expression (device cuda:1)

    def fits(self, value: Any) -> bool:
        """Whether `value` has this setting's type and lies within its limits."""
        if self.type is bool:
            return isinstance(value, bool)
        if self.type is str:
            return isinstance(value, str) and (
                not self.choices or value in self.choices or bool(self.pattern and re.fullmatch(self.pattern, value))
            )
        if self.type not in (int, float):
            return True
        if not (_is_int(value) if self.type is int else _is_finite(value)):
            return False
        if (value == 0 and self.zero) or (value < 0 and self.negative):
            return True
        if self.min is not None and (value < self.min or (self.open_min and value == self.min)):
            return False
        return self.max is None or value < self.max or (value == self.max and not self.open_max)

    def rule(self) -> str:
        """What the setting accepts, in words: 'an integer >= 1', 'a finite number in [0, 1)'."""
        if self.type is bool:
            return "true or false"
        if self.type is str:
            return f"one of {', '.join(self.choices)}" if self.choices else "text"
        text = "an integer" if self.type is int else "a finite number"
        lo, hi = _number_text(self.min), _number_text(self.max)
        if self.min is not None and self.max is not None:
            text += f" in {'(' if self.open_min else '['}{lo}, {hi}{')' if self.open_max else ']'}"
        elif self.min is not None:
            text += f" {'>' if self.open_min else '>='} {lo}"
        elif self.max is not None:
            text += f" {'<' if self.open_max else '<='} {hi}"
        if self.zero:
            below = self.min is not None and self.min > 0  # 0 is an extra value, not one of the range
            text = f"0 ({self.zero}) or {text}" if below else f"{text} (0: {self.zero})"
        return text + (f" (< 0: {self.negative})" if self.negative else "")

    def problem(self, value: Any) -> str | None:
        """A message naming the setting when `value` does not fit, else None."""
        if self.fits(value):
            return None
        if self.type is str and isinstance(value, str) and self.choices:
            return f"{self.key}={value!r}; choose {', '.join(self.choices)}"
        return f"{self.key} must be {self.rule()}, got {value!r}"

    def bounds(self) -> tuple[float | None, float | None]:
        """(lowest, highest) value a number widget may offer: the range, from 0 when 0 has a meaning."""
        return (self.type(0) if self.zero and (self.min is None or self.min > 0) else self.min), self.max


def _number_text(value: float | None) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}" if value is not None else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """A real number, not NaN or infinite (NaN passes every `<=` test, so it needs its own check)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
