"""Whether a data set's validation and test splits are large enough to tell recipes apart, and
how far an accuracy measured on them could move by chance.

A split of n texts scores accuracy in steps of 1/n: on 11 validation texts one text is 9 points,
more than the gap between any two recipes of the paper, so `ft` and `three_phase` come out
identical or far apart by luck. A class with one or two texts in a split makes its per-class
scores and the macro F1 rest on those texts. `split_size_warnings` says so in words the Data,
Train and Results pages and the command line print; `accuracy_interval` gives the binomial
(Wilson) interval of one accuracy, the spread another draw of texts of the same size would show.

It reads class counts only (`TextDataset.summary()["class_counts"]` or a run's data.json), so it
works for a data set before a run and for a finished run alike. It does not judge the training
split: a small training set is the method's use case, not a measuring problem.
"""

from __future__ import annotations

import math

MIN_SPLIT_TEXTS = 30  # below this, one text moves accuracy by more than 3 points
MIN_CLASS_TEXTS = 3  # below this, a class's recall is 0, 50 or 100 %
CHECKED_SPLITS = ("validation", "test")


def split_size_warnings(class_counts: dict, splits=CHECKED_SPLITS) -> list[str]:
    """One sentence per problem: a checked split with fewer than MIN_SPLIT_TEXTS texts, and the
    classes (those seen in any split) with fewer than MIN_CLASS_TEXTS texts in a checked split.
    `class_counts`: split -> {class name: rows}. Splits that are missing or damaged are skipped;
    [] when every checked split is large enough."""
    counts = {s: _clean(class_counts.get(s)) for s in ("train", *splits) if isinstance(class_counts, dict)}
    classes = list(dict.fromkeys(name for per in counts.values() for name in per))
    out = []
    for split in splits:
        per = counts.get(split)
        if not per:
            continue
        total = sum(per.values())
        if total < MIN_SPLIT_TEXTS:
            step = 100.0 / total if total else math.inf
            out.append(
                f"The {split} split has only {total} text{'s' if total != 1 else ''}: one text more or less right "
                f"moves its accuracy by {step:.1f} points, so recipes closer than that cannot be told apart "
                f"(at least {MIN_SPLIT_TEXTS} texts are needed; hold out a larger {split} fraction or add data)."
            )
        few = [(name, per.get(name, 0)) for name in classes if per.get(name, 0) < MIN_CLASS_TEXTS]
        if few:
            listed = ", ".join(f"{name}: {n}" for name, n in few[:6]) + (" …" if len(few) > 6 else "")
            out.append(
                f"In the {split} split {len(few)} class{'es have' if len(few) > 1 else ' has'} fewer than "
                f"{MIN_CLASS_TEXTS} texts ({listed}): per-class scores and the macro F1 rest on one or two texts."
            )
    return out


def _clean(per) -> dict[str, int]:
    """A split's class counts as {name: int >= 0}; {} for a missing or damaged entry."""
    if not isinstance(per, dict):
        return {}
    out = {}
    for name, n in per.items():
        if isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) and n >= 0:
            out[str(name)] = int(n)
    return out


def accuracy_interval(accuracy: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson interval (scipy's binomtest) of an accuracy measured on `n` texts: where it
    could lie with another draw of `n` texts. (nan, nan) without a usable accuracy or n."""
    from scipy.stats import binomtest

    usable = isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) and n >= 1
    if not usable or not isinstance(accuracy, (int, float)) or not math.isfinite(accuracy):
        return (math.nan, math.nan)
    n = int(n)
    k = min(max(int(round(accuracy * n)), 0), n)
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def interval_text(low: float, high: float, label: bool = True) -> str:
    """'95% CI 52%–95%' ('52%–95%' without the label), or '' when the interval is unknown."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f"{'95% CI ' if label else ''}{low:.0%}–{high:.0%}"


def spread_text(mean: float, std: float, seeds: int) -> str:
    """An accuracy over seeds as the Results table shows it: '81.8% ± 2.1% (3 seeds)'; one seed has
    no spread to show, so '81.8% (1 seed)', never '± 0.0%'; '–' without a value."""
    if mean is None or not math.isfinite(mean):
        return "–"
    seeds = int(seeds) if isinstance(seeds, (int, float)) and math.isfinite(seeds) else 0
    if seeds <= 1 or std is None or not math.isfinite(std):
        return f"{mean:.1%} (1 seed)" if seeds == 1 else f"{mean:.1%}"
    return f"{mean:.1%} ± {std:.1%} ({seeds} seeds)"
