"""Tokenise-once batching: length buckets, padding, long-text chunks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from threephase_core.batching import TokenCache, Tokenized, bucketed_batches, collate, segment_mean, tokenize


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from threephase_core.encoder import packaged_minilm_path

    return AutoTokenizer.from_pretrained(packaged_minilm_path())


# ---- bucketed_batches ------------------------------------------------------------------
def _lengths(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 200, size=n)


@pytest.mark.parametrize("n, batch_size", [(0, 4), (1, 4), (7, 3), (100, 8), (1000, 16), (1000, 1000), (999, 7)])
@pytest.mark.parametrize("seeded", [False, True])
def test_batches_cover_every_index_once_and_are_sorted(n, batch_size, seeded):
    lengths = _lengths(n)
    rng = np.random.default_rng(0) if seeded else None
    batches = bucketed_batches(lengths, batch_size, rng, window=4)
    flat = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    assert sorted(flat.tolist()) == list(range(n))
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert len(batches) >= -(-n // batch_size)
    for b in batches:
        assert np.all(np.diff(lengths[b]) >= 0), "batch not length-sorted"


def test_unseeded_batches_are_in_global_length_order():
    lengths = _lengths(50)
    batches = bucketed_batches(lengths, 8, None)
    flat = np.concatenate(batches)
    assert np.all(np.diff(lengths[flat]) >= 0)
    assert all(len(b) == 8 for b in batches[:-1])
    assert bucketed_batches(lengths, 8, None)[0].tolist() == batches[0].tolist()


def test_seeded_batches_are_repeatable_and_shuffled():
    lengths = _lengths(2000)
    a = bucketed_batches(lengths, 16, np.random.default_rng(1), window=8)
    b = bucketed_batches(lengths, 16, np.random.default_rng(1), window=8)
    c = bucketed_batches(lengths, 16, np.random.default_rng(2), window=8)
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    assert [x.tolist() for x in a] != [x.tolist() for x in c]
    # batch order is shuffled: mean lengths are not monotone across batches
    means = np.array([lengths[x].mean() for x in a])
    assert not np.all(np.diff(means) >= 0)


def test_bucketing_reduces_padding():
    lengths = _lengths(4096)
    rng = np.random.default_rng(0)
    bucketed = bucketed_batches(lengths, 32, rng, window=16)
    perm = np.random.default_rng(0).permutation(len(lengths))
    plain = [perm[i : i + 32] for i in range(0, len(perm), 32)]

    def padding(batches):
        return sum(int(lengths[b].max()) * len(b) - int(lengths[b].sum()) for b in batches)

    assert padding(bucketed) < 0.3 * padding(plain)


# ---- collate ---------------------------------------------------------------------------
def _tok(*chunk_lists, pad=0) -> Tokenized:
    return Tokenized([[np.asarray(c, dtype=np.int64) for c in chunks] for chunks in chunk_lists], pad)


def test_collate_pads_and_masks():
    tok = _tok([[101, 5, 6, 102]], [[101, 7, 102]], [[101, 8, 9, 10, 11, 102]], pad=0)
    batch = collate(tok, np.array([1, 0]), "cpu")
    assert set(batch) == {"input_ids", "attention_mask"}
    assert batch["input_ids"].dtype == torch.int64 and batch["attention_mask"].dtype == torch.int64
    # Width is rounded up to a multiple of PAD_MULTIPLE (8).
    assert batch["input_ids"].tolist() == [[101, 7, 102, 0, 0, 0, 0, 0], [101, 5, 6, 102, 0, 0, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0]]
    full = collate(tok, np.array([0, 1, 2]), "cpu")
    assert full["input_ids"].shape == (3, 8)
    assert full["attention_mask"].sum(1).tolist() == [4, 3, 6]


def test_collate_uses_the_pad_id():
    tok = _tok([[1, 2, 3]], [[4]], pad=-7)
    batch = collate(tok, np.array([0, 1]), "cpu")
    assert batch["input_ids"][1].tolist() == [4] + [-7] * 7
    assert batch["attention_mask"][1].tolist() == [1] + [0] * 7


def test_collate_with_chunks_sets_owner():
    tok = _tok([[1, 2], [3]], [[4, 5, 6]], [[7], [8], [9, 9]])
    batch = collate(tok, np.array([2, 1, 0]), "cpu")
    assert batch["input_ids"].shape == (6, 8)
    assert batch["owner"].tolist() == [0, 0, 0, 1, 2, 2]
    assert batch["n_texts"] == 3
    rows = [[7], [8], [9, 9], [4, 5, 6], [1, 2], [3]]
    assert batch["input_ids"].tolist() == [r + [0] * (8 - len(r)) for r in rows]


# ---- tokenize --------------------------------------------------------------------------
LONG = " ".join(f"word{i} and some more text number {i}." for i in range(60))


def test_tokenize_truncates(tokenizer):
    tok = tokenize(tokenizer, [LONG, "short text"], max_length=32)
    assert len(tok) == 2 and tok.pad_id == tokenizer.pad_token_id
    assert [len(c) for c in tok.chunks] == [1, 1]
    long_ids = tok.chunks[0][0]
    assert len(long_ids) == 32
    assert long_ids[0] == tokenizer.cls_token_id and long_ids[-1] == tokenizer.sep_token_id
    assert tok.chunks[1][0].tolist() == tokenizer("short text")["input_ids"]
    assert tok.lengths.tolist() == [32, len(tokenizer("short text")["input_ids"])]


@pytest.mark.parametrize("max_length", [8, 16, 64])
def test_tokenize_chunks_long_texts(tokenizer, max_length):
    body = tokenizer(LONG, add_special_tokens=False)["input_ids"]
    tok = tokenize(tokenizer, [LONG, "short text", ""], max_length=max_length, chunk=True)
    chunks = tok.chunks[0]
    step = max_length - 2
    assert len(chunks) == -(-len(body) // step)
    for c in chunks:
        assert len(c) <= max_length
        assert c[0] == tokenizer.cls_token_id and c[-1] == tokenizer.sep_token_id
    assert all(len(c) == max_length for c in chunks[:-1])
    # the chunk bodies put back together are the whole text: nothing lost, nothing repeated
    assert np.concatenate([c[1:-1] for c in chunks]).tolist() == body
    # a short text is one chunk equal to the plain tokenisation
    assert len(tok.chunks[1]) == 1 and tok.chunks[1][0].tolist() == tokenizer("short text")["input_ids"]
    # an empty text is one chunk of just the special tokens
    assert [c.tolist() for c in tok.chunks[2]] == [[tokenizer.cls_token_id, tokenizer.sep_token_id]]
    assert tok.lengths[0] == len(body) + 2 * len(chunks)


def test_chunked_batch_and_segment_mean(tokenizer):
    tok = tokenize(tokenizer, ["short text", LONG], max_length=16, chunk=True)
    batch = collate(tok, np.array([0, 1]), "cpu")
    n_rows = 1 + len(tok.chunks[1])
    assert batch["input_ids"].shape == (n_rows, 16)
    assert batch["owner"].tolist() == [0] + [1] * (n_rows - 1)
    rows = torch.randn(n_rows, 5)
    pooled = segment_mean(rows, batch["owner"], batch["n_texts"])
    torch.testing.assert_close(pooled[0], rows[0])
    torch.testing.assert_close(pooled[1], rows[1:].mean(0))


def test_segment_mean():
    rows = torch.tensor([[1.0, 2.0], [3.0, 4.0], [10.0, 0.0], [5.0, 5.0], [7.0, 1.0]])
    owner = torch.tensor([0, 0, 1, 2, 2])
    out = segment_mean(rows, owner, 4)  # text 3 owns no row: zeros, not NaN
    torch.testing.assert_close(out, torch.tensor([[2.0, 3.0], [10.0, 0.0], [6.0, 3.0], [0.0, 0.0]]))


def test_segment_mean_gradients_flow():
    rows = torch.randn(4, 3, requires_grad=True)
    segment_mean(rows, torch.tensor([0, 1, 1, 1]), 2).sum().backward()
    torch.testing.assert_close(rows.grad, torch.tensor([[1.0] * 3] + [[1 / 3] * 3] * 3))


def test_collate_extras_follow_the_index():
    tok = _tok([[1]], [[2, 3]], [[4, 5, 6]])
    labels = np.array([10, 11, 12])
    scores = np.array([0.0, 0.5, 1.0], dtype=np.float32)
    batch = collate(tok, np.array([2, 0]), "cpu", {"labels": labels, "scores": scores})
    assert batch["labels"].tolist() == [12, 10] and batch["labels"].dtype == torch.int64
    assert batch["scores"].tolist() == [1.0, 0.0] and batch["scores"].dtype == torch.float32


# ---- token cache -------------------------------------------------------------------------
class CountingTokenizer:
    """The real tokenizer, counting how many texts it is asked to tokenise."""

    def __init__(self, tokenizer):
        self.inner, self.texts_seen = tokenizer, 0

    def __call__(self, texts, **kw):
        self.texts_seen += len(texts)
        return self.inner(texts, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


TEXTS = ["a short text", "another one here", LONG, "a short text", "", "another one here", "third"]


@pytest.mark.parametrize("chunk", [False, True])
def test_tokenize_each_distinct_text_once_with_the_same_ids(tokenizer, chunk):
    counting = CountingTokenizer(tokenizer)
    tok = tokenize(counting, TEXTS, max_length=16, chunk=chunk)
    assert counting.texts_seen == len(set(TEXTS))
    one_by_one = [tokenize(tokenizer, [t], max_length=16, chunk=chunk).chunks[0] for t in TEXTS]
    assert [[c.tolist() for c in ch] for ch in tok.chunks] == [[c.tolist() for c in ch] for ch in one_by_one]


def test_cache_serves_later_calls_and_keeps_settings_apart(tokenizer):
    cache, counting = TokenCache(), CountingTokenizer(tokenizer)
    first = tokenize(counting, TEXTS[:3], max_length=16, cache=cache)
    assert counting.texts_seen == 3
    again = tokenize(counting, ["third", *TEXTS[:3]], max_length=16, cache=cache)
    assert counting.texts_seen == 4  # only "third" was new
    assert [c[0].tolist() for c in again.chunks[1:]] == [c[0].tolist() for c in first.chunks]
    longer = tokenize(counting, [LONG], max_length=64, cache=cache)  # another max length: not the 16-token entry
    assert counting.texts_seen == 5 and longer.lengths[0] == 64 and first.lengths[2] == 16
    chunked = tokenize(counting, [LONG], max_length=16, chunk=True, cache=cache)
    assert counting.texts_seen == 6 and len(chunked.chunks[0]) > 1


def test_dae_targets_seed_the_cache_with_exactly_the_plain_tokenisation(tokenizer):
    """The DAE builds its targets with its own tokenizer call (offsets for the word noise); the
    cache entries it leaves must equal what `tokenize` gives, since FT and CL then use them."""
    from threephase_core.config import DAEConfig
    from threephase_core.phases.dae import DAEBatches
    from threephase_core.training import PhaseContext

    class Model:
        pass

    model = Model()
    model.tokenizer = counting = CountingTokenizer(tokenizer)
    texts = [t for t in TEXTS if t] + ["Hello, world! It's   spaced\tout.", "naïve café déjà vu"]
    ctx = PhaseContext(max_length=16)
    batches = DAEBatches(model, texts, DAEConfig(), ctx)
    assert batches.dropper is not None  # the token-level noise path, which tokenises on its own
    seen = counting.texts_seen
    cached = tokenize(counting, texts, max_length=16, cache=ctx.token_cache)
    assert counting.texts_seen == seen  # nothing tokenised again
    fresh = tokenize(tokenizer, texts, max_length=16)
    assert [c[0].tolist() for c in cached.chunks] == [c[0].tolist() for c in fresh.chunks]


def _mates(batches) -> set[tuple[int, int]]:
    """Pairs of indices that share a batch."""
    out = set()
    for b in batches:
        b = sorted(b.tolist())
        out |= {(i, j) for k, i in enumerate(b) for j in b[k + 1 :]}
    return out


@pytest.mark.parametrize("n, batch_size", [(354, 32), (100, 8), (60, 16), (4096, 32)])
def test_batch_mates_change_between_epochs_at_every_size(n, batch_size):
    """Each epoch draws new batches: of the pairs of texts that share a batch, at most about a
    quarter shared one in the previous epoch. With all the data in one sorting window (the old
    rule for data under 64 batches), distinct lengths put the same texts together every epoch."""
    lengths = _lengths(n)
    rng = np.random.default_rng(0)
    first, second = bucketed_batches(lengths, batch_size, rng), bucketed_batches(lengths, batch_size, rng)
    again = _mates(first) & _mates(second)
    assert len(again) / len(_mates(second)) < 0.35
    whole_window = [np.sort(np.argsort(lengths, kind="stable")[i : i + batch_size]) for i in range(0, n, batch_size)]
    assert len(_mates(whole_window) & _mates(first)) / len(_mates(first)) < 0.35  # not the one-window batches


def test_small_data_still_buckets_by_length():
    """The demo-sized case keeps most of bucketing's padding saving."""
    lengths = _lengths(354)
    rng = np.random.default_rng(0)
    bucketed = bucketed_batches(lengths, 32, rng)
    perm = np.random.default_rng(0).permutation(len(lengths))
    plain = [perm[i : i + 32] for i in range(0, len(perm), 32)]

    def padding(batches):
        return sum(int(lengths[b].max()) * len(b) - int(lengths[b].sum()) for b in batches)

    assert padding(bucketed) < 0.6 * padding(plain)
