"""Accuracy of recipes x datasets x seeds, with the 3-Phase - FT difference and a paired test.

    python bench/accuracy.py --datasets snips2,sst5 --recipes three_phase,ft --seeds 0,1,2
    python bench/accuracy.py --datasets snips2 --long-tail 10,50,100 --recipes three_phase,no_imb,extra_imb,ft
    python bench/accuracy.py --quick                      # CPU smoke test: demo data, tiny step counts

Datasets are folder names under --data-root (default $THREEPHASE_DATA_ROOT, else ./data), paths, or
'demo'. Model
selection uses the validation split only; test numbers are reported, never tuned on. Rows are
merged into bench/results/accuracy_<device>.json across invocations (same dataset, recipe
and seed: a done row beats a failed one, then the row that finished last wins), and the Markdown
table is rebuilt from all rows.
Long-tailed variants (`--long-tail R`): the train split subsampled with a fixed seed to an
exponential class profile whose largest/smallest ratio is R (validation and test
untouched), named like `snips2_lt100`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from provenance import commit as provenance_commit
from provenance import versions_text
from settings import DATA_ROOT_HELP, load_benchmark_dataset, settings_for

from threephase_core.cli import quiet_libraries
from threephase_core.data import TextDataset
from threephase_core.encoder import device_label, pick_device
from threephase_core.progress import Progress
from threephase_core.recipes import build_config
from threephase_core.runner import execute
from threephase_core.runstore import RunStore

PACKAGES = ("torch", "transformers", "sentence-transformers")  # the versions the results files name
ROOT = Path(__file__).resolve().parents[1]

ALL_DATASETS = "snips_builtin_intents,snips2,sst2,sst5,ag_news,massive_en_us,imdb"


def make_long_tailed(ds: TextDataset, ratio: float, seed: int = 0) -> TextDataset:
    """Subsample train to sizes n_max * ratio**(-k/(K-1)) for the classes ranked by size
    (largest first; ties in a seeded order), each capped by the rows it has."""
    rng = np.random.default_rng(seed)
    counts = ds.train["label"].value_counts()
    labels = sorted(counts.index.tolist())
    tie = dict(zip(labels, rng.permutation(len(labels)), strict=True))
    order = sorted(labels, key=lambda c: (-counts[c], tie[c]))
    n_max = int(counts.max())
    k = len(order)
    parts = []
    for rank, label in enumerate(order):
        target = max(1, int(round(n_max * ratio ** (-rank / max(k - 1, 1)))))
        rows = ds.train[ds.train["label"] == label]
        parts.append(rows.sample(n=min(target, len(rows)), random_state=seed))
    import pandas as pd

    train = pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return TextDataset(
        name=f"{ds.name}_lt{int(ratio)}",
        label_names=ds.label_names,
        train=train,
        validation=ds.validation,
        test=ds.test,
        source=ds.source,
        notes=ds.notes + [f"long-tailed train: exponential profile, ratio {ratio}, seed {seed}"],
    )


def rare_class_recall(metrics: dict, train_counts: dict, n: int = 3) -> float:
    """Mean test recall of the n classes with the fewest training rows."""
    rare = sorted(train_counts, key=train_counts.get)[:n]
    return float(np.mean([metrics["test"]["per_class"][c]["recall"] for c in rare]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=ALL_DATASETS)
    ap.add_argument("--recipes", default="three_phase,ft")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--long-tail", default="", help="comma-separated imbalance ratios, e.g. 10,50,100")
    ap.add_argument("--max-train-rows", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument(
        "--label",
        default="",
        help="stored as recipe 'NAME[LABEL]' (a variant kept apart from the plain rows, e.g. chunk)",
    )
    ap.add_argument(
        "--settings-json",
        default="",
        help="a JSON object of key=value overrides (e.g. tune.py's best_*.json); --set wins",
    )
    ap.add_argument(
        "--preset",
        choices=("auto", "gpu", "engine"),
        default="auto",
        help="auto: the GPU presets (bench/settings.py) on a GPU, the engine defaults on the CPU; "
        "gpu: the GPU presets anywhere (to reproduce a GPU row's settings on the CPU)",
    )
    ap.add_argument("--quick", action="store_true", help="demo data, tiny model, 2 steps a phase (CPU smoke test)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--runs-dir", default="/tmp/threephase_accuracy_runs")
    ap.add_argument(
        "--merge",
        nargs="+",
        default=[],
        metavar="JSON",
        help="merge the rows of these result files (e.g. from bench/parallel.py) into --out; no runs",
    )
    args = ap.parse_args()
    if args.merge:
        return merge_files([Path(p) for p in args.merge], Path(args.out))
    quiet_libraries()
    device = pick_device("auto")
    cuda = device.startswith("cuda")
    if args.quick:
        args.datasets, args.seeds = "demo", "0,1"
        args.model = args.model if args.model != "minilm" else "tiny"
    seeds = [int(s) for s in args.seeds.split(",")]
    recipes = args.recipes.split(",")
    ratios = [float(r) for r in args.long_tail.split(",") if r]
    tag = ("quick_" if args.quick else "") + _slug(device_label() if cuda else "cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"accuracy_{tag}.json"
    store = RunStore(args.runs_dir)
    use_gpu_preset = args.preset == "gpu" or (args.preset == "auto" and cuda)
    commit = provenance_commit()  # the code this process loaded, so once, at the start
    for name in args.datasets.split(","):
        base = load_benchmark_dataset(name, args.data_root, max_train_rows=args.max_train_rows)
        variants = [make_long_tailed(base, r) for r in ratios] if ratios else [base]
        for ds in variants:
            for recipe in recipes:
                for seed in seeds:
                    overrides = {
                        **settings_for(base.name, use_gpu_preset, len(ds.train), recipe),
                        "model": args.model,
                        "seed": seed,
                        "dataset": ds.name,
                    }
                    if args.quick:
                        overrides["max_steps"] = 2
                    if args.settings_json and Path(args.settings_json).exists():
                        overrides.update(json.loads(Path(args.settings_json).read_text()))
                    elif args.settings_json:
                        print(f"note: {args.settings_json} not found; bench/settings.py defaults used", flush=True)
                    for item in args.overrides:
                        k, v = item.split("=", 1)
                        overrides[k] = v
                    cfg = build_config(recipe, overrides)
                    run = store.create(recipe, ds.name, seed)
                    t = time.time()
                    res = execute(cfg, run, Progress(), dataset=ds)
                    row = {
                        "dataset": ds.name,
                        "recipe": f"{recipe}[{args.label}]" if args.label else recipe,
                        "seed": seed,
                        "state": res["state"],
                        "wall_s": time.time() - t,
                        "device": device_label() if cuda else "cpu",
                        "train_rows": len(ds.train),
                        "settings": overrides,
                        "head_input_norm": cfg.ft.head_input_norm,
                        "commit": commit,
                        "finished": time.time(),
                    }
                    if res["state"] == "done":
                        m = res["metrics"]
                        row.update(
                            val_acc=m["validation"]["accuracy"],
                            test_acc=m["test"]["accuracy"],
                            macro_f1=m["test"]["f1_macro"],
                            val_macro_f1=m["validation"]["f1_macro"],
                            before_ft_val_acc=m["before_ft"]["val_acc"],
                            phase_wall_s={
                                p: v.get("wall_s") for p, v in m["phases"].items() if v.get("wall_s") is not None
                            },
                            rare3_recall=rare_class_recall(m, ds.class_counts("train")),
                            # validation kNN accuracy / silhouette after each phase (bench/phase_geometry.py)
                            phase_geometry={
                                p: {k: v[k] for k in ("knn_acc", "silhouette") if k in v}
                                for p, v in m["phases"].items()
                            },
                        )
                    else:
                        row["message"] = res.get("message", "")
                    print(
                        json.dumps(
                            {
                                k: (round(v, 4) if isinstance(v, float) else v)
                                for k, v in row.items()
                                if k != "settings"
                            }
                        ),
                        flush=True,
                    )
                    _merge(json_path, row)
    rows = json.loads(json_path.read_text())["rows"]
    table = summary_table(rows)
    (out / f"accuracy_{tag}.md").write_text(f"# Accuracy ({tag})\n\nversions: {versions_text(*PACKAGES)}\n\n{table}\n")
    print(table)
    return 0


def merge_files(sources: list[Path], out: Path) -> int:
    """Fold rows from other result files into out/accuracy_<device>.json (one per device in
    the rows) and rebuild each device's Markdown table."""
    by_tag: dict[str, list[dict]] = {}
    for src in sources:
        if not src.exists():
            print(f"no such file: {src}", file=sys.stderr)
            return 2
        for row in json.loads(src.read_text())["rows"]:
            by_tag.setdefault(_slug(row.get("device", "cpu")), []).append(row)
    out.mkdir(parents=True, exist_ok=True)
    for tag, rows in by_tag.items():
        path = out / f"accuracy_{tag}.json"
        for row in rows:
            _merge(path, row)
        table = summary_table(json.loads(path.read_text())["rows"])
        md = out / f"accuracy_{tag}.md"
        old = md.read_text() if md.exists() else ""
        head = old[: old.index("| dataset |")] if "| dataset |" in old else f"# Accuracy ({tag})\n\n"
        md.write_text(head + table + "\n")  # a hand-written header (commands, versions) is kept
        print(f"merged {len(rows)} rows into {path}")
    return 0


