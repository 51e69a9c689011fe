"""Accuracy against label budget: where does a label-free phase, or the contrastive phase, pay off?

    python bench/learning_curve.py --datasets snips2,sst5,massive_en_us --budgets 8,16,64,256,all \
        --seeds 0,1,2 --max-train-rows 1000 --setfit-max-steps 500 --skip-done   # the CPU grid in docs/RESULTS.md
    python bench/learning_curve.py --datasets snips2,sst5 --budgets 256 --seeds 0,1,2 \
        --max-train-rows 2000 --setfit-max-steps 500 --skip-done   # a row cap that admits 256 per class
    python bench/learning_curve.py --datasets massive_en_us --budgets 64 --seeds 0,1,2 \
        --max-train-rows 4000 --setfit-max-steps 500 --skip-done   # its smallest class: 211 of 11,514 rows
    python bench/learning_curve.py --datasets snips2 --budgets 8,16 --seeds 0 --max-train-rows 300 \
        --set max_steps=5 --setfit-max-steps 5          # a tiny grid, to check the script end to end

Each dataset's training split (capped at --max-train-rows, stratified, on the CPU) is cut to a
label budget (``labels_per_class``: k labelled texts per class, drawn with the run's seed, or
"all"); the rest of train becomes unlabelled text, so the label-free phase (the DAE of dae_ft and
three_phase) sees every training text while CL, FT and the scores see only the labelled ones.
Recipes ft, dae_ft, cl_ft and three_phase run through the engine (`runner.execute`, the model
chosen on validation, test scored once). SetFit (the library, PyPI ``setfit``) is the peer
baseline: the same MiniLM folder, the same labelled texts per seed, its TrainingArguments
defaults (1 epoch of contrastive pairs drawn by "oversampling", batch 16, body lr 2e-5, a
logistic-regression head), offline (its Trainer gets a metric function: its default metric is
fetched from the hub). --setfit-max-steps caps its contrastive steps where its own count (one
epoch of its pairs) is larger: at large budgets "oversampling" draws every pair of texts, millions
at 256 per class. Below the cap SetFit runs its own count (its ``max_steps`` would make it cycle
its pairs up to the cap).

A budget above a class's training texts (after the row cap) is skipped and listed (256 per class
on MASSIVE at any cap: its smallest class has 211 training texts). Each row is
merged into bench/results/learning_curve_<device>.json as soon as it is done (same dataset,
recipe, budget, seed: the last wins, but a run that did not finish never replaces a finished
one, as a smaller row cap skips 256 per class; a stopped grid keeps its finished rows); per dataset, a
Markdown table (mean ± sd over seeds; each recipe and SetFit minus FT paired by seed, with a
paired t-test's p-value) and a plotly figure (HTML and PNG) are rebuilt from all its rows, with
the command, commit and package versions.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from provenance import commit, versions_text
from settings import DATA_ROOT_HELP

from threephase_core.cli import quiet_libraries
from threephase_core.data import DataError, dataset_for
from threephase_core.data_root import resolve_dataset
from threephase_core.encoder import device_label, packaged_minilm_path, pick_device
from threephase_core.metrics import classification_metrics, paired_p
from threephase_core.progress import Progress
from threephase_core.recipes import build_config
from threephase_core.runner import execute
from threephase_core.runstore import RunStore

ROOT = Path(__file__).resolve().parents[1]
RECIPES = "ft,dae_ft,cl_ft,three_phase"
PACKAGES = ("torch", "transformers", "sentence-transformers", "setfit", "plotly", "kaleido")  # named in the results
# The curve needs no embedding maps: a few validation rows for the per-phase cluster metrics, no
# training rows (a --set of the same key wins).
RUN_SETTINGS = {"embed_rows": 200, "embed_train_rows": 0}
SETFIT = "setfit"
COLORS = {"ft": "#64748b", "dae_ft": "#0ea5e9", "cl_ft": "#f59e0b", "three_phase": "#4f46e5", SETFIT: "#dc2626"}


def budget_value(text: str) -> int:
    """A --budgets item: k labelled texts per class, or "all" (0)."""
    return 0 if text.strip() == "all" else int(text)


def budget_name(k: int) -> str:
    return "all" if not k else f"{k} / class"


def by_budget(rows) -> list[int]:
    """The budgets these rows hold, smallest first, "all" (0) last."""
    return sorted({r["budget"] for r in rows}, key=lambda b: b or 10**9)


def run_recipe(recipe: str, dataset: str, seed: int, budget: int, args, store: RunStore) -> dict:
    """One engine run; returns its row (state "skipped" with the reason when the budget is refused)."""
    settings = {
        "dataset": resolve_dataset(dataset, args.data_root),
        "model": args.model,
        "seed": seed,
        "device": args.device,
        "max_train_rows": args.max_train_rows,
        "labels_per_class": budget,
        **RUN_SETTINGS,
        **dict(item.split("=", 1) for item in args.set),
    }
    cfg = build_config(recipe, settings)
    row = {"dataset": dataset, "recipe": recipe, "budget": budget, "seed": seed}
    try:
        ds = dataset_for(cfg)
    except DataError as exc:
        return {**row, "state": "skipped", "message": str(exc)}
    run = store.create(recipe, Path(cfg.dataset).name, seed)
    t0 = time.time()
    result = execute(cfg, run, Progress(), ds)
    if not args.runs_dir:  # a model folder per run would fill the disk over a whole grid
        shutil.rmtree(run.path, ignore_errors=True)
    row.update(state=result["state"], wall_s=round(time.time() - t0, 1), labelled=len(ds.train))
    row["unlabelled"] = len(ds.unlabelled)
    if result["state"] != "done":
        return {**row, "message": result.get("message", "")}
    m = result["metrics"]
    return {
        **row,
        "val_acc": m["validation"]["accuracy"],
        "test_acc": m["test"]["accuracy"],
        "test_f1": m["test"]["f1_macro"],
        "dae_texts": (m["phases"].get("dae", {}).get("data") or {}).get("texts"),
    }


def run_setfit(dataset: str, seed: int, budget: int, args) -> dict:
    """SetFit on the labelled texts the engine's runs of this seed and budget train on."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    row = {"dataset": dataset, "recipe": SETFIT, "budget": budget, "seed": seed}
    cfg = build_config(
        "ft",
        {
            "dataset": resolve_dataset(dataset, args.data_root),
            "seed": seed,
            "max_train_rows": args.max_train_rows,
            "labels_per_class": budget,
        },
    )
    try:
        ds = dataset_for(cfg)
    except DataError as exc:
        return {**row, "state": "skipped", "message": str(exc)}
    t0 = time.time()
    names = ds.label_names

    def scores(y_pred, y_test) -> dict:  # SetFit's default metric ("accuracy") is fetched from the hub
        m = classification_metrics(np.asarray(y_test), np.asarray(y_pred), names)
        return {"accuracy": m["accuracy"], "f1_macro": m["f1_macro"]}

    def as_dataset(df):
        return Dataset.from_dict({"text": df["text"].tolist(), "label": df["label"].astype(int).tolist()})

    model = SetFitModel.from_pretrained(packaged_minilm_path() if args.model == "minilm" else args.model)
    with tempfile.TemporaryDirectory(prefix="setfit-") as out:
        train_args = TrainingArguments(
            output_dir=out,
            seed=seed,
            report_to="none",
            save_strategy="no",
            max_steps=-1,
        )
        train = as_dataset(ds.train)
        own = setfit_own_steps(train["text"], train["label"], train_args)
        if args.setfit_max_steps and own > args.setfit_max_steps:
            train_args.max_steps = args.setfit_max_steps  # its pairs are then drawn for this many steps only
        trainer = Trainer(model=model, args=train_args, train_dataset=train, metric=scores)
        trainer.train()
        val = trainer.evaluate(as_dataset(ds.validation))
        test = trainer.evaluate(as_dataset(ds.test))
    return {
        **row,
        "state": "done",
        "wall_s": round(time.time() - t0, 1),
        "labelled": len(ds.train),
        "unlabelled": 0,  # SetFit learns from labelled pairs only
        "val_acc": val["accuracy"],
        "test_acc": test["accuracy"],
        "test_f1": test["f1_macro"],
        "setfit_max_steps": args.setfit_max_steps or None,
        "setfit_own_steps": own,
        "setfit_steps": min(own, args.setfit_max_steps or own),
    }


