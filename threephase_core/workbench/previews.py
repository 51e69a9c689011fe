"""Phase 2's data before a run: the imbalance correction's f(x) curve, per-class repeat factors
and pair counts, the DAE's word deletion and the oversampled copies' noise on a sample text,
and the settings a run would only trip over after phase 1 (ratios, no pairs at all).

Every number comes from the engine's own functions, so the preview is what a run will do.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from threephase_core.config import IMBALANCE_PRESETS
from threephase_core.imbalance import corrected_counts, imbalance_factor, oversample_factor


def preset_for(r_min: float, r_max: float) -> str:
    """The preset with these ratios, or 'custom'."""
    return next(
        (n for n, (a, b) in IMBALANCE_PRESETS.items() if math.isclose(a, r_min) and math.isclose(b, r_max)), "custom"
    )


def imbalance_curve(largest: int, r_max: float, points: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """f(x) for x from 1 to M (log-spaced), the engine's formula."""
    largest = max(int(largest), 1)
    xs = (
        np.unique(np.concatenate([np.geomspace(1, largest, points), [1.0, float(largest)]]))
        if largest > 1
        else np.array([1.0])
    )
    ys = np.array([imbalance_factor(min(x, largest), largest, r_max) for x in xs])
    return xs, ys


def threshold_size(largest: int, r_min: float, r_max: float) -> float:
    """The class size below which classes are oversampled: f(x) >= r_min, and f(x) >= 1.5 since
    the repeat count is f rounded (half up) and a count of 1 adds nothing, so
    x <= M ** (1 - max(r_min, 1.5) / r_max)."""
    if r_max <= 0 or largest <= 1:
        return 0.0
    return float(largest ** (1 - max(r_min, 1.5) / r_max))


def class_table(counts: dict[str, int], r_min: float, r_max: float) -> pd.DataFrame:
    """Per class: rows, f(x), repeats, rows after correction, oversampled or not."""
    present = [n for n in counts.values() if n > 0]
    largest = max(present) if present else 1
    after = corrected_counts(dict(counts), r_min, r_max)
    rows = []
    for name, n in counts.items():
        f = imbalance_factor(n, largest, r_max) if n > 0 else float("nan")
        rep = oversample_factor(n, largest, r_min, r_max) if n > 0 else 0
        rows.append(
            {
                "class": name,
                "rows": int(n),
                "f": f,
                "repeats": rep,
                "rows_after": int(after[name]),
                "oversampled": rep > 1,
            }
        )
    return pd.DataFrame(rows)


def pair_stats(
    texts: list[str], labels, n_classes: int, r_min: float, r_max: float, augmentation: int = 2, seed: int = 0
) -> dict:
    """Phase 2's data for these ratios, built by the engine: rows after correction and pairs.
    `labels`: class ids, or with label levels each row's path (rows x levels, `LabelHierarchy.rows`),
    as a run pairs them: the pairs are then scored by the levels they share (0.5: only the top of
    two), and `scores` counts the pairs of each score, highest first."""
    from threephase_core.config import CLConfig
    from threephase_core.phases.contrastive import prepare_pairs

    cfg = CLConfig(min_ratio=float(r_min), max_ratio=float(r_max), augmentation=int(augmentation))
    out = prepare_pairs(texts, labels, n_classes, cfg, seed)
    scores = np.asarray(out["scores"])
    return {
        "rows_before": int(sum(out["counts_before"].values())),
        "rows_after": int(sum(out["counts_after"].values())),
        "pairs": int(len(scores)),
        "positive_pairs": int((scores >= 1.0).sum()),
        "scores": {float(s): int(n) for s, n in sorted(zip(*np.unique(scores, return_counts=True)), reverse=True)},
    }


def pair_score_note(scores: dict[float, int], level_names: list[str]) -> str:
    """What `pair_stats`' `scores` mean on labels with these levels (top first): each score is the
    fraction of levels a pair shares from the top (`pairs.hierarchical_score`), named by them."""
    n = len(level_names)

    def meaning(score: float) -> str:
        k = round(score * n)
        if k >= n:
            return f"same {level_names[-1]}"
        return f"same {level_names[k - 1]}, another {level_names[k]}" if k else f"another {level_names[0]}"

    parts = [f"**{score:.2g}** ({meaning(score)}) {count:,}" for score, count in scores.items()]
    return f"Pairs scored by the label levels they share ({' › '.join(level_names)}): {' · '.join(parts)}."


def _align(original: str, noisy: str) -> list[tuple[str, bool]]:
    """Mark which words of `original` survive in `noisy` (a subsequence of it)."""
    kept = noisy.split()
    out, j = [], 0
    for word in original.split():
        if j < len(kept) and kept[j] == word:
            out.append((word, True))
            j += 1
        else:
            out.append((word, False))
    return out


PREVIEW_WORDS = 120  # a preview shows at most this many words of a text


