"""The Results page's tables as text, ready to show: every cell a string, '–' where a value is
missing (a running job has no accuracy yet), never a raw None or NaN; accuracies with their
binomial interval on the run's test texts (`split_size.accuracy_interval`), and one seed said as
"1 seed" rather than a spread of ± 0.0.
"""

from __future__ import annotations

import math

import pandas as pd

from threephase_core.split_size import accuracy_interval, interval_text, spread_text
from threephase_core.workbench.comparison import versus_text
from threephase_core.workbench.runs import fmt_seconds


def _pct(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def _text(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value == "":
        return "–"
    return str(value)


def _interval(acc, n) -> str:
    return interval_text(*accuracy_interval(acc, n), label=False) or "–"


# The "All runs" columns shown at first: the table fits a 1280 px window without scrolling sideways.
RUNS_FIRST_VIEW = (
    "started (UTC)",
    "state",
    "recipe",
    "dataset",
    "seed",
    "val acc",
    "test acc",
    "test 95% CI",
    "wall time",
)
# Home's recent runs: the same columns less the interval.
RECENT_COLUMNS = tuple(c for c in RUNS_FIRST_VIEW if c != "test 95% CI")


def runs_table(df: pd.DataFrame) -> pd.DataFrame:
    """The "All runs" table of `runs.runs_frame`'s rows: text cells, the test accuracy's 95%
    interval beside it, the step cap as '–' for a full run."""
    return pd.DataFrame(
        {
            "started (UTC)": df["created"].dt.strftime("%Y-%m-%d %H:%M"),
            "state": df["state"].map(_text),
            "recipe": df["recipe"].map(_text),
            "dataset": df["dataset"].map(_text),
            "model": df["model"].map(_text),
            "seed": df["seed"].map(lambda s: "–" if s is None or s != s else str(int(s))),
            "val acc": df["val_acc"].map(_pct),
            "test acc": df["test_acc"].map(_pct),
            "test 95% CI": [_interval(a, n) for a, n in zip(df["test_acc"], df["test_n"], strict=True)],
            "test macro F1": df["test_f1"].map(_pct),
            "wall time": df["wall_s"].map(fmt_seconds),
            "step cap": df["steps_cap"].map(_text),
            "run": df["run"].map(_text),
        }
    )


def _number(value, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def phases_table(prow: pd.DataFrame) -> pd.DataFrame:
    """The Phases tab's table of `run_details.phase_table`: wall time, silhouette, kNN accuracy
    and pairs as text, '–' for a phase that has none (FT draws no pairs; a run still training
    has no scores yet)."""
    return pd.DataFrame(
        {
            "phase": prow["phase"].map(_text),
            "wall time (s)": prow["wall time (s)"].map(lambda v: _number(v, 1)),
            "silhouette": prow["silhouette"].map(lambda v: _number(v, 3)),
            "kNN acc": prow["kNN acc"].map(lambda v: _number(v, 3)),
            "pairs": prow["pairs"].map(lambda v: _number(v, 0)),
        }
    )


def recent_runs_table(df: pd.DataFrame) -> pd.DataFrame:
    """Home's short list of `runs.runs_frame`'s rows: the "All runs" table's text cells (no raw
    None for a running job), fewer columns."""
    return runs_table(df)[list(RECENT_COLUMNS)]


def comparison_table(comp: pd.DataFrame) -> pd.DataFrame:
    """The "Recipes compared" table of `comparison.recipe_comparison`: mean ± std over seeds ("1
    seed" for one), the binomial 95% interval of one run's test accuracy on the group's test size
    (how far chance alone moves a score on that many texts), macro F1, and the gap to FT."""
    return pd.DataFrame(
        {
            "recipe": comp["recipe"].map(_text),
            "seeds": comp["seeds"].map(lambda n: str(int(n)) if n == n else "–"),
            "val acc": [spread_text(m, s, n) for m, s, n in zip(comp["val_mean"], comp["val_std"], comp["seeds"])],
            "test acc": [spread_text(m, s, n) for m, s, n in zip(comp["test_mean"], comp["test_std"], comp["seeds"])],
            "test 95% CI (one run)": [_interval(a, n) for a, n in zip(comp["test_mean"], comp["test_n"], strict=True)],
            "macro F1": [spread_text(m, s, n) for m, s, n in zip(comp["f1_mean"], comp["f1_std"], comp["seeds"])],
            "test acc vs FT": [
                versus_text(*v)
                for v in zip(comp["recipe"], comp["vs_seeds"], comp["vs_diff"], comp["vs_p"], strict=True)
            ],
        }
    )