def setfit_own_steps(texts: list[str], labels: list[int], train_args) -> int:
    """The contrastive steps SetFit takes with these arguments and no max_steps: one epoch of the
    pairs its sampler draws ("oversampling": as many positive as negative pairs, the larger count
    of the two), in batches of `embedding_batch_size`. Passing max_steps instead would make it
    cycle its pairs for that many steps, more than its own count on a small budget."""
    from setfit.sampler import ContrastiveDataset

    pairs = ContrastiveDataset(texts, labels, False, train_args.num_iterations, train_args.sampling_strategy)
    return math.ceil((pairs.len_pos_pairs + pairs.len_neg_pairs) / train_args.embedding_batch_size)


# ---- results ---------------------------------------------------------------------------
def row_key(row: dict) -> tuple:
    """What makes a row one run of the grid: its dataset, recipe, budget and seed."""
    return row["dataset"], row["recipe"], row["budget"], row["seed"]


def finished_keys(rows: list[dict]) -> set[tuple]:
    """The keys of the rows that finished: what `--skip-done` leaves out and `merge` keeps."""
    return {row_key(r) for r in rows if r.get("state") == "done"}


def merge(path: Path, rows: list[dict]) -> list[dict]:
    """The rows on disk with `rows` merged in (same dataset, recipe, budget and seed: the new one,
    unless it did not finish and the one on disk did).

    A row's key does not hold the row cap, and a budget one cap refuses another can hold (256 per
    class needs a larger cut than the rest of the grid): rerunning the smaller cut must not turn a
    finished run into a skipped one. The unfinished run is still printed as it happens."""
    kept = json.loads(path.read_text()) if path.exists() else []
    finished = finished_keys(kept)
    rows = [r for r in rows if r.get("state") == "done" or row_key(r) not in finished]
    new = {row_key(r) for r in rows}
    merged = [r for r in kept if row_key(r) not in new] + rows
    path.write_text(json.dumps(merged, indent=1))
    return merged


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "–"
    sd = float(np.std(values, ddof=1)) * 100 if len(values) > 1 else 0.0
    return f"{np.mean(values) * 100:.1f} ± {sd:.1f}"