def _preview_cut(text: str, max_words: int) -> tuple[str, bool]:
    """The first `max_words` words of `text`, and whether it was cut: a text of a million words
    must not become a page of megabytes."""
    words = str(text).split(maxsplit=max_words)
    if len(words) > max_words:
        return " ".join(words[:max_words]), True
    return str(text), False


def noise_preview(text: str, ratio: float, seed: int = 0, max_words: int = PREVIEW_WORDS) -> list[tuple[str, bool]]:
    """(word, kept) after the DAE's word deletion at `ratio` (engine's `delete_words`), on the
    first `max_words` words (a cut text ends with a kept '…')."""
    from threephase_core.noise import delete_words

    text, cut = _preview_cut(text, max_words)
    noisy = delete_words(text, float(ratio), np.random.default_rng(seed))
    return _align(text, noisy) + ([("…", True)] if cut else [])


def stopword_preview(text: str, seed: int = 0, max_words: int = PREVIEW_WORDS) -> list[tuple[str, bool]]:
    """(word, kept) for an oversampled copy (engine's `stopword_noise`), on the first `max_words` words."""
    from threephase_core.noise import stopword_noise

    text, cut = _preview_cut(text, max_words)
    return _align(text, stopword_noise(text, np.random.default_rng(seed))) + ([("…", True)] if cut else [])


def ratio_problem(r_min: float, r_max: float) -> str | None:
    """Why these imbalance ratios cannot be trained (the engine refuses a minimum ratio above the
    maximum: f(x) never exceeds r_max, so no class would be oversampled), else None."""
    try:
        r_min, r_max = float(r_min), float(r_max)
    except (TypeError, ValueError):
        return "The imbalance ratios are not numbers; pick a preset on the Imbalance & noise page"
    if r_min > r_max:
        return (
            f"The min ratio ({r_min:g}) is above the max ratio ({r_max:g}): no class would be oversampled and "
            "the Train page refuses these settings. Lower the min ratio, raise the max ratio, or pick the preset "
            "'none' for no correction."
        )
    return None


def phase2_problem(
    train: pd.DataFrame, n_classes: int, phases, cl, max_train_rows: int = 0, seed: int = 0, limit: int = 2_000
) -> str | None:
    """Why phase 2 (CL with the pair loss, or Joint) would find no pairs in this training split
    after the `max_train_rows` cap, else None. The runner refuses such a run too, before phase 1,
    but only once the job has started and loaded the model; this answers on the page, before a
    run is queued, with the engine's own pair builder. Skipped (None) for training splits above
    `limit` rows, where it would be slow and cannot fail."""
    from threephase_core.carving import stratified_sample
    from threephase_core.phases.contrastive import pair_phase, prepare_pairs

    if pair_phase(phases, cl) is None:
        return None
    rows = train
    if max_train_rows and len(rows) > max_train_rows:
        rows = stratified_sample(rows, int(max_train_rows), seed)
    if len(rows) > limit:
        return None
    try:
        pairs = len(prepare_pairs(rows["text"].tolist(), rows["label"].to_numpy(), n_classes, cl, seed)["scores"])
    except Exception:  # noqa: BLE001 - the engine will say it better; never block a run on a failed preview
        return None
    if pairs:
        return None
    per = rows["label"].value_counts()
    kept = (
        f"Max training rows = {max_train_rows:,} keeps {len(rows):,} training rows"
        if max_train_rows
        else f"The training split has {len(rows):,} rows"
    )
    return (
        f"{kept} (at most {int(per.max())} per class): phase 2 would find no pairs of texts of one class and the run "
        "would fail after phase 1. "
        + (
            "Raise Max training rows (each class needs two rows or more) or set it to 0 (all rows)."
            if max_train_rows
            else "Add rows: each class needs two texts or more."
        )
    )


def outgrow_note(table: pd.DataFrame, r_max: float) -> str | None:
    """Where the correction makes a smaller class larger than the largest one (`class_table`'s rows),
    a sentence that says so and why, else None. The rule repeats a class round(f(x)) times and f
    grows to r_max for a class of one row, so with a large r_max (19.5 on the demo) the smallest
    classes overshoot the largest: phase 2 then sees them more often than the majority class."""
    if not len(table):
        return None
    largest = table.loc[table["rows"].idxmax()]
    over = table[(table["rows"] < largest["rows"]) & (table["rows_after"] > largest["rows"])]
    if not len(over):
        return None
    over = over.sort_values("rows_after", ascending=False)
    listed = ", ".join(
        f"{row['class']} ({row['rows']} rows × {row['repeats']} → {row['rows_after']})"
        for _, row in over.head(4).iterrows()
    ) + (" …" if len(over) > 4 else "")
    return (
        f"At max ratio {r_max:g} the correction makes {len(over)} class{'es' if len(over) > 1 else ''} larger than "
        f"the largest class, {largest['class']} ({largest['rows']} rows): {listed}. Each class is repeated "
        "round(f(x)) times and f(1) = max ratio, so a large max ratio overshoots and phase 2 sees the small classes "
        "more often than the largest one; lower the max ratio to keep the order."
    )
