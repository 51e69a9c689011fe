"""The training loop every phase shares, and the context it runs in.

One loop for all phases keeps the speed work in one place: batches come pre-tokenised and
length-bucketed (`batching.py`); bf16 autocast on CUDA, fp32 on CPU; fused AdamW on CUDA;
losses stay on the device and are read back (a host synchronisation) only every
`log_every` steps; cancel is checked at every step boundary through `Progress.step`.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from threephase_core.batching import TokenCache, Tokenized, bucketed_batches, collate, segment_mean
from threephase_core.progress import Progress


@dataclass
class PhaseContext:
    """What a phase needs besides its data and settings."""

    device: str = "cpu"
    seed: int = 0
    progress: Progress = field(default_factory=Progress)
    max_steps: int = 0
    max_length: int = 128
    chunk: bool = False  # long texts as several chunks (mean of chunk embeddings)
    token_cache: TokenCache = field(default_factory=TokenCache)  # each distinct text tokenised once per run
    team: object | None = None  # a `distributed.Team` when the run is split over processes

    @property
    def leader(self) -> bool:
        """Whether this process evaluates and writes (always, without a team)."""
        return self.team is None or self.team.leader

    @property
    def cuda(self) -> bool:
        return torch.device(self.device).type == "cuda"

    @property
    def log_every(self) -> int:
        return 25 if self.cuda else 1

    def autocast(self):
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])

    def cap(self, steps: int) -> int:
        return min(steps, self.max_steps) if self.max_steps else steps


def make_optimizer(groups: list[dict], device: str, weight_decay: float = 0.01) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices only (see `decay_groups`); fused kernels on CUDA
    (one launch for all parameters)."""
    fused = torch.device(device).type == "cuda"
    return torch.optim.AdamW(decay_groups(groups, weight_decay), fused=fused)


def decay_groups(groups: list[dict], weight_decay: float) -> list[dict]:
    """Each parameter group split in two, same settings otherwise: the matrices (Linear and
    Embedding weights) decay at `weight_decay`, the vectors (biases, LayerNorm weights) not at
    all. Pulling a LayerNorm gain towards 0 or a bias towards 0 is no useful prior, and BERT's
    own recipe exempts both. Rule by shape, as nanoGPT does: every 1-D parameter is exempt."""
    out = []
    for group in groups:
        params = list(group["params"])
        for decay, chosen in (
            (weight_decay, [p for p in params if p.ndim >= 2]),
            (0.0, [p for p in params if p.ndim < 2]),
        ):
            if chosen:
                out.append({**group, "params": chosen, "weight_decay": decay})
    return out