def _versus(rows: list[dict], baseline: dict[int, float]) -> str:
    """Test accuracy minus a baseline's (seed -> accuracy: FT's, or another recipe's) on the same
    seeds, in points, with the paired t-test's p-value (three decimals below 0.01)."""
    pairs = [(r["test_acc"], baseline[r["seed"]]) for r in rows if r["seed"] in baseline]
    if not pairs:
        return "–"
    x, y = np.array(pairs).T
    p = paired_p(x, y)
    text = f"{np.mean(x - y) * 100:+.1f}"
    if np.isfinite(p):
        text += f" (p = {p:.2f})" if p >= 0.01 else f" (p = {p:.3f})"
    return text + f" [{len(x)}]"


def table(rows: list[dict]) -> str:
    """The Markdown table of one dataset's finished rows, by budget then recipe."""
    done = [r for r in rows if r.get("state") == "done"]
    order = [*RECIPES.split(","), SETFIT]
    lines = [
        "| budget | recipe | labelled | unlabelled | seeds | test acc (%) | test macro F1 (%) | "
        "vs FT (pts, paired) | wall s / run |",
        "|---|---|---:|---:|---:|---|---|---|---:|",
    ]
    for budget in by_budget(done):
        at = [r for r in done if r["budget"] == budget]
        ft = {r["seed"]: r["test_acc"] for r in at if r["recipe"] == "ft"}
        for recipe in sorted({r["recipe"] for r in at}, key=lambda n: order.index(n) if n in order else 99):
            rs = sorted((r for r in at if r["recipe"] == recipe), key=lambda r: r["seed"])
            lines.append(
                f"| {budget_name(budget)} | {recipe} | {np.mean([r['labelled'] for r in rs]):.0f} | "
                f"{np.mean([r['unlabelled'] for r in rs]):.0f} | {len(rs)} | "
                f"{_mean_sd([r['test_acc'] for r in rs])} | {_mean_sd([r['test_f1'] for r in rs])} | "
                f"{'baseline' if recipe == 'ft' else _versus(rs, ft)} | {np.mean([r['wall_s'] for r in rs]):.0f} |"
            )
    notes = _training_texts_note(done) + _setfit_steps_notes(done) + _setfit_versus_ours(done)
    skipped = sorted({(r["budget"], r["message"].split(";")[0]) for r in rows if r.get("state") == "skipped"})
    failed = [r for r in rows if r.get("state") not in ("done", "skipped")]
    notes += [f"- skipped {budget_name(b)}: {why}" for b, why in skipped]
    notes += [
        f"- failed: {r['recipe']} {budget_name(r['budget'])} seed {r['seed']}: {r.get('message')}" for r in failed
    ]
    return "\n".join(lines + ([""] + notes if notes else []))


