"""Grid search on validation accuracy for one recipe and dataset (test reported, not used).

    python bench/tune.py --dataset sst2 --recipe ft --grid ft.lr=1e-4,2e-4,3e-4 --grid ft.epochs=3,4

Every combination of the --grid values runs once per seed in --seeds on top of
bench/settings.py's GPU settings; the table (means over the seeds) is sorted by validation
accuracy and written to bench/results/tune/tune_<dataset>_<recipe>_<device>.md, and the winning
combination (validation only) to best_<dataset>_<recipe>.json for `accuracy.py --settings-json`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from settings import DATA_ROOT_HELP, load_benchmark_dataset, settings_for

from threephase_core.cli import quiet_libraries
from threephase_core.encoder import device_label, pick_device
from threephase_core.progress import Progress
from threephase_core.recipes import build_config
from threephase_core.runner import execute
from threephase_core.runstore import RunStore, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", help="folder name under --data-root, a path, or 'demo'")
    ap.add_argument("--recipe", default="ft")
    ap.add_argument("--grid", action="append", default=[], help="key=v1,v2,...")
    ap.add_argument("--seeds", default="0", help="comma-separated; a combination's score is its mean over them")
    ap.add_argument("--runs-dir", default="/tmp/threephase_tune_runs")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "tune"))
    ap.add_argument(
        "--collect",
        default="",
        metavar="DIR",
        help="no runs: pool the tune_rows_*.json files under DIR (e.g. jobs split by seed) "
        "into tables and winners in --out",
    )
    args = ap.parse_args()
    if args.collect:
        return collect(sorted(Path(args.collect).rglob("tune_rows_*.json")), Path(args.out))
    if not args.dataset:
        ap.error("--dataset is required (or --collect DIR)")
    quiet_libraries()
    cuda = pick_device("auto").startswith("cuda")
    ds = load_benchmark_dataset(args.dataset, args.data_root)
    keys = [g.split("=", 1)[0] for g in args.grid]
    values = [g.split("=", 1)[1].split(",") for g in args.grid]
    device = device_label() if cuda else "cpu"
    out = Path(args.out)
    rows_file = out / f"tune_rows_{ds.name}_{args.recipe}_s{args.seeds.replace(',', '-')}.json"
    runs = []
    for combo in itertools.product(*values) if keys else [()]:
        for seed in (int(x) for x in args.seeds.split(",")):
            over = {
                **settings_for(ds.name, cuda, len(ds.train), args.recipe),
                "model": args.model,
                "seed": seed,
                "dataset": ds.name,
                "embed_rows": 500,
                **dict(zip(keys, combo, strict=True)),
            }
            cfg = build_config(args.recipe, over)
            t = time.time()
            res = execute(cfg, RunStore(args.runs_dir).create(args.recipe, ds.name, seed), Progress(), dataset=ds)
            m = res.get("metrics", {})
            runs.append(
                {
                    "dataset": ds.name,
                    "recipe": args.recipe,
                    "device": device,
                    "combo": dict(zip(keys, combo, strict=True)),
                    "seed": seed,
                    "val_acc": m.get("validation", {}).get("accuracy"),
                    "test_acc": m.get("test", {}).get("accuracy"),
                    "wall_s": time.time() - t,
                    "state": res["state"],
                    "command": "python bench/tune.py " + " ".join(sys.argv[1:]),
                }
            )
            print(runs[-1], flush=True)
            write_json_atomic(rows_file, runs)  # after every run: a job stopped at a deadline keeps what it finished
    return collect([rows_file], out)


def collect(files: list[Path], out: Path) -> int:
    """Mean validation/test accuracy per combination over its seeds, sorted by validation;
    writes tune_<dataset>_<recipe>_<device>.md and the winner best_<dataset>_<recipe>.json."""
    groups: dict = {}
    for f in files:
        for r in json.loads(f.read_text()):
            groups.setdefault((r["dataset"], r["recipe"], r["device"], tuple(r["combo"])), []).append(r)
    out.mkdir(parents=True, exist_ok=True)
    for (dataset, recipe, device, keys), runs in sorted(groups.items()):
        keys = list(keys)
        all_seeds = sorted({r["seed"] for r in runs})
        combos: dict = {}
        for r in runs:
            combos.setdefault(tuple(r["combo"][k] for k in keys), []).append(r)
        rows = []
        for combo, rs in combos.items():
            done = [r for r in rs if r["state"] == "done"]
            seeds = sorted(r["seed"] for r in done)
            rows.append(
                {
                    "combo": combo,
                    "val_acc": _mean(done, "val_acc"),
                    "test_acc": _mean(done, "test_acc"),
                    "complete": seeds == all_seeds,
                    "wall_s": _mean(done, "wall_s") or 0.0,
                    "seeds": ",".join(map(str, seeds)),
                }
            )
        # Only combinations scored on every seed compete (a failed or missing seed is no advantage).
        rows.sort(key=lambda r: (not r["complete"], -(r["val_acc"] or 0)))
        fmt = lambda v: f"{v:.4f}" if v is not None else "failed"  # noqa: E731
        head = keys + ["val acc", "test acc", "wall s", "seeds"]
        commands = sorted({r["command"] for r in runs})
        lines = [
            f"# Tuning {recipe} on {dataset} ({device}); means over seeds, sorted by validation accuracy",
            "",
            *[f"command: `{c}`" for c in commands],
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for r in rows:
            lines.append(
                "| "
                + " | ".join(
                    [str(v) for v in r["combo"]]
                    + [fmt(r["val_acc"]), fmt(r["test_acc"]), f"{r['wall_s']:.0f}", r["seeds"]]
                )
                + " |"
            )
        table = "\n".join(lines)
        print(table)
        slug = "".join(c if c.isalnum() else "_" for c in device.lower())
        (out / f"tune_{dataset}_{recipe}_{slug}.md").write_text(table + "\n")
        # The combination chosen on validation, for `accuracy.py --settings-json`.
        best = (
            dict(zip(keys, rows[0]["combo"], strict=True))
            if rows and rows[0]["complete"] and rows[0]["val_acc"] is not None
            else {}
        )
        (out / f"best_{dataset}_{recipe}.json").write_text(json.dumps(best))
    return 0


def _mean(rows: list[dict], key: str) -> float | None:
    """The mean of one value over rows, None without rows."""
    return float(sum(r[key] for r in rows) / len(rows)) if rows else None


if __name__ == "__main__":
    raise SystemExit(main())
