"""What the `run` command prints: the run's header (data, texts, notes, warnings), a progress
bar per phase with the run's time left, and the report at the end (metrics per split and
level, cluster metrics per phase with their intervals, or why the run stopped and how to go on).
"""

from __future__ import annotations

import sys
import threading

from threephase_core.estimates import fmt_duration


def print_header(run, cfg, dataset) -> None:
    from threephase_core.split_size import split_size_warnings

    print(
        f"run {run.id}: recipe {cfg.recipe} ({' -> '.join(cfg.phases)}), dataset {dataset.name} "
        f"({len(dataset.train)}/{len(dataset.validation)}/{len(dataset.test)} rows), model {cfg.model}"
    )
    if dataset.unlabelled:
        print(
            f"  texts: {len(dataset.train)} labelled for training, {len(dataset.unlabelled)} unlabelled "
            "(for the label-free phases only)"
        )
    for note in dataset.notes:
        print(f"  note: {note}")
    for warning in split_size_warnings(dataset.summary()["class_counts"]):
        print(f"  warning: {warning}")
    if cfg.nproc > 1:
        batches = ", ".join(
            f"{name} {getattr(cfg, name).batch_size} x {cfg.nproc} = {getattr(cfg, name).batch_size * cfg.nproc}"
            for name in ("dae", "cl", "ft")
        )
        print(f"  {cfg.nproc} processes, batch per process x processes = global batch: {batches}")
    sys.stdout.flush()


def report(result: dict, progress, run) -> int:
    """Print the run's outcome; returns the exit status (0 done, 130 cancelled, 2 bad input, 1 failed)."""
    from threephase_core import checkpoints

    state = result.get("state", progress.state)
    kept = checkpoints.disk_use(run)
    if state == "done":
        print_metrics(result["metrics"], run)
        if kept:
            print(f"phase checkpoints kept (keep_checkpoints=true): {checkpoints.describe(kept)}")
        if progress.cancel_requested:
            print(
                "note: the stop request came after the last training step, too late to stop anything; "
                "the run finished and its results are above",
                file=sys.stderr,
                flush=True,
            )
        return 0
    resume_hint = f"phase checkpoints: {checkpoints.describe(kept)}; " if kept else ""
    resume_hint += f"go on with: threephase run --resume {run.path}"
    if state == "cancelled":
        print(f"cancelled; finished phases are in {run.path}")
        print(resume_hint)
        return 130
    print(f"error: {result.get('message', progress.message)}", file=sys.stderr)
    if not result.get("input_error"):
        print(resume_hint, file=sys.stderr)
    return 2 if result.get("input_error") else 1


def watch(progress, done: threading.Event, quiet: bool) -> None:
    """Draw a progress bar per phase until `done` is set, with the whole run's time left beside
    the phase's; say once how long the run is expected to take, and once that a cancel was asked for."""
    from tqdm import tqdm

    bar, phase, told, estimated = None, None, False, quiet
    while not done.is_set():
        snap = progress.snapshot()
        told = told or tell_cancel(snap["cancel_requested"])
        if not estimated and snap.get("estimate_s"):
            estimated = True
            tqdm.write(f"expected: about {fmt_duration(snap['estimate_s'])} in all ({snap['estimate_basis']})")
        if not quiet and snap["phase"] and snap["phase"] != phase:
            if bar is not None:
                bar.close()
            phase = snap["phase"]
            bar = tqdm(total=snap["total"], desc=f"{phase:5s}", unit="step", leave=True, dynamic_ncols=True)
        if bar is not None:
            bar.n = snap["step"]
            bar.set_postfix_str(bar_postfix(snap, phase), refresh=False)
            bar.refresh()
        done.wait(0.2)
    if bar is not None:
        bar.n = progress.snapshot()["step"] if progress.phase == phase else bar.n
        bar.close()
    # A request the loop did not see came as the run ended: the report says whether it stopped
    # the run ("cancelled") or came too late (a finished run), so nothing is promised here.


def bar_postfix(snap: dict, phase: str) -> str:
    """The bar's tail: the phase's last loss and the whole run's smoothed time left."""
    losses = snap["losses"].get(phase) or []
    parts = [f"loss={losses[-1][1]:.4f}"] if losses else []
    if snap.get("run_eta_s") is not None:
        parts.append(f"run left ~{fmt_duration(snap['run_eta_s'])}")
    return ", ".join(parts)


def tell_cancel(requested: bool) -> bool:
    """Say (once: the caller keeps the answer) that Ctrl-C was heard; True when it was said."""
    if requested:
        print("\nstopping at the next step... (Ctrl-C again to quit now)", file=sys.stderr, flush=True)
    return requested


def _num(value, width: int, digits: int) -> str:
    return f"{value:{width}.{digits}f}" if isinstance(value, (int, float)) else f"{'-':>{width}s}"


def print_metrics(m: dict, run) -> None:
    print()
    print(f"{'split':12s} {'accuracy':>9s} {'macro F1':>9s} {'macro P':>9s} {'macro R':>9s}")
    for split in ("validation", "test"):
        s = m[split]
        scores = (s["accuracy"], s["f1_macro"], s["precision_macro"], s["recall_macro"])
        print(f"{split:12s} " + " ".join(f"{x:9.4f}" for x in scores))
    for name, level in (m.get("levels") or {}).items():
        test = level.get("test", {})
        print(
            f"  level {level.get('level')} ({name}, {level.get('classes')} classes): test accuracy "
            f"{_num(test.get('accuracy'), 6, 4)}, macro F1 {_num(test.get('f1_macro'), 6, 4)}"
        )
    print()
    # Per phase, each cluster metric with its 95% bootstrap interval over the validation texts:
    # a change between phases that stays inside both intervals may be noise.
    columns = ("silhouette [95% CI]", "kNN val [95% CI]", "kNN train [95% CI]")
    print(f"{'phase':8s} {'wall s':>8s} " + " ".join(f"{c:>22s}" for c in columns))
    for phase, info in m["phases"].items():
        cells = []
        for key, ci in (("silhouette", "silhouette_ci"), ("knn_acc", "knn_acc_ci"), ("knn_train_acc", "knn_train_ci")):
            value, low_high = info.get(key), info.get(ci)
            text = f"{value:.3f}" if isinstance(value, (int, float)) else "-"
            if (
                isinstance(low_high, list)
                and len(low_high) == 2
                and all(isinstance(x, (int, float)) for x in low_high)
            ):
                text += f" [{low_high[0]:.2f}, {low_high[1]:.2f}]"
            cells.append(f"{text:>22s}")
        print(f"{phase:8s} {_num(info.get('wall_s'), 8, 1)} " + " ".join(cells))
    print(
        "kNN val: 5-NN among the validation texts (leave-one-out); kNN train: validation texts voted by their "
        "5 nearest training texts"
    )
    lora = m["ft"].get("lora")
    if lora:
        print(
            f"\nLoRA: {lora['trainable_params']:,} trainable of {lora['total_params']:,} encoder parameters "
            f"({lora['trainable_share']:.2%})"
        )
    if m.get("before_ft", {}).get("val_acc") is not None:
        print(f"before fine-tuning (untrained head): validation accuracy {m['before_ft']['val_acc']:.4f}")
    best = f"best validation accuracy {m['ft']['best_val_acc']:.4f} at step {m['ft']['best_step']}"
    print(f"\n{best}; run folder: {run.path}")
