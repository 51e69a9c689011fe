"""Text noise: TSDAE word deletion and stop-word deletion for oversampled copies."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from threephase_core.noise import delete_words, delete_words_batch, stopword_noise


def _is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(w == b for b in it) for w in small)


# ---- delete_words ----------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [0.3, 0.6, 0.9, 0.99])
def test_delete_words_keeps_at_least_one_word_in_order(ratio):
    rng = np.random.default_rng(0)
    text = "alpha beta gamma delta epsilon"
    for _ in range(300):
        out = delete_words(text, ratio, rng)
        kept = out.split()
        assert 1 <= len(kept) <= 5
        assert _is_subsequence(kept, text.split())


@pytest.mark.parametrize("ratio", [0.3, 0.6, 0.7])
def test_delete_words_rate_is_close_to_ratio(ratio):
    words = [f"w{i}" for i in range(20_000)]
    out = delete_words(" ".join(words), ratio, np.random.default_rng(1))
    deleted = 1 - len(out.split()) / len(words)
    assert deleted == pytest.approx(ratio, abs=0.015)


def test_delete_words_is_seeded():
    text = " ".join(f"w{i}" for i in range(50))
    a = delete_words(text, 0.6, np.random.default_rng(5))
    b = delete_words(text, 0.6, np.random.default_rng(5))
    c = delete_words(text, 0.6, np.random.default_rng(6))
    assert a == b and a != c


@pytest.mark.parametrize("text", ["just one", "single", ""])
def test_delete_words_ratio_zero_or_tiny_texts_unchanged(text):
    assert delete_words(text, 0.0, np.random.default_rng(0)) == text
    if len(text.split()) <= 1:
        assert delete_words(text, 0.9, np.random.default_rng(0)) == text


def test_delete_words_ratio_zero_long_text_unchanged():
    text = "the quick brown fox jumps over the lazy dog"
    assert delete_words(text, 0.0, np.random.default_rng(0)) == text


def test_delete_words_batch_draws_fresh_noise_per_text():
    texts = [" ".join(f"w{i}" for i in range(40))] * 20
    out = delete_words_batch(texts, 0.5, np.random.default_rng(0))
    assert len(out) == 20 and len(set(out)) > 15


# ---- stopword_noise --------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "the a of and",  # 4 words, all stop words: too short
        "where is the order",
        "refund",
        "",
    ],
)
def test_stopword_noise_leaves_short_texts_alone(text):
    for seed in range(20):
        assert stopword_noise(text, np.random.default_rng(seed)) == text


def test_stopword_noise_without_stop_words_unchanged():
    text = "tracking parcel delayed shipment refund invoice"
    assert stopword_noise(text, np.random.default_rng(0)) == text


@pytest.mark.parametrize(
    "text",
    [
        "where is the order that I placed on monday",
        "My parcel has NOT arrived, and it is late.",
        "refund requested twice already; nothing received yet",
        "the and of a is",  # only stop words: still keeps one word
    ],
)
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_stopword_noise_drops_only_stop_words_and_at_least_one(text, p):
    words = text.split()
    for seed in range(30):
        out = stopword_noise(text, np.random.default_rng(seed), p=p)
        kept = out.split()
        assert out != text
        assert len(kept) >= 1
        assert _is_subsequence(kept, words)
        dropped = Counter(words) - Counter(kept)
        assert dropped
        for w in dropped.elements():
            assert w.strip(".,;!?").lower() in ENGLISH_STOP_WORDS, w


def test_stopword_noise_p_zero_drops_exactly_one():
    text = "where is the order that I placed on monday"
    out = stopword_noise(text, np.random.default_rng(0), p=0.0)
    assert len(out.split()) == len(text.split()) - 1


def test_stopword_noise_min_words_is_respected():
    text = "where is the order"
    assert stopword_noise(text, np.random.default_rng(0), min_words=5) == text
    assert stopword_noise(text, np.random.default_rng(0), min_words=4) != text


def test_stopword_noise_is_seeded():
    text = "I would like to know about the delivery of my order please"
    a = [stopword_noise(text, np.random.default_rng(s)) for s in range(10)]
    b = [stopword_noise(text, np.random.default_rng(s)) for s in range(10)]
    assert a == b and len(set(a)) > 1
