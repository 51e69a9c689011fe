"""Command line: `threephase run|predict|recipes|datasets` (or `python -m threephase_core ...`).

    threephase run --dataset demo --recipe three_phase
    threephase run --dataset snips2 --data-root ~/datasets --recipe ft --set ft.epochs=3 --max-steps 50
    threephase predict latest "where is my parcel" "cancel my plan"
    threephase predict RUN_ID --file texts.txt --out predictions.csv
    threephase recipes
    threephase datasets --data-root ~/datasets

This module parses the arguments and runs the short commands; the `run` command is cli_run.py.

Bad input (unknown recipe or setting, missing file, model that cannot load) prints one clear
line and exits with status 2; a run that fails prints its message and exits with status 1.
Ctrl-C stops a run at the next step boundary (status "cancelled", exit status 130); finished
phases stay in the run folder. A second Ctrl-C quits at once. A Ctrl-C that arrives after the last
training step cannot stop anything any more: the run finishes, its results are printed, the CLI says
the request came too late, and the exit status is 0. A Ctrl-C after the command has finished ends the
process with the command's own status (never a death by signal, never a traceback).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def quiet_libraries() -> None:
    """Keep the terminal for our progress bar: no weight-loading reports or library bars."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*non-writable tensors.*")
    for name in ("transformers", "sentence_transformers", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)


DATA_ROOT_HELP = "where dataset folders are found by name (default $THREEPHASE_DATA_ROOT or ./data)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="threephase", description="3-Phase fine-tuning of text classifiers")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a recipe on a dataset")
    r.add_argument(
        "--dataset",
        default=None,
        help="demo (default) | a folder name under the data root | dataset folder | CSV/JSONL/parquet file | hub id",
    )
    r.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    r.add_argument("--recipe", default=None, help="see `recipes` (default three_phase, or the config file's)")
    r.add_argument(
        "--config",
        default=None,
        metavar="PATH",
        help="start from the settings in a run's config.json or a JSON/YAML file; --recipe, the flags "
        "and --set go on top",
    )
    r.add_argument(
        "--resume",
        default=None,
        metavar="RUN",
        help="continue a cancelled, failed or interrupted run (its id or folder) from its last "
        "finished phase, in the same folder, with its saved config",
    )
    r.add_argument("--model", default=None, help="minilm (packaged, default) | tiny | local path | hub id")
    r.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. ft.lr=3e-5, seed=1 (repeatable); a key with its own flag (--dataset, --model, --seed, "
        "...) is given one way, not both; recipe and phases come from --recipe or the config file",
    )
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--max-steps", type=int, default=None, help="cap every phase at N steps (smoke runs)")
    r.add_argument("--runs-dir", default=None, help="where run folders go (default $THREEPHASE_RUNS_DIR or ./runs)")
    r.add_argument("--text-column", default=None)
    r.add_argument(
        "--label-column",
        default=None,
        help="the label column; labels with levels: several columns, top level first (coarse,fine)",
    )
    r.add_argument(
        "--label-sep",
        default=None,
        metavar="SEP",
        help="labels with levels in one column, joined by SEP (e.g. ':' for HUM:ind)",
    )
    r.add_argument(
        "--unlabelled",
        default=None,
        metavar="PATH",
        help="texts without labels for the label-free phases (DAE; CL with cl.loss=simclr), never for pairs, "
        "FT or metrics: a .txt file (one text per line) or a table with the text column",
    )
    r.add_argument(
        "--unlabelled-rows",
        action="store_const",
        const="true",
        default=None,
        help="take the dataset's rows without a label as unlabelled texts (instead of refusing them)",
    )
    r.add_argument(
        "--labels-per-class",
        type=int,
        default=None,
        metavar="K",
        help="label budget: keep K labelled training texts per class (stratified, seeded); the rest of train "
        "becomes unlabelled text",
    )
    r.add_argument(
        "--label-fraction",
        type=float,
        default=None,
        metavar="F",
        help="label budget: keep this fraction of train labelled (stratified, seeded); the rest becomes "
        "unlabelled text",
    )
    r.add_argument("--device", default=None, help="auto | cpu | cuda")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument(
        "--nproc",
        type=int,
        default=None,
        help="train on N processes (data parallel: one per GPU, or N CPU processes); every batch_size is per "
        "process. torchrun / accelerate launch work too (see the README)",
    )
    r.add_argument("--run-folder", default=None, help=argparse.SUPPRESS)  # made by the --nproc launcher
    r.add_argument(
        "--gpu-preset",
        action="store_true",
        help="on a GPU: bigger batches with re-tuned learning rates, sized for the data and the GPU "
        "(threephase_core/gpu_presets.py); --set values still win",
    )
    pr = sub.add_parser("predict", help="classify texts with a finished run's model")
    pr.add_argument("run", help="run id (a folder name in the runs folder), 'latest', or a run/model folder")
    pr.add_argument("texts", nargs="*", help="texts to classify (or --file); after -- also texts that start with '-'")
    pr.add_argument("--file", default=None, help="a text file, one text per line ('-': standard input)")
    pr.add_argument("--top", type=int, default=3, help="show the best N classes per text (default 3)")
    pr.add_argument("--out", default=None, help="also write the predictions as CSV")
    pr.add_argument("--runs-dir", default=None, help="where run folders are (default $THREEPHASE_RUNS_DIR or ./runs)")
    pr.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto (default) | cpu | cuda")
    sub.add_parser("recipes", help="list recipes")
    ds = sub.add_parser("datasets", help="list the demo and the dataset folders under the data root")
    ds.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (Ctrl-C before a run starts: 130, no traceback).

    SIGINT's handler is what it was before the call once this returns."""
    previous = signal.getsignal(signal.SIGINT)
    try:
        return _main(argv)
    finally:
        if threading.current_thread() is threading.main_thread() and previous is not None:
            signal.signal(signal.SIGINT, previous)  # a run's Ctrl-C handler (see _ctrl_c_cancels) ends here