def _rank(row: dict) -> tuple:
    """A finished (done) row beats a failed one; then the one that finished last wins (rows
    without a `finished` time are older than any with one)."""
    return (row.get("state") == "done", row.get("finished", 0))


def _merge(path: Path, row: dict) -> None:
    """Keep one row per (dataset, recipe, seed): see `_rank`."""
    from threephase_core.runstore import write_json_atomic

    data = json.loads(path.read_text()) if path.exists() else {"rows": []}
    key = (row["dataset"], row["recipe"], row["seed"])
    old = [r for r in data["rows"] if (r["dataset"], r["recipe"], r["seed"]) == key]
    if any(_rank(r) > _rank(row) for r in old):
        return
    data["rows"] = [r for r in data["rows"] if (r["dataset"], r["recipe"], r["seed"]) != key] + [row]
    write_json_atomic(path, json.loads(json.dumps(data, default=float)))


def summary_table(rows: list[dict]) -> str:
    """Mean ± std per dataset and recipe, then each recipe - FT paired over seeds (`paired_table`)."""
    done = [r for r in rows if r.get("state") == "done"]
    lines = [
        "| dataset | recipe | seeds | val acc | test acc | test macro F1 | rare-3 recall | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict = {}
    for r in done:
        groups.setdefault((r["dataset"], r["recipe"]), []).append(r)
    for (d, rec), rs in sorted(groups.items()):
        cells = " | ".join(_mean_sd(rs, key) for key in ("val_acc", "test_acc", "macro_f1", "rare3_recall"))
        lines.append(f"| {d} | {rec} | {len(rs)} | {cells} | {np.mean([x['wall_s'] for x in rs]):.0f} |")
    lines += ["", *paired_table(done)]
    return "\n".join(lines)


def _mean_sd(rows: list[dict], key: str, scale: float = 100.0) -> str:
    """'mean ± sample sd' of one metric over rows (sd 0 for a single row)."""
    v = np.array([x[key] for x in rows]) * scale
    return f"{v.mean():.2f} ± {v.std(ddof=1) if len(v) > 1 else 0:.2f}"


def paired_table(done: list[dict]) -> list[str]:
    """Each recipe - FT per dataset, over the seeds both ran: test accuracy, macro F1 and rare-3
    recall, in points, with a paired t-test's p-value for the first two ("-" where a row lacks the
    metric, "nan" with one seed or identical scores). 3-Phase comes first (the issue's
    comparison), then the other recipes by name."""
    from threephase_core.metrics import paired_p

    lines = [
        "Recipe - FT (points; paired over the seeds both ran; p: paired t-test):",
        "",
        "| dataset | recipe | seeds | recipe test acc | FT test acc | diff | p | diff macro F1 | p "
        "| diff rare-3 recall |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(r["dataset"], r["recipe"], r["seed"]): r for r in done}
    for d in sorted({r["dataset"] for r in done}):
        recipes = sorted(
            {r["recipe"] for r in done if r["dataset"] == d} - {"ft"}, key=lambda rec: (rec != "three_phase", rec)
        )
        for rec in recipes:
            seeds = sorted(s for (dd, rr, s) in by if dd == d and rr == rec and (d, "ft", s) in by)
            if not seeds:
                continue
            cells = [d, rec, str(len(seeds))]
            for key, with_p in (("test_acc", True), ("macro_f1", True), ("rare3_recall", False)):
                pairs = [(by[(d, rec, s)].get(key), by[(d, "ft", s)].get(key)) for s in seeds]
                if any(x is None or y is None for x, y in pairs):
                    cells += ["-"] * (2 if with_p else 1) + (["-", "-"] if key == "test_acc" else [])
                    continue
                x, y = (np.array(v, float) * 100 for v in zip(*pairs, strict=True))
                if key == "test_acc":
                    cells += [f"{x.mean():.2f}", f"{y.mean():.2f}"]
                cells.append(f"{x.mean() - y.mean():+.2f}")
                if with_p:
                    p = paired_p(x, y)
                    cells.append(f"{p:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s.lower()).strip("_")


if __name__ == "__main__":
    raise SystemExit(main())