def _training_texts_note(done: list[dict]) -> list[str]:
    """The training texts (labelled + unlabelled: the row cap) each budget's engine runs had, so a
    budget run under another --max-train-rows shows as such."""
    ours = [r for r in done if r["recipe"] != SETFIT]  # SetFit records no unlabelled texts
    parts = []
    for budget in by_budget(ours):
        totals = sorted({r["labelled"] + r["unlabelled"] for r in ours if r["budget"] == budget})
        parts.append(f"{budget_name(budget)} {' / '.join(f'{t:,}' for t in totals)}")
    return [f"- training texts (labelled + unlabelled, after the row cap): {'; '.join(parts)}"] if parts else []


def _setfit_steps_notes(done: list[dict]) -> list[str]:
    """Per budget, the contrastive steps SetFit took: its own count (one epoch of its pairs), or
    the cap where its own count was larger (older rows record only the steps taken)."""
    notes = []
    for budget in by_budget(r for r in done if r["recipe"] == SETFIT):
        rs = [r for r in done if r["recipe"] == SETFIT and r["budget"] == budget and r.get("setfit_steps")]
        if not rs:
            continue
        steps = sorted({r["setfit_steps"] for r in rs})
        capped = [r for r in rs if r.get("setfit_max_steps") and r["setfit_steps"] >= r["setfit_max_steps"]]
        own = sorted({r["setfit_own_steps"] for r in capped if r.get("setfit_own_steps")})
        text = f"- SetFit at {budget_name(budget)}: {' / '.join(map(str, steps))} contrastive steps"
        if capped:
            text += f", capped at {capped[0]['setfit_max_steps']}"
            text += f" (its own count {' / '.join(map(str, own))})" if own else " (its own count was larger)"
        else:
            text += " (its own count: one epoch of its pairs)"
        notes.append(text)
    return notes


def _setfit_versus_ours(done: list[dict]) -> list[str]:
    """Per budget, SetFit's test accuracy minus each contrastive recipe's, paired by seed."""
    notes = []
    for budget in by_budget(r for r in done if r["recipe"] == SETFIT):
        at = [r for r in done if r["budget"] == budget]
        setfit = [r for r in at if r["recipe"] == SETFIT]
        parts = []
        for recipe in ("cl_ft", "three_phase"):
            ours = {r["seed"]: r["test_acc"] for r in at if r["recipe"] == recipe}
            if ours:
                parts.append(f"minus {recipe} {_versus(setfit, ours)}")
        if parts:
            notes.append(f"- SetFit at {budget_name(budget)}, test accuracy " + "; ".join(parts))
    return notes


def curve_points(rows: list[dict]) -> list[tuple[int, float, float, float]]:
    """One recipe's finished rows as curve points (budget, mean labelled texts, mean and sd of test
    accuracy in %), fewest labelled texts first: a budget run under a larger row cap (256 per class)
    can hold more labelled texts than "all" under the smaller one."""
    points = []
    for budget in by_budget(rows):
        at = [r for r in rows if r["budget"] == budget]
        acc = [r["test_acc"] * 100 for r in at]
        sd = float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0
        points.append((budget, float(np.mean([r["labelled"] for r in at])), float(np.mean(acc)), sd))
    return sorted(points, key=lambda p: p[1])


def figure(rows: list[dict], dataset: str):
    """Test accuracy (mean ± sd over seeds) against labelled training texts, one line per recipe."""
    import plotly.graph_objects as go

    fig = go.Figure()
    done = [r for r in rows if r.get("state") == "done"]
    for recipe in [*RECIPES.split(","), SETFIT]:
        points = curve_points([r for r in done if r["recipe"] == recipe])
        if not points:
            continue
        budgets, labelled, acc, sd = zip(*points)
        fig.add_trace(
            go.Scatter(
                x=labelled,
                y=acc,
                error_y=dict(type="data", array=sd),
                mode="lines+markers",
                name=recipe,
                line=dict(color=COLORS.get(recipe), dash="dash" if recipe == SETFIT else "solid"),
                text=[budget_name(b) for b in budgets],
            )
        )
    fig.update_layout(
        title=f"{dataset}: test accuracy against label budget (mean ± sd over seeds)",
        template="plotly_white",
        width=820,
        height=480,
    )
    fig.update_xaxes(type="log", title="labelled training texts")
    fig.update_yaxes(title="test accuracy (%)")
    return fig


