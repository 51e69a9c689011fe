"""Suspect labels: texts whose given label the embeddings dispute, found with cleanlab.

Why: a wrong label in the data pulls its text towards the wrong class in CL and FT, and the
Embeddings page shows it as a point sitting in another class's cluster. Confident learning
(cleanlab) ranks such texts from out-of-sample class probabilities. The probabilities come from
a logistic regression on the embeddings (by default a run's FT embeddings), cross-validated so
that no text is scored by a model that saw its label. We use the library's
``cleanlab.filter.find_label_issues`` and ``cleanlab.rank.get_label_quality_scores`` as they are:
no confident learning of our own.

Not handled here: multi-label data, and probabilities of the run's own classifier on its
training texts (those saw the labels, so they are not out-of-sample).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

FOLDS = 5
MIN_PER_CLASS = 2  # a class needs this many texts to be scored out of sample
COLUMNS = ["row", "text", "given", "suggested", "p_given", "p_suggested", "label_quality"]


class NotEnoughData(ValueError):
    """The texts cannot be scored out of sample (too few texts or classes); the message says why."""


def out_of_sample_proba(embeddings, labels, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """(n, K) class probabilities of each text from a logistic regression that did not see it:
    ``cross_val_predict(method="predict_proba")`` over stratified folds of the L2-normalised
    embeddings. K = max(labels) + 1; a class with no text gets probability 0."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"embeddings {x.shape} and labels {y.shape} do not match")
    present, counts = np.unique(y, return_counts=True)
    scored = present[counts >= MIN_PER_CLASS]
    if len(scored) < 2 or len(present) != len(scored):
        few = [int(c) for c in present[counts < MIN_PER_CLASS]]
        raise NotEnoughData(
            f"Suspect labels need at least two classes with {MIN_PER_CLASS} or more texts each"
            + (f"; class {few[0]} has fewer" if few else f"; these texts have {len(present)} class(es)")
            + "."
        )
    n_splits = int(max(2, min(folds, counts.min())))
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    model = LogisticRegression(max_iter=1000)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with threadpool_limits(limits=1, user_api="blas"):
        proba = cross_val_predict(model, x, y, cv=cv, method="predict_proba")
    out = np.zeros((len(y), int(y.max()) + 1))
    out[:, present] = proba  # cross_val_predict's columns are the sorted classes present
    return out


def suspect_labels(labels, pred_probs: np.ndarray, texts, names: list[str]) -> pd.DataFrame:
    """The texts cleanlab flags as label issues, worst first (lowest label quality): row,
    text, given and suggested label names, the probabilities of both and the quality score
    (cleanlab's self-confidence, 0..1; low = the label looks wrong)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(pred_probs, dtype=np.float64)
    present = np.unique(y)
    # cleanlab wants labels 0..K'-1 with a probability column each: keep the classes present.
    y_local = np.searchsorted(present, y)
    p_local = p[:, present]
    p_local = p_local / np.where(p_local.sum(axis=1, keepdims=True) > 0, p_local.sum(axis=1, keepdims=True), 1.0)
    issues = find_label_issues(y_local, p_local, return_indices_ranked_by="self_confidence", n_jobs=1)
    quality = get_label_quality_scores(y_local, p_local, method="self_confidence")
    suggested = present[p_local.argmax(axis=1)]
    texts = np.asarray(texts)
    rows = np.asarray(issues, dtype=np.int64)
    return pd.DataFrame(
        {
            "row": rows,
            "text": texts[rows].astype(str),
            "given": [names[c] for c in y[rows]],
            "suggested": [names[c] for c in suggested[rows]],
            "p_given": p[rows, y[rows]],
            "p_suggested": p[rows, suggested[rows]],
            "label_quality": quality[rows],
        },
        columns=COLUMNS,
    )


def find_suspects(embeddings, labels, texts, names: list[str], folds: int = FOLDS, seed: int = 0) -> pd.DataFrame:
    """`suspect_labels` on `out_of_sample_proba` of these embeddings: one call for a page."""
    return suspect_labels(labels, out_of_sample_proba(embeddings, labels, folds, seed), texts, names)


__all__ = ["COLUMNS", "NotEnoughData", "find_suspects", "out_of_sample_proba", "suspect_labels"]