def entry_point() -> None:
    """The `threephase` console command and `python -m threephase_core`: run a command, then exit.

    Once the command has finished and reported, a Ctrl-C (e.g. during the interpreter's teardown,
    in torch's atexit hooks) ends the process at once with the command's own exit status: no
    KeyboardInterrupt traceback, and no death by signal after a complete result. Until then a
    run's own handler is in place (it is not restored in between, unlike `main`). An ignored
    SIGINT (nohup) stays ignored. Output piped into a reader that stops early
    (`threephase recipes | head -1`) ends the command quietly, as other command-line tools do.
    """
    try:
        status = _main(None)
        sys.stdout.flush()
        sys.stderr.flush()
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, lambda signum, frame: os._exit(status))
    except KeyboardInterrupt:  # a Ctrl-C in the instant between the command's end and the line above
        status = 130
    except BrokenPipeError:
        # The reader is gone: send what is left to /dev/null so the interpreter's own final flush
        # does not raise again (the recipe in Python's signal documentation), and exit as `head` expects.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 141  # 128 + SIGPIPE, what a shell reports for a command that a closed pipe ended
    raise SystemExit(status)


def _main(argv: list[str] | None) -> int:
    """Parse `argv` and run the command it names."""
    quiet_libraries()
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `predict`: everything after "--" is a text, even one that starts with '-'.
    after = argv[argv.index("--") + 1 :] if argv[:1] == ["predict"] and "--" in argv else []
    if after:
        argv = argv[: argv.index("--")]
    args, extra = parser.parse_known_args(argv)
    args.argv = argv  # the --nproc launcher starts its processes with the same arguments
    if args.command == "predict" and not any(e.startswith("-") for e in extra):
        args.texts += extra + after  # texts after an option (`predict latest --top 1 "some text"`)
    elif extra or after:
        parser.error(f"unrecognized arguments: {' '.join(extra + after)}")
    try:
        return _command(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _command(args) -> int:
    """Dispatch `run`, `recipes` or `datasets`."""
    if args.command == "recipes":
        from threephase_core.recipes import RECIPES

        for r in RECIPES.values():
            print(f"{r.name:16s} {' -> '.join(r.phases):16s} {r.description}")
        return 0
    if args.command == "datasets":
        from threephase_core.data import available_datasets
        from threephase_core.data_root import root_problem

        for spec, desc in available_datasets(args.data_root):
            print(f"{spec:50s} {desc}")
        problem = root_problem(args.data_root)
        if problem:
            print(f"note: {problem}; give --data-root DIR or set $THREEPHASE_DATA_ROOT", file=sys.stderr)
        return 0
    if args.command == "predict":
        return _predict(args)
    from threephase_core.cli_run import run_command

    return run_command(args)


def _predict(args) -> int:
    """Classify the given texts with a saved model and print label, confidence and runners-up."""
    from threephase_core.classifier import load_classifier
    from threephase_core.encoder import ModelError
    from threephase_core.predict import PredictError, clean_texts, model_folder, predictions, read_texts

    try:
        if args.top < 1:
            raise PredictError(f"--top {args.top}: give 1 or more")
        if args.texts and args.file:
            raise PredictError("give texts or --file, not both")
        texts = read_texts(args.file) if args.file else clean_texts(args.texts)
        if not texts:
            raise PredictError("no texts to classify: give them as arguments or with --file (one per line)")
        folder = model_folder(args.run, args.runs_dir)
        clf = load_classifier(folder, device=args.device)
    except (PredictError, ModelError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = predictions(clf, texts, args.top)
    for row in table.itertuples():
        extra = f"   ({row.runners_up})" if row.runners_up else ""
        print(f"{row.label}\t{row.confidence:.1%}\t{row.text}{extra}")
    if args.out:
        try:
            table.to_csv(args.out, index=False)
        except OSError as e:
            print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
            return 1
        print(f"wrote {len(table)} predictions to {args.out}", file=sys.stderr)
    return 0