def write_reports(all_rows: list[dict], datasets: list[str], tag: str, header: str, out: Path) -> list[str]:
    """Per dataset: learning_curve_<dataset>_<tag>.md, .html and .png; returns what could not be written."""
    problems = []
    for dataset in datasets:
        rows = [r for r in all_rows if r["dataset"] == dataset]
        made_by = sorted({(r.get("command") or "(not recorded)", r.get("commit") or "?") for r in rows})
        runs = "".join(f"Rows made by: `{cmd}` at commit {sha}  \n" for cmd, sha in made_by)
        stem = out / f"learning_curve_{dataset}_{tag}"
        stem.with_suffix(".md").write_text(f"# Learning curve: {dataset} ({tag})\n\n{runs}{header}\n\n{table(rows)}\n")
        fig = figure(rows, dataset)
        fig.write_html(stem.with_suffix(".html"), include_plotlyjs="cdn")
        try:
            fig.write_image(stem.with_suffix(".png"), scale=2)
        except Exception as exc:  # kaleido missing, or no Chrome for it to drive
            problems.append(f"{stem.name}.png not written ({type(exc).__name__}: {str(exc)[:160]})")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="snips2,massive_en_us,sst5")
    ap.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    ap.add_argument("--recipes", default=RECIPES)
    ap.add_argument("--budgets", default="8,16,64,256,all", help="labelled texts per class, or all")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--max-train-rows", type=int, default=2000, help="stratified cap on train (0: all)")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="engine settings (max_steps=5)")
    ap.add_argument("--no-setfit", action="store_true", help="leave the SetFit baseline out")
    ap.add_argument(
        "--setfit-max-steps", type=int, default=0, help="cap SetFit's contrastive steps where its own count is larger"
    )
    ap.add_argument(
        "--runs-dir", default=None, help="keep the engine's run folders here (the Results page draws their curve)"
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--skip-done", action="store_true", help="leave out runs whose finished row is on disk already")
    ap.add_argument(
        "--report-only", action="store_true", help="run nothing: rebuild the tables and figures from the rows on disk"
    )
    args = ap.parse_args(argv)
    quiet_libraries()
    for item in args.set:
        if "=" not in item:
            ap.error(f"--set {item!r} must look like key=value")
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    budgets = [budget_value(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    device = pick_device(args.device)
    tag = "cpu" if device == "cpu" else "".join(c if c.isalnum() else "_" for c in device_label().lower())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python bench/learning_curve.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    header = (
        f"Tables rebuilt by: `{command}` at commit {commit()}  \n"
        f"Device: {device_label() if device != 'cpu' else 'CPU'}  \n"
        f"Versions: {versions_text(*PACKAGES)}  \n\n"
        "Test accuracy, mean ± sample sd over seeds. Each seed draws its own labelled texts (stratified); "
        "the rest of train is unlabelled text that only the DAE sees. vs FT: test accuracy minus FT's at the "
        "same budget on the same seeds, in points, the paired t-test's p-value, [seeds]. SetFit: its "
        "TrainingArguments defaults on the same labelled texts, same MiniLM."
    )
    temp = None if args.runs_dir else tempfile.TemporaryDirectory(prefix="learning-curve-")
    store = RunStore(args.runs_dir or temp.name)
    rows = []
    head = commit()
    rows_file = out / f"learning_curve_{tag}.json"
    done = set()
    if args.skip_done and rows_file.exists():
        done = finished_keys(json.loads(rows_file.read_text()))
    for dataset in [] if args.report_only else datasets:
        for budget in budgets:
            for seed in seeds:
                for recipe in recipes + ([] if args.no_setfit else [SETFIT]):
                    if row_key({"dataset": dataset, "recipe": recipe, "budget": budget, "seed": seed}) in done:
                        continue
                    t0 = time.time()
                    if recipe == SETFIT:
                        row = run_setfit(dataset, seed, budget, args)
                    else:
                        row = run_recipe(recipe, dataset, seed, budget, args, store)
                    row.update(commit=head, command=command)
                    rows.append(row)
                    merge(rows_file, [row])
                    acc = f"test {row['test_acc']:.4f}" if "test_acc" in row else row.get("message", "")[:100]
                    print(
                        f"{dataset} {budget_name(budget):>9s} seed {seed} {recipe:12s} {row['state']:8s} "
                        f"{acc} ({time.time() - t0:.0f} s)",
                        flush=True,
                    )
    all_rows = merge(rows_file, [])
    problems = write_reports(all_rows, datasets, tag, header, out)
    for line in problems:
        print(f"note: {line}", file=sys.stderr)
    if temp is not None:
        temp.cleanup()
    print(f"wrote {out}/learning_curve_<dataset>_{tag}.md/.html/.png and learning_curve_{tag}.json")
    return 0 if all(r["state"] in ("done", "skipped") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
