"""Phase 1, DAE (TSDAE): adapt the encoder to the data by reconstructing each sentence from
the pooled vector of a noisy copy.

Noise deletes each word with probability `noise_ratio`, drawn afresh every epoch, on the
tokens (noise.TokenWordDropper: the words' tokens go, no re-tokenising per epoch). The
decoder is the encoder's own checkpoint as a causal LM with cross-attention on the pooled
vector, its weights tied to the encoder (sentence-transformers `DenoisingAutoEncoderLoss`).
For encoders with no decoder class in transformers (MPNet), `dae.decoder` names another
checkpoint of the same hidden size, untied. No labels are used.

Speed (`dae.fast_loss`, on by default): the stock loss projects every decoder position,
padding included, onto the 30k-word vocabulary and lets the cross-entropy ignore the padding.
We know each target's tokens on the host, so the batch carries the flat positions of the real
target tokens and their ids (pinned, copied without a host sync; padded to a few bucket sizes
so that the matrix shapes repeat) and only those rows reach the vocabulary projection. The loss
value is the same (mean cross-entropy over real target tokens); the largest matrix product of
the step shrinks by the padding share. `tests/test_dae_fast_loss.py`
checks it against the stock `DenoisingAutoEncoderLoss.forward`.
"""

from __future__ import annotations

import numpy as np
import torch

from threephase_core.attention import avoid_mask_syncs
from threephase_core.batching import bucketed_batches, collate, to_device, tokenize
from threephase_core.config import DAEConfig, decoder_folder_problem
from threephase_core.encoder import ModelError
from threephase_core.noise import TokenWordDropper, delete_words_batch
from threephase_core.training import PhaseContext, fit, steps_per_epoch, unique_params


def make_dae_loss(model, cfg: DAEConfig, cuda: bool = False):
    """The TSDAE loss: the encoder's own checkpoint as tied decoder, or `cfg.decoder` untied.

    A decoder that cannot be loaded is a ModelError naming it (RunConfig.validate() refuses a
    missing local folder up front; this covers direct callers and hub ids that fail to load),
    not the hub client's error, which for a missing folder is a misleading "Repo id must use
    alphanumeric chars"."""
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    if cfg.decoder:
        problem = decoder_folder_problem(cfg.decoder)
        if problem:
            raise ModelError(problem)
        try:
            loss = DenoisingAutoEncoderLoss(model, decoder_name_or_path=cfg.decoder, tie_encoder_decoder=False)
        except Exception as e:  # noqa: BLE001 - offline hub, no causal-LM class for the architecture, bad files...
            raise ModelError(
                f"could not load the DAE decoder {cfg.decoder!r} ({type(e).__name__}: {str(e)[:200]}); "
                "dae.decoder takes a local model folder or a hub id with a network connection"
            ) from None
    else:
        loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    if cuda:
        avoid_mask_syncs(loss.decoder)
    return loss


class DAEBatches:
    """Per epoch: fresh noise for every text, then length-bucketed (source, target) batches."""

    def __init__(self, model, texts: list[str], cfg: DAEConfig, ctx: PhaseContext, salt: int = 1, loss_fn=None):
        self.tokenizer, self.texts, self.cfg, self.ctx = model.tokenizer, list(texts), cfg, ctx
        # Fast (Rust) tokenizers give character offsets: noise on the tokens. Others re-tokenise.
        self.dropper = (
            TokenWordDropper(self.tokenizer, self.texts, ctx.max_length)
            if getattr(self.tokenizer, "is_fast", False)
            else None
        )
        if (
            self.dropper is not None and not self.dropper.faithful
        ):  # e.g. byte-level BPE: words' pieces depend on context
            self.dropper = None
        # Label positions only when the loss these batches feed can use them (unknown loss: assume so).
        self.select_positions = cfg.fast_loss and (loss_fn is None or can_select_positions(loss_fn))
        if self.dropper:
            self.targets = self.dropper.targets()  # = tokenize(texts): later phases re-use them
            ctx.token_cache.add(self.tokenizer, ctx.max_length, False, self.texts, self.targets)
        else:
            self.targets = tokenize(self.tokenizer, self.texts, ctx.max_length, cache=ctx.token_cache)
        self.rng = ctx.rng(salt)

    def __len__(self) -> int:
        return steps_per_epoch(len(self.texts), self.cfg.batch_size)

    def epoch(self, epoch: int) -> list:
        if self.dropper:
            source = self.dropper.draw(self.cfg.noise_ratio, self.rng)  # = delete_words, then tokenise
        else:
            source = tokenize(
                self.tokenizer, delete_words_batch(self.texts, self.cfg.noise_ratio, self.rng), self.ctx.max_length
            )
        return [(source, idx) for idx in bucketed_batches(self.targets.lengths, self.cfg.batch_size, self.rng)]

    def target_tokens(self, item) -> np.ndarray:
        """Per text of a batch, its next-token labels: the loss is their mean."""
        return self.targets.lengths[item[1]] - 1

    def features(self, item) -> list[dict]:
        """[source, target] batches; with the fast loss the target also carries the flat
        `label_positions` of its real next-token labels and their `label_ids`."""
        source, idx = item
        src, tgt = collate(source, idx, self.ctx.device), collate(self.targets, idx, self.ctx.device)
        if self.select_positions:
            rows = [self.targets.chunks[int(i)][0] for i in idx]
            positions, label_ids = next_token_labels(rows, tgt["input_ids"].shape[1], self.targets.pad_id)
            tgt["label_positions"] = to_device(positions, self.ctx.device, self.ctx.cuda)
            tgt["label_ids"] = to_device(label_ids, self.ctx.device, self.ctx.cuda)
        return [src, tgt]


