"""Command line: `python -m threephase_core run|recipes|datasets`.

    python -m threephase_core run --dataset demo --recipe three_phase
    python -m threephase_core run --dataset ../shared/datasets/snips2 --recipe ft --set ft.epochs=3 --max-steps 50
    python -m threephase_core recipes
    python -m threephase_core datasets

Bad input (unknown recipe or setting, missing file, model that cannot load) prints one clear
line and exits with status 2; a run that fails prints its message and exits with status 1.
Ctrl-C stops a run at the next step boundary; finished phases stay in the run folder.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading

from threephase_core.config import ConfigError


def quiet_libraries() -> None:
    """Keep the terminal for our progress bar: no weight-loading reports or library bars."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*non-writable tensors.*")
    for name in ("transformers", "sentence_transformers", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m threephase_core", description="3-Phase fine-tuning of text classifiers")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a recipe on a dataset")
    r.add_argument("--dataset", default="demo", help="demo | dataset folder | CSV/JSONL/parquet file | hub id")
    r.add_argument("--recipe", default="three_phase", help="see `recipes`")
    r.add_argument("--model", default="minilm", help="minilm (packaged, default) | tiny | local path | hub id")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="e.g. ft.lr=3e-5, seed=1 (repeatable)")
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--max-steps", type=int, default=0, help="cap every phase at N steps (smoke runs)")
    r.add_argument("--runs-dir", default=None, help="where run folders go (default $THREEPHASE_RUNS_DIR or ./runs)")
    r.add_argument("--text-column", default=None)
    r.add_argument("--label-column", default=None)
    r.add_argument("--device", default=None, help="auto | cpu | cuda")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--gpu-preset", action="store_true",
                   help="on a GPU: bigger batches with re-tuned learning rates, sized for the data and the GPU "
                        "(threephase_core/gpu_presets.py); --set values still win")
    sub.add_parser("recipes", help="list recipes")
    sub.add_parser("datasets", help="list known datasets")
    return p


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    args = _parser().parse_args(argv)
    if args.command == "recipes":
        from threephase_core.recipes import RECIPES

        for r in RECIPES.values():
            print(f"{r.name:16s} {' -> '.join(r.phases):16s} {r.description}")
        return 0
    if args.command == "datasets":
        from threephase_core.data import available_datasets

        for spec, desc in available_datasets():
            print(f"{spec:50s} {desc}")
        return 0
    return _run(args)


def _run(args) -> int:
    from threephase_core.data import DataError, load_dataset
    from threephase_core.recipes import build_config

    extra = list(args.overrides)
    for flag, key in ((args.seed, "seed"), (args.device, "device"), (args.text_column, "text_column"), (args.label_column, "label_column")):
        if flag is not None:
            extra.append(f"{key}={flag}")
    extra += [f"dataset={args.dataset}", f"model={args.model}"]
    if args.max_steps:
        extra.append(f"max_steps={args.max_steps}")
    try:
        cfg = build_config(args.recipe, extra)
        dataset = load_dataset(cfg.dataset, cfg.text_column, cfg.label_column, cfg.seed, cfg.val_fraction, cfg.test_fraction, cfg.max_train_rows)
        if args.gpu_preset:
            preset = _gpu_preset(cfg, len(dataset.train))
            if preset:
                cfg = build_config(args.recipe, [f"{k}={v}" for k, v in preset.items()] + extra)  # the user's --set wins
                print("GPU preset: " + ", ".join(f"{k}={v}" for k, v in preset.items()))
    except (ConfigError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from threephase_core.progress import Progress
    from threephase_core.runner import execute
    from threephase_core.runstore import RunStore

    run = RunStore(args.runs_dir).create(cfg.recipe, cfg.dataset, cfg.seed)
    print(f"run {run.id}: recipe {cfg.recipe} ({' -> '.join(cfg.phases)}), dataset {dataset.name} "
          f"({len(dataset.train)}/{len(dataset.validation)}/{len(dataset.test)} rows), model {cfg.model}")
    for note in dataset.notes:
        print(f"  note: {note}")
    progress = Progress()
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(execute(cfg, run, progress, dataset)), daemon=True)
    worker.start()
    try:
        _watch(progress, worker, quiet=args.quiet)
    except KeyboardInterrupt:
        print("\nstopping at the next step...", file=sys.stderr)
        progress.request_cancel()
        worker.join()
    state = result.get("state", progress.state)
    if state == "done":
        _print_metrics(result["metrics"], run)
        return 0
    if state == "cancelled":
        print(f"cancelled; finished phases are in {run.path}")
        return 130
    print(f"error: {result.get('message', progress.message)}", file=sys.stderr)
    return 2 if result.get("input_error") else 1


def _gpu_preset(cfg, train_rows: int) -> dict:
    """The GPU preset for this run, or {} (with a note) when it will not run on a GPU."""
    from threephase_core import gpu_presets

    memory = gpu_presets.gpu_memory_gib()
    if memory is None or cfg.device == "cpu":
        print("note: --gpu-preset ignored: the run is on the CPU", file=sys.stderr)
        return {}
    return gpu_presets.recipe_gpu_settings(cfg.recipe, train_rows, memory, cfg.max_length)


def _watch(progress, worker: threading.Thread, quiet: bool) -> None:
    from tqdm import tqdm

    bar, phase = None, None
    while worker.is_alive():
        snap = progress.snapshot()
        if not quiet and snap["phase"] and snap["phase"] != phase:
            if bar is not None:
                bar.close()
            phase = snap["phase"]
            bar = tqdm(total=snap["total"], desc=f"{phase:5s}", unit="step", leave=True, dynamic_ncols=True)
        if bar is not None:
            bar.n = snap["step"]
            losses = snap["losses"].get(phase) or []
            if losses:
                bar.set_postfix(loss=f"{losses[-1][1]:.4f}", refresh=False)
            bar.refresh()
        worker.join(0.2)
    if bar is not None:
        bar.n = progress.snapshot()["step"] if progress.phase == phase else bar.n
        bar.close()


def _num(value, width: int, digits: int) -> str:
    return f"{value:{width}.{digits}f}" if isinstance(value, (int, float)) else f"{'-':>{width}s}"


def _print_metrics(m: dict, run) -> None:
    print()
    print(f"{'split':12s} {'accuracy':>9s} {'macro F1':>9s} {'macro P':>9s} {'macro R':>9s}")
    for split in ("validation", "test"):
        s = m[split]
        print(f"{split:12s} {s['accuracy']:9.4f} {s['f1_macro']:9.4f} {s['precision_macro']:9.4f} {s['recall_macro']:9.4f}")
    print()
    print(f"{'phase':8s} {'wall s':>8s} {'silhouette':>11s} {'kNN acc':>8s}")
    for phase, info in m["phases"].items():
        print(f"{phase:8s} {_num(info.get('wall_s'), 8, 1)} {_num(info.get('silhouette'), 11, 3)} {_num(info.get('knn_acc'), 8, 3)}")
    lora = m["ft"].get("lora")
    if lora:
        print(f"\nLoRA: {lora['trainable_params']:,} trainable of {lora['total_params']:,} encoder parameters ({lora['trainable_share']:.2%})")
    if m.get("before_ft", {}).get("val_acc") is not None:
        print(f"before fine-tuning (untrained head): validation accuracy {m['before_ft']['val_acc']:.4f}")
    print(f"\nbest validation accuracy {m['ft']['best_val_acc']:.4f} at step {m['ft']['best_step']}; run folder: {run.path}")
