"""Run one recipe end to end and leave everything in its run folder.

Order: config.json -> data -> encoder -> embeddings of validation and training texts after
loading (`base`) and after every phase (`snapshots.py`) -> FT -> validation and test metrics (test evaluated once, at
the end, with the model chosen on validation) -> model. Each finished step is on disk before
the next starts, so a crash or a cancel keeps what was done.

Failures are recorded, never raised: the failure handler's own writes (event log, status) are
allowed to fail too (a full disk), a full disk gets a message that says so, and a model that
cannot be saved after the metrics were written leaves the metrics in place and says it.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import socket
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from threephase_core import checkpoints, estimates, snapshots
from threephase_core.batching import tokenize
from threephase_core.config import ConfigError, RunConfig, save_config, to_dict
from threephase_core.data import DataError, TextDataset, dataset_for
from threephase_core.encoder import ModelError, device_label, load_encoder, max_input_tokens, pick_device
from threephase_core.metrics import classification_metrics, level_metrics
from threephase_core.progress import Cancelled, Progress
from threephase_core.runstore import Run
from threephase_core.training import PhaseContext
from threephase_core.unlabelled import label_free_texts, text_counts


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class ModelNotSaved(RuntimeError):
    """Saving the trained model failed after the metrics were computed and written; carries
    those metrics so the caller can still report them (the cause is ``__cause__``)."""

    def __init__(self, metrics: dict):
        super().__init__("the trained model could not be saved")
        self.metrics = metrics


_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) is a full disk or quota: an OSError
    with ENOSPC/EDQUOT, or an error from a library that only carries the OS text (safetensors
    writes "No space left on device (os error 28)")."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        text = str(exc).lower()
        if "no space left on device" in text or "disk quota exceeded" in text or "os error 28" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def friendly_error(exc: BaseException, run_dir: str | Path | None = None) -> str:
    """A message a person can act on; the traceback goes to the event log only. `run_dir`
    names the folder that was being written, for the disk-full message."""
    if isinstance(exc, (DataError, ModelError, ConfigError)):
        return str(exc)
    if is_disk_full(exc):
        where = run_dir or getattr(exc, "filename", None) or "the runs folder"
        return f"disk full while writing {where}: free some space, then start the run again"
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return (
            "the GPU ran out of memory: try a smaller batch size (e.g. --set ft.batch_size=16) or a smaller max_length"
        )
    return f"{type(exc).__name__}: {exc}"


def _quietly(write, *args, **kwargs) -> None:
    """Call a run-folder write and ignore OSError: used where the run's outcome is already
    decided (the failure handler, the final status), so a full or broken disk cannot turn it
    into a second exception that escapes the worker and leaves the job shown as running."""
    try:
        write(*args, **kwargs)
    except OSError:
        pass


def execute(
    cfg: RunConfig,
    run: Run,
    progress: Progress,
    dataset: TextDataset | None = None,
    resume: bool = False,
    team=None,
) -> dict:
    """Run `cfg` into `run`, reporting through `progress`; never raises (except to pass on
    KeyboardInterrupt/SystemExit). Returns the final status; a failed run whose metrics were
    computed and written before the model save failed also returns them under "metrics".
    With `resume`, `run` is a stopped run: it goes on from its last phase checkpoint (`checkpoints.py`).

    With a `team` (`distributed.py`) this is one process of a data-parallel run: every process
    trains, the leader alone writes the run folder, and a failure is written by the first process
    that fails (its result then says "reported")."""
    leader = team is None or team.leader
    if leader:
        progress.sinks.append(run.append_event)
    t0 = time.time()
    earlier_walls = (run.status.get("phase_walls") or {}) if resume else {}

    def phase_walls() -> dict:
        return {**earlier_walls, **progress.snapshot()["phase_walls"]}

    try:
        started = {} if resume else {"created": time.time()}  # a resumed run keeps its place in the list
        if leader:
            run.update_status(
                state="running",
                message="",
                recipe=cfg.recipe,
                dataset=cfg.dataset,
                seed=cfg.seed,
                pid=os.getpid(),
                host=socket.gethostname(),
                **started,
                **({} if team is None else team.record()),
            )  # see runstore.owner_alive
        progress.set_state("running")
        _share_the_cpu(progress)
        metrics = _run(cfg, run, progress, dataset, resume, team)
        progress.set_state("done")
        # Everything is on disk: a status write that fails now must not turn the run into a failure.
        if leader:
            _quietly(run.update_status, state="done", wall_s=time.time() - t0, phase_walls=phase_walls())
        return {"state": "done", "metrics": metrics}
    except Cancelled:
        progress.set_state("cancelled", "stopped by request; finished phases are kept")
        if leader:
            _quietly(
                run.update_status,
                state="cancelled",
                message="stopped by request",
                wall_s=time.time() - t0,
                phase_walls=phase_walls(),
            )
        return {"state": "cancelled"}
    except BaseException as exc:  # noqa: BLE001 - a job never takes the process down
        kept = exc.metrics if isinstance(exc, ModelNotSaved) else None
        cause = (exc.__cause__ or exc) if kept is not None else exc
        message = friendly_error(cause, run.path)
        if kept is not None:
            # The half-written model folder is useless (no classifier.json) and, on a full
            # disk, holds the space the status write below needs.
            shutil.rmtree(run.model_dir, ignore_errors=True)
            message = (
                f"the trained model could not be saved ({message}); "
                "the validation and test metrics were kept in metrics.json"
            )
        # Of a team, the first process to fail reports; a later failure is most often the
        # consequence (a collective whose peer is gone) and leaves the first one's message.
        reports = team is None or team.claim_failure()
        if team is not None:
            message = team.failure_message(message)
            if reports and not leader:
                progress.sinks.append(run.append_event)
            if not reports and leader:
                progress.sinks.remove(run.append_event)
        if reports:
            _quietly(run.append_event, {"t": time.time(), "type": "traceback", "text": traceback.format_exc()})
        progress.set_state("failed", message)
        if reports:
            _quietly(run.update_status, state="failed", message=message, wall_s=time.time() - t0)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        result = {
            "state": "failed",
            "message": message,
            "input_error": isinstance(exc, (DataError, ModelError, ConfigError)),
            "reported": reports,
        }
        if kept is not None:
            result["metrics"] = kept
        return result


def _share_the_cpu(progress: Progress) -> None:
    """Set the training thread's intra-op threads (threads.py: one per core the process may use,
    unless THREEPHASE_THREADS fixes them) and log the choice."""
    from threephase_core.threads import set_training_threads

    choice = set_training_threads()
    progress.log("threads", threads=choice.threads, fixed=choice.fixed)


def _phase2_pairs(cfg: RunConfig, texts: list[str], labels: np.ndarray, n_classes: int) -> dict | None:
    """The pairs of the recipe's CL or Joint phase (cosine loss), made and checked before any
    phase trains; None when no phase uses pairs. The same seed and inputs as the phase itself
    would use, so the pairs are the ones it would have drawn."""
    from threephase_core.phases.contrastive import checked_pairs, pair_phase

    first = pair_phase(cfg.phases, cfg.cl)
    if first is None:
        return None
    return checked_pairs(
        texts, labels, n_classes, cfg.cl, cfg.seed, phase="the Joint phase" if first == "joint" else "phase 2"
    )


def _run(
    cfg: RunConfig, run: Run, progress: Progress, dataset: TextDataset | None, resume: bool = False, team=None
) -> dict:
    leader = team is None or team.leader  # writes the run folder; the others only train
    cfg.validate()
    if cfg.nproc > 1 and team is None:
        raise ConfigError(
            f"nproc={cfg.nproc}: a run on several processes is started by `threephase run --nproc {cfg.nproc}` "
            "(or torchrun / accelerate launch), not inside this process"
        )
    if leader:
        save_config(cfg, run.path / "config.json")
    seed_everything(cfg.seed)
    device = pick_device(cfg.device) if team is None else team.device
    if leader:
        run.update_status(device=device, device_name=device_label() if device != "cpu" else "CPU")
    full = dataset or dataset_for(cfg)
    ds = full.at_level(cfg.ft.level)  # the classes FT predicts: the finest level, or ft.level's
    if leader:
        run.write("data.json", ds.summary())
    progress.log(
        "data",
        rows={s: len(ds.split(s)) for s in ("train", "validation", "test")},
        texts=text_counts(ds),
        notes=ds.notes,
    )
    start = checkpoints.resume_point(run, cfg.phases) if resume else None  # the last phase saved whole
    model = load_encoder(str(checkpoints.folder(run, start)) if start else cfg.model, device=device)
    limit = max_input_tokens(model)
    if limit and cfg.max_length > limit:
        raise ConfigError(
            f"max_length={cfg.max_length} is longer than the model allows ({limit} tokens); "
            "use long_text=chunk for long texts"
        )
    ctx = PhaseContext(
        device=device,
        seed=cfg.seed,
        progress=progress,
        max_steps=cfg.max_steps,
        max_length=cfg.max_length,
        chunk=cfg.long_text == "chunk",
        team=team,
    )
    # The phases draw batches of the global batch size; each process of a team trains on its share.
    dae_cfg, cl_cfg, ft_cfg = (cfg.dae, cfg.cl, cfg.ft) if team is None else team.global_sections(cfg)

    # Texts whose embeddings are kept after each phase: validation and training rows (capped, seeded).
    if leader:
        val_set = snapshots.validation_set(ds.validation, cfg.embed_rows, cfg.seed, model.tokenizer, ctx)
        train_set = snapshots.train_set(ds.train, cfg.embed_train_rows, cfg.seed, model.tokenizer, ctx)
    metrics: dict = {"phases": {}, "device": device, "texts": text_counts(ds)}
    if resume and leader:
        metrics = {**checkpoints.kept_metrics(run.metrics, cfg.phases, start), "device": device}
        metrics["texts"] = text_counts(ds)
        run.update_status(resumed_from=start, resumed_at=time.time())
        progress.log("resumed", from_phase=start)

    def snapshot(phase: str, clf=None) -> None:
        if not leader:
            return
        quality = snapshots.snapshot(run, model, ctx, phase, val_set, train_set, ds.label_names, clf)
        metrics["phases"].setdefault(phase, {}).update(quality)
        run.write("metrics.json", metrics)

    texts, labels = ds.train["text"].tolist(), _pair_labels(full)
    free_texts = label_free_texts(ds)  # the DAE's and SimCLR's: labelled and unlabelled texts
    pairs = _phase2_pairs(
        cfg, texts, labels, full.num_classes
    )  # data that gives no pairs fails now, not after the DAE
    named = _class_namer(full)
    progress.set_plan(
        estimates.for_run(cfg, run.path.parent, len(texts), len(pairs["scores"]) if pairs else None),
        checkpoints.remaining(cfg.phases, start),
    )
    if start is None:
        snapshot("base")
    else:
        checkpoints.restore_random_state(run, start)  # the next phase starts as it would have without the stop
    clf = None
    for phase in checkpoints.remaining(cfg.phases, start):
        if phase == "dae":
            from threephase_core.phases.dae import train_dae

            stats = train_dae(model, free_texts, dae_cfg, ctx)
            metrics["phases"]["dae"] = {"data": {**stats, "texts": len(free_texts)}}
        elif phase == "cl" and cfg.cl.loss == "simclr":  # label-free: no labels, every text
            from threephase_core.phases.contrastive import train_contrastive

            stats = train_contrastive(model, free_texts, np.zeros(len(free_texts), np.int64), 1, cl_cfg, ctx)
            metrics["phases"]["cl"] = {"data": {"loss": "simclr", "texts": stats["texts"]}}
        elif phase == "cl":
            from threephase_core.phases.contrastive import train_contrastive

            stats = train_contrastive(model, texts, labels, full.num_classes, cl_cfg, ctx, pairs=pairs)
            metrics["phases"]["cl"] = {"data": _named(stats, named)}
        elif phase == "joint":
            from threephase_core.phases.joint import train_joint

            stats = train_joint(model, texts, labels, full.num_classes, dae_cfg, cl_cfg, ctx, pairs=pairs)
            metrics["phases"]["joint"] = {"data": _named(stats, named)}
        elif phase == "ft":
            clf, info = _finetune(model, ds, ft_cfg, ctx)
            metrics["ft"] = info
        metrics["phases"].setdefault(phase, {})["wall_s"] = progress.end_phase()
        snapshot(phase, clf if phase == "ft" else None)  # FT's files also hold the class probabilities
        if phase != "ft" and leader:  # FT's encoder is the model's
            checkpoints.save(run, phase, model)
    if not leader:
        return metrics  # the leader evaluates and saves

    # Test once, at the end, with the model chosen on validation.
    predicted = {}
    for split in ("validation", "test"):
        df = ds.split(split)
        proba = clf.logits_for(
            tokenize(model.tokenizer, df["text"].tolist(), cfg.max_length, ctx.chunk, ctx.token_cache)
        )
        predicted[split] = proba.argmax(-1)
        metrics[split] = classification_metrics(df["label"].to_numpy(), predicted[split], ds.label_names)
    if ds.hierarchy is not None:
        truth = {split: ds.split(split)["label"].to_numpy() for split in predicted}
        metrics["levels"] = level_metrics(ds.hierarchy, truth, predicted)
    metrics["before_ft"] = {"val_acc": metrics["ft"].pop("before_ft_val_acc", None)}
    run.write("metrics.json", metrics)
    try:
        clf.save(run.model_dir)
    except Exception as exc:
        raise ModelNotSaved(metrics) from exc
    progress.log("saved", model=str(run.model_dir))
    if not cfg.keep_checkpoints:
        checkpoints.remove_all(run)
    return metrics


def _finetune(model, ds: TextDataset, ft_cfg, ctx: PhaseContext):
    from threephase_core.phases.finetune import train_classifier

    return train_classifier(
        model,
        ds.label_names,
        ds.train["text"].tolist(),
        ds.train["label"].to_numpy(),
        ds.validation["text"].tolist(),
        ds.validation["label"].to_numpy(),
        ft_cfg,
        ctx,
    )


def _pair_labels(ds: TextDataset) -> np.ndarray:
    """The training labels phase 2 pairs: class ids, or with label levels each row's path (rows x
    levels), so that pairs are scored by the levels they share and the imbalance correction counts
    the finest level. Always the dataset's full levels, whatever level FT predicts."""
    labels = ds.train["label"].to_numpy()
    return labels if ds.hierarchy is None else ds.hierarchy.rows(labels)


def _class_namer(ds: TextDataset):
    """A function from a class key of `_pair_labels` (an id, or a path of level ids) to its name."""
    if ds.hierarchy is None:
        return lambda key: ds.label_names[int(key)]
    by_path = ds.hierarchy.name_of_path()
    return lambda key: by_path[tuple(key)] if isinstance(key, tuple) else ds.label_names[int(key)]


def _named(stats: dict, name_of) -> dict:
    out = dict(stats)
    for key in ("counts_before", "counts_after"):
        if key in out:
            out[key] = {name_of(k): int(v) for k, v in out[key].items()}
    return out


def run_recipe(cfg: RunConfig, runs_dir=None, progress: Progress | None = None) -> tuple[Run, dict]:
    """Synchronous convenience: create a run folder under `runs_dir` and execute `cfg` there."""
    from threephase_core.runstore import RunStore

    run = RunStore(runs_dir).create(cfg.recipe, cfg.dataset, cfg.seed)
    result = execute(cfg, run, progress or Progress())
    return run, result


__all__ = ["ModelNotSaved", "execute", "friendly_error", "run_recipe", "to_dict"]
