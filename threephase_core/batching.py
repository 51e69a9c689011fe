"""Tokenise once, then serve length-bucketed, padded batches.

Why our own code instead of a DataLoader + collator: on a GPU the stock loops are bound by
per-step overhead (tokenising every step, padding to the longest text in a random batch,
host synchronisation). Here every text is tokenised once up front; batches group texts of
similar length (sorted inside shuffled windows) so padding stays small; and the batch
order is shuffled so training still sees classes mixed.

Long texts can be cut into several chunks (``chunk=True``): each text then owns one or
more rows of a batch, and `segment_mean` averages the chunk embeddings back per text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

PAD_MULTIPLE = 8


@dataclass
class Tokenized:
    """Token ids per text, as one or more chunks each (one unless chunking)."""

    chunks: list[list[np.ndarray]]
    pad_id: int

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([sum(len(c) for c in ch) for ch in self.chunks], dtype=np.int64)


class TokenCache:
    """Token ids a run has already computed, per text, for each (tokenizer, max length, chunking).

    The phases of a recipe read the same training texts again and again: the DAE's targets,
    both sides of every CL pair (SST-2: 133k pairs over 67k distinct texts, so 267k texts to
    tokenise), FT's training set, the validation set after every phase. With one cache per run
    (`PhaseContext.token_cache`), each distinct text is tokenised once.
    """

    def __init__(self) -> None:
        self._tables: dict[tuple, dict[str, list[np.ndarray]]] = {}

    def table(self, tokenizer, max_length: int, chunk: bool) -> dict[str, list[np.ndarray]]:
        # Keyed by the tokenizer object itself (identity hash), which the key keeps alive, so
        # another tokenizer can never be served this one's ids.
        return self._tables.setdefault((tokenizer, max_length, chunk), {})

    def add(self, tokenizer, max_length: int, chunk: bool, texts: list[str], tok: Tokenized) -> None:
        """Record token ids computed elsewhere (the DAE's noise builder tokenises the texts itself)."""
        table = self.table(tokenizer, max_length, chunk)
        for text, chunks in zip(texts, tok.chunks):
            table.setdefault(text, [_read_only(c) for c in chunks])


def tokenize(
    tokenizer, texts: list[str], max_length: int, chunk: bool = False, cache: TokenCache | None = None
) -> Tokenized:
    """Tokenise all texts at once (fast tokenizer, batched); each distinct text only once, and
    none that `cache` already holds. Texts that repeat share their id arrays, made read-only."""
    texts = list(texts)
    table = cache.table(tokenizer, max_length, chunk) if cache is not None else {}
    todo = [t for t in dict.fromkeys(texts) if t not in table]
    if todo:
        table.update(zip(todo, _token_chunks(tokenizer, todo, max_length, chunk)))
    return Tokenized([table[t] for t in texts], tokenizer.pad_token_id)


def _token_chunks(tokenizer, texts: list[str], max_length: int, chunk: bool) -> list[list[np.ndarray]]:
    """Per text, its ids as one chunk (truncated at `max_length`) or as several chunks."""
    if not chunk:
        enc = tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=True)
        return [[_read_only(np.asarray(ids, dtype=np.int64))] for ids in enc["input_ids"]]
    body = tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
    cls, sep, step = tokenizer.cls_token_id, tokenizer.sep_token_id, max_length - 2
    out = []
    for ids in body:
        pieces = [ids[i : i + step] for i in range(0, max(len(ids), 1), step)] or [[]]
        out.append([_read_only(np.asarray([cls, *p, sep], dtype=np.int64)) for p in pieces])
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


MIN_WINDOWS = 4  # the data is cut into at least this many windows, so batches change between epochs


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None, window: int = 64
) -> list[np.ndarray]:
    """Index batches of similar length. With `rng`, the data is shuffled, sorted by length
    inside windows of `window` batches, and the batch order shuffled; without, batches are in
    length order (deterministic, for evaluation).

    A window holds at most 1/MIN_WINDOWS of the data: were all the data one window, sorting it
    by length would put the same texts together in every epoch (on the 354-text demo, half of
    the pairs of texts sharing a batch shared one the epoch before, against 9% for random
    batches). With 4 windows, a text's batch mates change between epochs (about 20% of those
    pairs repeat on the demo) while padding stays well below random batching's.
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    n_batches = -(-n // batch_size)
    window = max(1, min(window, n_batches // MIN_WINDOWS))
    perm = rng.permutation(n)
    span = batch_size * window
    batches = []
    for start in range(0, n, span):
        part = perm[start : start + span]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def collate(
    tok: Tokenized, index: np.ndarray, device: str | torch.device, extras: dict[str, np.ndarray] | None = None
) -> dict[str, torch.Tensor]:
    """Pad the chunks of the texts in `index` into one batch on `device`.

    The result has ``input_ids`` and ``attention_mask``, plus ``owner`` (text position of each
    row) when some text has several chunks, plus ``extras[k][index]`` for each extra array
    (labels, scores): they travel with the batch through pinned memory, so reading them never
    forces a host synchronisation on the GPU.
    """
    rows, owner = [], []
    for pos, i in enumerate(index):
        for c in tok.chunks[int(i)]:
            rows.append(c)
            owner.append(pos)
    # Widths rounded up to a multiple of 8: tensor-core friendly, and far fewer distinct shapes
    # for the GPU libraries to plan for (each new shape costs a one-off heuristic search).
    width = -(-max(len(r) for r in rows) // PAD_MULTIPLE) * PAD_MULTIPLE
    ids = np.full((len(rows), width), tok.pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for k, r in enumerate(rows):
        ids[k, : len(r)] = r
        mask[k, : len(r)] = 1
    cuda = torch.device(device).type == "cuda"
    batch = {"input_ids": to_device(ids, device, cuda), "attention_mask": to_device(mask, device, cuda)}
    if len(rows) != len(index):
        batch["owner"] = to_device(np.asarray(owner, dtype=np.int64), device, cuda)
        batch["n_texts"] = len(index)
    for key, values in (extras or {}).items():
        batch[key] = to_device(np.ascontiguousarray(values[index]), device, cuda)
    return batch


def to_device(a: np.ndarray, device, cuda: bool) -> torch.Tensor:
    t = torch.from_numpy(a)
    return t.pin_memory().to(device, non_blocking=True) if cuda else t


def segment_mean(rows: torch.Tensor, owner: torch.Tensor, n: int) -> torch.Tensor:
    """Average rows that belong to the same text (chunk embeddings -> text embedding)."""
    out = torch.zeros(n, rows.shape[-1], dtype=rows.dtype, device=rows.device)
    out.index_add_(0, owner, rows)
    count = (
        torch.zeros(n, dtype=rows.dtype, device=rows.device)
        .index_add_(0, owner, torch.ones_like(owner, dtype=rows.dtype))
        .clamp(min=1)
    )
    return out / count[:, None]
