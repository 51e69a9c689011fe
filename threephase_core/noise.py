"""Text noise: word deletion for the DAE and stop-word deletion for oversampled copies.

Words are whitespace-separated tokens (no tokenizer download needed). Both functions take a
numpy Generator so that a seed makes them repeatable, and both always keep at least one word.
"""
from __future__ import annotations

import re

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_STRIP = re.compile(r"^\W+|\W+$")


def delete_words(text: str, ratio: float, rng: np.random.Generator) -> str:
    """Delete each word with probability `ratio` (TSDAE noise); keep at least one word."""
    words = text.split()
    if len(words) <= 1 or ratio <= 0:
        return text
    keep = rng.random(len(words)) >= ratio
    if not keep.any():
        keep[rng.integers(len(words))] = True
    return " ".join(w for w, k in zip(words, keep) if k)


def delete_words_batch(texts: list[str], ratio: float, rng: np.random.Generator) -> list[str]:
    """`delete_words` over a list, drawing fresh noise for every text."""
    return [delete_words(t, ratio, rng) for t in texts]


def stopword_noise(text: str, rng: np.random.Generator, p: float = 0.5, min_words: int = 5) -> str:
    """Light noise for oversampled copies: drop some English stop words (scikit-learn's list).

    Only texts of at least `min_words` words are changed; where the text has stop words, at
    least one is dropped, so a copy differs from its original whenever it can.
    """
    words = text.split()
    if len(words) < min_words:
        return text
    stop = [i for i, w in enumerate(words) if _STRIP.sub("", w).lower() in ENGLISH_STOP_WORDS]
    if not stop:
        return text
    drop = {i for i in stop if rng.random() < p} or {stop[rng.integers(len(stop))]}
    if len(drop) >= len(words):
        drop.pop()
    return " ".join(w for i, w in enumerate(words) if i not in drop)
