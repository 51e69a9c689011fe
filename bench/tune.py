"""Grid search on validation accuracy for one recipe and dataset (test reported, not used).

    python bench/tune.py --dataset sst2 --recipe ft --grid ft.lr=1e-4,2e-4,3e-4 --grid ft.epochs=3,4

Every combination of the --grid values runs once (seed --seed) on top of bench/settings.py's
GPU settings; the table is sorted by validation accuracy and written to
bench/results/tune_<dataset>_<recipe>_<device>.md.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from settings import settings_for  # noqa: E402
from threephase_core.cli import quiet_libraries  # noqa: E402
from threephase_core.data import load_dataset  # noqa: E402
from threephase_core.encoder import device_label, pick_device  # noqa: E402
from threephase_core.progress import Progress  # noqa: E402
from threephase_core.recipes import build_config  # noqa: E402
from threephase_core.runner import execute  # noqa: E402
from threephase_core.runstore import RunStore  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--recipe", default="ft")
    ap.add_argument("--grid", action="append", default=[], help="key=v1,v2,...")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    quiet_libraries()
    cuda = pick_device("auto").startswith("cuda")
    path = args.dataset if args.dataset == "demo" or "/" in args.dataset else str(Path(args.data_root) / args.dataset)
    ds = load_dataset(path)
    keys = [g.split("=", 1)[0] for g in args.grid]
    values = [g.split("=", 1)[1].split(",") for g in args.grid]
    rows = []
    for combo in itertools.product(*values) if keys else [()]:
        over = {**settings_for(ds.name, cuda, len(ds.train)), "model": args.model, "seed": args.seed, "dataset": ds.name, "embed_rows": 500, **dict(zip(keys, combo))}
        cfg = build_config(args.recipe, over)
        t = time.time()
        res = execute(cfg, RunStore("/tmp/threephase_tune_runs").create(args.recipe, ds.name, args.seed), Progress(), dataset=ds)
        m = res.get("metrics", {})
        row = {**dict(zip(keys, combo)), "val_acc": m.get("validation", {}).get("accuracy"), "test_acc": m.get("test", {}).get("accuracy"),
               "wall_s": time.time() - t, "phase_walls": {p: round(v.get("wall_s", 0) or 0, 1) for p, v in m.get("phases", {}).items()}, "state": res["state"]}
        print(row, flush=True)
        rows.append(row)
    rows.sort(key=lambda r: -(r["val_acc"] or 0))
    head = keys + ["val acc", "test acc", "wall s", "phase walls"]
    lines = [f"# Tuning {args.recipe} on {ds.name} ({device_label() if cuda else 'cpu'}), seed {args.seed}; sorted by validation accuracy", "",
             f"command: `python bench/tune.py {' '.join(sys.argv[1:])}`", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([str(r[k]) for k in keys] + [f"{r['val_acc']:.4f}", f"{r['test_acc']:.4f}", f"{r['wall_s']:.0f}", str(r["phase_walls"])]) + " |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "_" for c in (device_label() if cuda else "cpu").lower())
    (out / f"tune_{ds.name}_{args.recipe}_{slug}.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
