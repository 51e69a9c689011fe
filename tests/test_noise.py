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


# ---- TokenWordDropper (the DAE's noise on pre-tokenised text) ---------------------------
def _tokenizer():
    from transformers import AutoTokenizer

    from threephase_core.encoder import packaged_minilm_path

    return AutoTokenizer.from_pretrained(packaged_minilm_path())


DROP_TEXTS = [
    "hide new secretions from the parental units",
    "that 's far too tragic to merit such superficial treatment",
    "one",
    "",
    "  spaced\tout \n words  here ",
    "unbelievably antidisestablishmentarianism-style punctuation, everywhere!",
    "café naïve résumé — with ünïcödé and a non\u00a0breaking space",
]


def _split_into_words(noisy: list[int], text: str, tok) -> list[str] | None:
    """The words of `text`, in order, whose tokens (tokenised alone) make up `noisy` exactly."""
    out, pos = [], 0
    for w in text.split():
        piece = tok(w, add_special_tokens=False)["input_ids"]
        if noisy[pos : pos + len(piece)] == piece:
            out.append(w)
            pos += len(piece)
    return out if pos == len(noisy) else None


def test_token_dropper_targets_equal_plain_tokenisation():
    from threephase_core.noise import TokenWordDropper

    tok = _tokenizer()
    d = TokenWordDropper(tok, DROP_TEXTS, max_length=128)
    targets = d.targets()
    for text, chunks in zip(DROP_TEXTS, targets.chunks):
        assert chunks[0].tolist() == tok(text, truncation=True, max_length=128)["input_ids"]
    assert d.n_words == sum(len(t.split()) for t in DROP_TEXTS)


@pytest.mark.parametrize("ratio", [0.3, 0.6, 0.99])
def test_token_dropper_deletes_whole_words_like_delete_words(ratio):
    from threephase_core.noise import TokenWordDropper

    tok = _tokenizer()
    d = TokenWordDropper(tok, DROP_TEXTS, max_length=128)
    cls, sep = tok.cls_token_id, tok.sep_token_id
    for seed in range(5):
        noisy = d.draw(ratio, np.random.default_rng(seed))
        for text, chunks in zip(DROP_TEXTS, noisy.chunks):
            ids = chunks[0].tolist()
            assert ids[0] == cls and ids[-1] == sep
            kept = _split_into_words(ids[1:-1], text, tok)
            assert kept is not None, (text, tok.decode(ids))
            assert _is_subsequence(kept, text.split())
            if text.split():
                assert len(kept) >= 1  # at least one word survives
            if len(text.split()) == 1:
                assert kept == text.split()
            # the noisy copy is what tokenising the shortened text gives
            assert ids == tok(" ".join(kept), truncation=True, max_length=128)["input_ids"]


def test_token_dropper_rate_is_close_to_ratio_and_seeded():
    from threephase_core.noise import TokenWordDropper

    tok = _tokenizer()
    texts = [" ".join(f"w{i}x{j}" for j in range(20)) for i in range(200)]
    d = TokenWordDropper(tok, texts, max_length=512)
    a = d.draw(0.6, np.random.default_rng(3))
    b = d.draw(0.6, np.random.default_rng(3))
    c = d.draw(0.6, np.random.default_rng(4))
    assert all((x[0] == y[0]).all() for x, y in zip(a.chunks, b.chunks))
    assert any(len(x[0]) != len(y[0]) or (x[0] != y[0]).any() for x, y in zip(a.chunks, c.chunks))
    kept_words = sum(len(_split_into_words(ch[0].tolist()[1:-1], t, tok)) for t, ch in zip(texts, a.chunks))
    assert abs(kept_words / (20 * 200) - 0.4) < 0.03


def test_token_dropper_truncated_words_are_not_counted():
    from threephase_core.noise import TokenWordDropper

    tok = _tokenizer()
    text = " ".join(f"word{i}" for i in range(100))
    d = TokenWordDropper(tok, [text], max_length=16)
    assert len(d.targets().chunks[0][0]) == 16
    assert d.n_words <= 14  # only words with tokens inside the cut count
    noisy = d.draw(0.99, np.random.default_rng(0)).chunks[0][0]
    assert len(noisy) >= 3  # CLS, at least one word's tokens, SEP


def _trained_tokenizer(kind: str):
    """A small SentencePiece-style (Metaspace) or byte-level BPE fast tokenizer, trained here."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = ["hello world this is a test", "the quick brown fox jumps over the lazy dog", "hello there world"] * 50
    if kind == "metaspace":
        tk = Tokenizer(models.Unigram())
        tk.pre_tokenizer = pre_tokenizers.Metaspace()
        tk.decoder = decoders.Metaspace()
        tr = trainers.UnigramTrainer(
            vocab_size=60, special_tokens=["<pad>", "<s>", "</s>", "<unk>"], unk_token="<unk>"
        )
    else:
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tk.decoder = decoders.ByteLevel()
        tr = trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<pad>", "<s>", "</s>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    tk.train_from_iterator(corpus, tr)
    tk.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", tk.token_to_id("<s>")), ("</s>", tk.token_to_id("</s>"))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<s>", eos_token="</s>"), corpus


def test_token_dropper_handles_offsets_that_include_the_space_before_a_word():
    from threephase_core.noise import TokenWordDropper

    tok, corpus = _trained_tokenizer("metaspace")
    d = TokenWordDropper(tok, corpus, max_length=64)
    assert d.faithful
    assert d.n_words == sum(len(t.split()) for t in corpus)
    text = corpus[0]
    keep = np.ones(d.n_words, dtype=bool)
    keep[0] = False  # delete "hello"
    first = slice(0, d.lengths[0])
    keep_tok = (d.word[first] < 0) | keep[np.maximum(d.word[first], 0)]
    assert d.ids[first][keep_tok].tolist() == tok(" ".join(text.split()[1:]))["input_ids"]


def test_token_dropper_flags_tokenizers_whose_word_pieces_depend_on_context():
    from threephase_core.noise import TokenWordDropper

    tok, corpus = _trained_tokenizer("bytelevel")  # "Ġworld" mid-text, "world" at the start
    assert not TokenWordDropper(tok, corpus, max_length=64).faithful


def test_dae_batches_fall_back_to_retokenising_when_the_dropper_is_not_faithful(monkeypatch):
    from threephase_core.config import DAEConfig
    from threephase_core.phases.dae import DAEBatches
    from threephase_core.training import PhaseContext

    tok, corpus = _trained_tokenizer("bytelevel")

    class Model:
        tokenizer = tok

    batches = DAEBatches(Model(), corpus[:30], DAEConfig(batch_size=8), PhaseContext(device="cpu"))
    assert batches.dropper is None
    item = batches.epoch(0)[0]
    assert len(item[1]) == 8


def test_token_dropper_degenerate_texts():
    from threephase_core.noise import TokenWordDropper

    tok = _tokenizer()
    d = TokenWordDropper(tok, ["\u200b", "\u200b \u200b"], max_length=32)  # no word yields a token
    assert d.n_words == 0
    out = d.draw(0.9, np.random.default_rng(0))
    assert [c[0].tolist() for c in out.chunks] == [c[0].tolist() for c in d.targets().chunks]

    tok_ms, _ = _trained_tokenizer("metaspace")
    texts = ["hello world", "  ", "this is a test"]
    d = TokenWordDropper(tok_ms, texts, max_length=32)
    out = d.draw(0.0, np.random.default_rng(0))
    assert [c[0].tolist() for c in out.chunks] == [c[0].tolist() for c in d.targets().chunks]