def make_scheduler(opt, total_steps: int, warmup_ratio: float = 0.06, kind: str = "linear", floor: float = 0.0):
    """Linear warm-up, then linear decay, cosine decay (to `floor` of the peak) or constant."""
    warm = max(1, int(round(total_steps * warmup_ratio)))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        rest = max(1, total_steps - warm)
        t = min(1.0, (step - warm) / rest)
        if kind == "constant":
            return 1.0
        if kind == "cosine":
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))
        return max(0.0, 1.0 - t)

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def unique_params(*modules: torch.nn.Module) -> list[torch.nn.Parameter]:
    seen, out = set(), []
    for m in modules:
        for p in m.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def run_steps(
    ctx: PhaseContext,
    phase: str,
    epochs: int,
    total: int,
    make_batches: Callable[[int], list],
    compute_loss: Callable[[object], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler=None,
    params: Iterable[torch.nn.Parameter] = (),
    after_step: Callable[[int, int], bool] | None = None,
    max_grad_norm: float = 1.0,
    units: Callable[[object], np.ndarray] | None = None,
) -> int:
    """Train for `epochs` over the batches `make_batches(epoch)` gives, stopping after `total`
    steps (the caller's count, already capped by ctx.max_steps); return the steps taken.

    `after_step(step, epoch)` may return True to stop early (used by FT's validation).
    `units(batch)`: per text of a batch, how much it counts in the loss's mean (default: one
    each); only a run split over processes needs it, to weigh each process's share.
    """
    if ctx.team is not None:
        together = (ctx, phase, epochs, total, make_batches, compute_loss, optimizer, scheduler, params)
        return _run_steps_together(*together, after_step, max_grad_norm, units)
    params = list(params)
    ctx.progress.start_phase(phase, total)
    step, pending = 0, []
    for epoch in range(epochs):
        for batch in make_batches(epoch):
            with ctx.autocast():
                loss = compute_loss(batch)
            loss.backward()
            if max_grad_norm and params:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            pending.append(loss.detach())
            step += 1
            last = step >= total
            if step % ctx.log_every == 0 or last:
                value = torch.stack(pending).float().mean().item()
                ctx.progress.step(len(pending), loss=value, epoch=epoch)
                pending = []
            else:
                ctx.progress.check_cancel()
            if after_step is not None and after_step(step, epoch):
                return step
            if last:
                return step
    if pending:
        ctx.progress.step(len(pending), loss=torch.stack(pending).float().mean().item())
    return step


def _run_steps_together(
    ctx,
    phase,
    epochs,
    total,
    make_batches,
    compute_loss,
    optimizer,
    scheduler,
    params,
    after_step,
    max_grad_norm,
    units,
) -> int:
    """`run_steps` for one process of a team (`distributed.py`): the same global batches in every
    process, this process's share of each through DistributedDataParallel (gradients averaged),
    the logged loss the global batch's, and the stop decisions (cancel, early stopping by the
    leader's validation) agreed at every step so that all processes leave at the same step."""
    team, params = ctx.team, list(params)
    ctx.progress.start_phase(phase, total)
    team.stop_together(ctx.progress)
    net = team.data_parallel(params, compute_loss)
    try:
        step, pending = 0, []
        for epoch in range(epochs):
            for batch in make_batches(epoch):
                share, weight = team.share(batch, units)
                with ctx.autocast():
                    loss = net(share)
                # DDP averages the gradients over the processes: weighting each share's mean
                # loss by its share of the batch makes that average the global batch's mean.
                (loss * (weight * team.size)).backward()
                if max_grad_norm and params:
                    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                pending.append(loss.detach().float() * weight)
                step += 1
                last = step >= total
                if step % ctx.log_every == 0 or last:
                    value = team.total(torch.stack(pending)).mean().item()
                    ctx.progress.step(len(pending), loss=value, epoch=epoch)
                    pending = []
                stop = team.stop_together(ctx.progress, bool(after_step is not None and after_step(step, epoch)))
                if stop or last:
                    return step
        if pending:
            ctx.progress.step(len(pending), loss=team.total(torch.stack(pending)).mean().item())
        return step
    finally:
        del net  # its gradient hooks go before the next phase wraps the same parameters
        gc.collect()


def fit(
    ctx: PhaseContext,
    phase: str,
    epochs: int,
    batches_per_epoch: int,
    make_batches,
    compute_loss,
    params: list,
    lr: float,
    warmup_ratio: float = 0.1,
    schedule: str = "linear",
    extra_groups: tuple[dict, ...] = (),
    units=None,
) -> int:
    """The representation phases' common path: AdamW at `lr` over `params` (and over each of
    `extra_groups` at its own "lr"), warm-up then `schedule`, for `epochs` x `batches_per_epoch`
    steps (capped by ctx.max_steps)."""
    groups = [{"params": params, "lr": lr}, *(g for g in extra_groups if g["params"])]
    opt = make_optimizer(groups, ctx.device)
    total = ctx.cap(epochs * batches_per_epoch)
    sched = make_scheduler(opt, total, warmup_ratio, schedule)
    every = [p for g in groups for p in g["params"]]
    return run_steps(ctx, phase, epochs, total, make_batches, compute_loss, opt, sched, every, units=units)


def embed_batch(model, batch: dict) -> torch.Tensor:
    """Pooled embeddings of a collated batch (chunk rows averaged back per text)."""
    feats = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    out = model(feats)["sentence_embedding"]
    if "owner" in batch:
        out = segment_mean(out, batch["owner"], batch["n_texts"])
    return out


@torch.no_grad()
def encode(model, tok: Tokenized, ctx: PhaseContext, batch_size: int = 128) -> np.ndarray:
    """Embeddings of every text, in input order, as float32 (model in eval mode)."""
    was_training = model.training
    model.eval()
    parts, order = [], []
    for idx in bucketed_batches(tok.lengths, batch_size, rng=None):
        with ctx.autocast():
            emb = embed_batch(model, collate(tok, idx, ctx.device))
        parts.append(emb.float())
        order.append(idx)
    model.train(was_training)
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    out = torch.cat(parts).cpu().numpy()
    result = np.empty_like(out)
    result[np.concatenate(order)] = out
    return result


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, math.ceil(n / batch_size))
