"""Text noise: word deletion for the DAE and stop-word deletion for oversampled copies.

Words are whitespace-separated tokens (no tokenizer download needed). Both functions take a
numpy Generator so that a seed makes them repeatable, and both always keep at least one word.
"""

from __future__ import annotations

import functools
import itertools
import re

import numpy as np

_STRIP = re.compile(r"^\W+|\W+$")


@functools.cache
def english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, imported on first use (scikit-learn takes seconds to
    import, and the workbench's pages import this module to draw)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


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
    stop_words = english_stop_words()
    stop = [i for i, w in enumerate(words) if _STRIP.sub("", w).lower() in stop_words]
    if not stop:
        return text
    drop = {i for i in stop if rng.random() < p} or {stop[rng.integers(len(stop))]}
    if len(drop) >= len(words):
        drop.pop()
    return " ".join(w for i, w in enumerate(words) if i not in drop)


# The characters str.split() splits on (str.isspace), so a "word" here is what delete_words sees.
_SPACE_CODEPOINTS = np.array(
    [
        *range(0x09, 0x0E),
        *range(0x1C, 0x21),
        0x85,
        0xA0,
        0x1680,
        *range(0x2000, 0x200B),
        0x2028,
        0x2029,
        0x202F,
        0x205F,
        0x3000,
    ],
    dtype=np.uint32,
)


class TokenWordDropper:
    """`delete_words` on pre-tokenised text: the DAE's per-epoch noise without re-tokenising.

    Built once from the texts and the tokenizer (the target tokens and, for each token, the
    whitespace word of its first non-space character, from the tokenizer's character offsets);
    each `draw` then deletes whole words with probability `ratio` (at least one word kept, texts
    of one word unchanged, special tokens always kept) as a few numpy operations over all texts
    at once. Deleting a word's tokens equals tokenising the shortened text when the tokenizer
    splits at whitespace before cutting words into pieces (WordPiece does) and the text was not
    cut at `max_length` (its noisy copy comes from the cut tokens). Words the tokenizer drops
    entirely (zero-width or control characters) have no tokens, so they are not counted.
    `faithful` says whether a sample of texts passed that check (first word deleted, compared
    with tokenising the rest); `phases/dae.py` re-tokenises instead when it did not. On SST-2
    this turns 2.6 s of noise and tokenisation per epoch (H100 host) into ~0.5 s.
    """

    def __init__(self, tokenizer, texts: list[str], max_length: int, check: int = 200):
        texts = [str(t) for t in texts]
        enc = tokenizer(
            texts,
            truncation=True,
            max_length=max_length,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids_list = enc["input_ids"]
        self.pad_id = tokenizer.pad_token_id
        self.n_texts = len(texts)
        self.lengths = np.fromiter(map(len, ids_list), dtype=np.int64, count=len(ids_list))
        n_tok = int(self.lengths.sum())
        self.ids = np.fromiter(itertools.chain.from_iterable(ids_list), dtype=np.int64, count=n_tok)
        off = np.fromiter(
            itertools.chain.from_iterable(itertools.chain.from_iterable(enc["offset_mapping"])),
            dtype=np.int64,
            count=2 * n_tok,
        ).reshape(n_tok, 2)
        self.text_of_token = np.repeat(np.arange(len(texts)), self.lengths)
        # Whitespace-word index of every character of all texts joined by a separator space.
        joined = " ".join(texts)
        chars = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        n_chars = len(chars)
        space = np.isin(chars, _SPACE_CODEPOINTS)
        starts = ~space & np.concatenate([[True], space[:-1]]) if n_chars else np.zeros(0, dtype=bool)
        word_at_char = np.cumsum(starts) - 1
        # First non-space character at or after each position (n_chars: none), so that a token
        # whose offsets include the space before its word (SentencePiece, byte-level BPE)
        # belongs to that word, not to the one before.
        pos = np.where(space, n_chars, np.arange(n_chars))
        next_word_char = np.minimum.accumulate(pos[::-1])[::-1] if n_chars else pos
        text_start = np.concatenate([[0], np.cumsum([len(t) + 1 for t in texts])[:-1]]).astype(np.int64)
        begin = text_start[self.text_of_token] + off[:, 0]
        end = text_start[self.text_of_token] + off[:, 1]
        first = next_word_char[np.minimum(begin, max(n_chars - 1, 0))] if n_chars else begin
        # Special tokens (empty offsets) and tokens of spaces only are kept with every draw.
        special = (off[:, 1] == off[:, 0]) | (first >= end) | (n_chars == 0)
        raw = np.where(special, -1, word_at_char[np.minimum(first, max(n_chars - 1, 0))] if n_chars else -1)
        # Words cut off by truncation have no tokens: number the present words 0..n-1 in order.
        present, compact = np.unique(raw[~special], return_inverse=True)
        self.word = np.full(n_tok, -1, dtype=np.int64)
        self.word[~special] = compact
        first_token_of_word = np.zeros(len(present), dtype=np.int64)
        first_token_of_word[compact[::-1]] = np.flatnonzero(~special)[::-1]
        self.text_of_word = self.text_of_token[first_token_of_word]
        self.words_per_text = np.bincount(self.text_of_word, minlength=len(texts)).astype(np.int64)
        self.word_start = np.concatenate([[0], np.cumsum(self.words_per_text)[:-1]]).astype(np.int64)
        self.n_words = len(present)
        self.faithful = self._check(tokenizer, texts, max_length, check)

    def _check(self, tokenizer, texts: list[str], max_length: int, n: int) -> bool:
        """Delete the first word of up to `n` untruncated texts of 2+ words on the tokens and by
        re-tokenising; True when at least 90% agree."""
        token_start = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        picked = [i for i in range(len(texts)) if self.words_per_text[i] >= 2 and self.lengths[i] < max_length][:n]
        if not picked:
            return True
        rest = [" ".join(texts[i].split()[1:]) for i in picked]
        expected = tokenizer(rest, truncation=True, max_length=max_length)["input_ids"]
        agree = 0
        for i, exp in zip(picked, expected):
            toks = slice(token_start[i], token_start[i] + self.lengths[i])
            kept = self.ids[toks][self.word[toks] != self.word_start[i]]
            agree += kept.tolist() == list(exp)
        return agree >= 0.9 * len(picked)

    def targets(self):
        """The clean token ids of every text, as `batching.Tokenized`."""
        from threephase_core.batching import Tokenized

        return Tokenized([[c] for c in np.split(self.ids, np.cumsum(self.lengths)[:-1])], self.pad_id)

    def draw(self, ratio: float, rng: np.random.Generator):
        """Noisy token ids of every text (fresh noise per text), as `batching.Tokenized`."""
        from threephase_core.batching import Tokenized

        keep_word = rng.random(self.n_words) >= ratio
        kept_per_text = np.bincount(self.text_of_word, weights=keep_word, minlength=self.n_texts)
        # A text of one word stays whole; a text that lost every word gets one back at random.
        lost = np.flatnonzero((kept_per_text == 0) & (self.words_per_text > 0))
        keep_word[self.word_start[lost] + (rng.random(len(lost)) * self.words_per_text[lost]).astype(np.int64)] = True
        keep_word[self.word_start[self.words_per_text == 1]] = True
        if self.n_words:
            keep_tok = (self.word < 0) | keep_word[np.maximum(self.word, 0)]
        else:
            keep_tok = np.ones(len(self.ids), dtype=bool)
        kept = self.ids[keep_tok]
        kept_lengths = np.bincount(self.text_of_token[keep_tok], minlength=self.n_texts)
        return Tokenized([[c] for c in np.split(kept, np.cumsum(kept_lengths)[:-1])], self.pad_id)