def bucket_size(n: int, floor: int = 256) -> int:
    """n rounded up to the next of 1, 1.25, 1.5, 1.75 x a power of two (at most 25% more, and
    only a few distinct sizes, so the GPU libraries plan each matrix shape once)."""
    if n <= floor:
        return floor
    p = 1 << (int(n - 1).bit_length() - 1)
    for f in (1.0, 1.25, 1.5, 1.75, 2.0):
        if n <= int(p * f):
            return int(p * f)
    return 2 * p


def next_token_labels(rows: list[np.ndarray], width: int, pad_id: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions, in a (len(rows), width - 1) grid of next-token labels, of the labels that
    are real tokens (row r of n tokens predicts tokens 1..n-1 at positions 0..n-2), and those
    tokens. Both are padded to `bucket_size` with position 0 and label -100 (ignored). A real
    token equal to `pad_id` is ignored too, as the stock loss (ignore_index=pad) does."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    keep = np.arange(width - 1)[None, :] < (lengths[:, None] - 1)
    positions = np.flatnonzero(keep).astype(np.int64)
    labels = np.concatenate([np.asarray(r[1:], dtype=np.int64) for r in rows]) if rows else np.zeros(0, np.int64)
    if pad_id is not None:
        labels = np.where(labels == pad_id, -100, labels)
    size = bucket_size(len(positions))
    positions = np.concatenate([positions, np.zeros(size - len(positions), np.int64)])
    labels = np.concatenate([labels, np.full(size - len(labels), -100, np.int64)])
    return positions, labels


def can_select_positions(loss_fn) -> bool:
    """The fast path needs the decoder's body and head apart (BERT-style `cls` head) and the
    encoder's own tokens as targets (no re-tokenisation for a foreign decoder)."""
    return hasattr(loss_fn.decoder, "cls") and not getattr(loss_fn, "need_retokenization", False)


def bottleneck(model, features: dict, pooled: bool) -> torch.Tensor:
    """The sentence vector the decoder reads: the model's `sentence_embedding`, or with `pooled`
    the pooling output before a final Normalize module (see `DAEConfig.bottleneck`)."""
    if not pooled:
        return model(features)["sentence_embedding"]
    from sentence_transformers.sentence_transformer.modules import Normalize

    for module in model:
        if not isinstance(module, Normalize):
            features = module(features)
    return features["sentence_embedding"]


def dae_loss_on(loss_fn, feats: list[dict], pooled: bool = False):
    """The TSDAE loss of one [source, target] batch; `pooled`: the decoder reads the vector
    before the encoder's Normalize module (`bottleneck`)."""
    src, tgt = ({"input_ids": f["input_ids"], "attention_mask": f["attention_mask"]} for f in feats)
    positions = feats[1].get("label_positions")
    reps = bottleneck(loss_fn.encoder, src, pooled)
    if positions is None or not can_select_positions(loss_fn):
        return _stock_loss(loss_fn, src, tgt, reps)
    # The stock forward (sentence-transformers DenoisingAutoEncoderLoss) with two changes that
    # leave the loss unchanged: the head runs only at `positions`, and the cross-attention gets
    # no mask (its one key, the pooled vector, is always attended; the stock mask is the
    # source's first column, always 1, and checking that costs a host sync).
    hidden = loss_fn.decoder.base_model(
        input_ids=tgt["input_ids"][:, :-1],
        attention_mask=None,
        encoder_hidden_states=reps[:, None],
        encoder_attention_mask=None,
        use_cache=False,
    )[0]
    rows = hidden.reshape(-1, hidden.shape[-1]).index_select(0, positions)
    logits = loss_fn.decoder.cls(rows)
    return torch.nn.functional.cross_entropy(logits.float(), feats[1]["label_ids"], ignore_index=-100)


def _stock_loss(loss_fn, src: dict, tgt: dict, reps: torch.Tensor) -> torch.Tensor:
    """sentence-transformers' `DenoisingAutoEncoderLoss.forward`, on the bottleneck `reps`."""
    if loss_fn.need_retokenization:  # a decoder with its own tokenizer reads the targets re-tokenised
        tgt = loss_fn.retokenize(tgt)
    ids = tgt["input_ids"]
    logits = loss_fn.decoder(
        input_ids=ids[:, :-1],
        attention_mask=None,
        encoder_hidden_states=reps[:, None],
        encoder_attention_mask=src["attention_mask"][:, 0:1],
        use_cache=False,
    )[0]
    ce = torch.nn.CrossEntropyLoss(ignore_index=loss_fn.tokenizer_decoder.pad_token_id)
    return ce(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def train_dae(model, texts: list[str], cfg: DAEConfig, ctx: PhaseContext) -> dict:
    """Train `model` in place as a denoising autoencoder; returns the steps taken and
    `bottleneck_use` (does the trained decoder read the sentence vector at all?)."""
    loss_fn = make_dae_loss(model, cfg, ctx.cuda).to(ctx.device)
    loss_fn.train()
    batches = DAEBatches(model, texts, cfg, ctx, loss_fn=loss_fn)
    pooled = cfg.bottleneck == "pooled"
    shared, own = split_decoder_params(model, loss_fn, cfg)
    steps = fit(
        ctx,
        "dae",
        cfg.epochs,
        len(batches),
        batches.epoch,
        lambda item: dae_loss_on(loss_fn, batches.features(item), pooled),
        shared,
        cfg.lr,
        warmup_ratio=0.0,
        schedule="constant",
        extra_groups=own,
        units=batches.target_tokens,
    )
    # The decoder goes with this function's locals; the encoder keeps the trained (tied) weights.
    return {"steps": steps, **(bottleneck_use(loss_fn, batches, pooled) if ctx.leader else {})}


def split_decoder_params(model, loss_fn, cfg: DAEConfig) -> tuple[list, tuple[dict, ...]]:
    """(parameters trained at dae.lr, extra groups): with `dae.decoder_lr` set, the parameters
    the decoder does not share with the encoder get their own group at that rate. With the tied
    default those are the decoder's freshly drawn cross-attention and LM-head transform, thrown
    away after the phase: at dae.lr they barely move in a short phase, the decoder stays a random
    head, and its gradients reach the shared encoder weights as noise."""
    params = unique_params(loss_fn)
    if not cfg.decoder_lr:
        return params, ()
    encoder = {id(p) for p in model.parameters()}
    own = [p for p in params if id(p) not in encoder]
    return [p for p in params if id(p) in encoder], ({"params": own, "lr": cfg.decoder_lr},)


@torch.no_grad()
def bottleneck_use(loss_fn, batches: DAEBatches, pooled: bool, n_batches: int = 4) -> dict:
    """The reconstruction loss of a few fresh noisy batches from their own sentence vectors and
    from another sentence's (each batch's sources rolled by one). Equal losses mean the decoder
    reconstructs from its language model alone and ignores the bottleneck: the phase then trains
    the encoder's (tied) weights as a causal language model, not as a sentence encoder."""
    was = loss_fn.training
    loss_fn.eval()
    own, other = [], []
    for item in batches.epoch(-1)[:n_batches]:
        feats = batches.features(item)
        if feats[0]["input_ids"].shape[0] < 2:
            continue
        own.append(float(dae_loss_on(loss_fn, feats, pooled)))
        rolled = {k: (v.roll(1, 0) if k in ("input_ids", "attention_mask") else v) for k, v in feats[0].items()}
        other.append(float(dae_loss_on(loss_fn, [rolled, feats[1]], pooled)))
    loss_fn.train(was)
    if not own:
        return {}
    return {"loss_own_vector": float(np.mean(own)), "loss_other_vector": float(np.mean(other))}
