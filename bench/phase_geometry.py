"""What each phase did to the embedding space, read back from run folders.

Every run keeps, after each phase, the cosine silhouette and the leave-one-out k-NN accuracy
(k = 5) of its validation embeddings (`metrics.json`, from `projection.cluster_quality`; the
Embeddings page plots the same embeddings). This script collects them from finished runs and
prints, per dataset and recipe, the mean ± sd over seeds after each phase: where the classes
separate, and which phase moves them.

    python bench/phase_geometry.py RUNS_DIR [RUNS_DIR ...] --out bench/results/phase_geometry_cpu.md
    python bench/phase_geometry.py bench/results/accuracy_nvidia_h100_80gb_hbm3.json

A run is one folder with config.json, status.json and metrics.json (the run store's layout);
an `accuracy_*.json` from bench/accuracy.py counts its rows' `phase_geometry` (the GPU machine
sends back result files, not run folders). Only finished runs count, and where one (dataset,
model, recipe, seed) ran more than once the latest counts. Runs of different models are kept apart
(the model column: its folder name).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from threephase_core.runstore import Run

PHASES = ("base", "dae", "cl", "joint", "ft")
HEADERS = {"base": "pretrained", "dae": "after DAE", "cl": "after CL", "joint": "after Joint", "ft": "after FT"}


def read_runs(roots: list[str]) -> list[dict]:
    """One record per finished run: dataset, recipe, seed, created, and per phase its metrics."""
    latest: dict[tuple, dict] = {}

    def keep(run: dict) -> None:
        key = (run["dataset"], run["model"], run["recipe"], run["seed"])
        if key not in latest or run["created"] > latest[key]["created"]:
            latest[key] = run

    for root in roots:
        if Path(root).is_file():
            for row in json.loads(Path(root).read_text()).get("rows", []):
                if row.get("state") == "done" and row.get("phase_geometry"):
                    keep(
                        {
                            "dataset": row["dataset"],
                            "recipe": row["recipe"],
                            "seed": row["seed"],
                            "model": Path(str(row.get("settings", {}).get("model", ""))).name,
                            "created": row.get("finished", 0.0),
                            "folder": root,
                            "phases": row["phase_geometry"],
                        }
                    )
            continue
        for status_file in sorted(Path(root).rglob("status.json")):  # run folders, at any depth
            folder = Run(status_file.parent)
            status, config, metrics = folder.status, folder.config, folder.metrics
            if status.get("state") != "done" or not config or not metrics:
                continue
            keep(
                {
                    "dataset": config["dataset"],
                    "recipe": config["recipe"],
                    "seed": config["seed"],
                    "model": Path(str(config.get("model", ""))).name,
                    "created": status.get("created", 0.0),
                    "folder": str(folder.path),
                    "phases": {p: m for p, m in metrics.get("phases", {}).items() if p in PHASES},
                }
            )
    return sorted(latest.values(), key=lambda r: (r["dataset"], r["model"], r["recipe"], r["seed"]))


def summarise(runs: list[dict]) -> list[dict]:
    """Per (dataset, model, recipe): seeds, and per phase and metric the mean and sd over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["model"], r["recipe"]), []).append(r)
    out = []
    for (dataset, model, recipe), members in sorted(groups.items()):
        row = {"dataset": dataset, "model": model, "recipe": recipe, "seeds": sorted(m["seed"] for m in members)}
        for phase in PHASES:
            for metric in ("knn_acc", "silhouette"):
                values = [m["phases"][phase][metric] for m in members if metric in m["phases"].get(phase, {})]
                values = [v for v in values if v == v]  # NaN: too few rows or classes
                if values:
                    row[f"{phase}.{metric}"] = (
                        float(np.mean(values)),
                        float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                    )
        out.append(row)
    return out


def table(rows: list[dict], metric: str, scale: float, digits: int) -> list[str]:
    phases = [p for p in PHASES if any(f"{p}.{metric}" in r for r in rows)]
    lines = [
        "| dataset | model | recipe | seeds | " + " | ".join(HEADERS[p] for p in phases) + " |",
        "|---|---|---|---|" + "---|" * len(phases),
    ]
    for r in rows:
        cells = []
        for p in phases:
            v = r.get(f"{p}.{metric}")
            cells.append(f"{v[0] * scale:.{digits}f} ± {v[1] * scale:.{digits}f}" if v else "")
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['recipe']} | {len(r['seeds'])} | " + " | ".join(cells) + " |"
        )
    return lines


def render(rows: list[dict], roots: list[str]) -> str:
    lines = [
        "# Validation embeddings after each phase",
        "",
        f"From the run folders under {', '.join(roots)} (`python bench/phase_geometry.py`); mean ± sd over seeds.",
        "",
        "Leave-one-out 5-NN accuracy (%, cosine) of the validation embeddings:",
        "",
    ]
    lines += table(rows, "knn_acc", 100, 1)
    lines += ["", "Cosine silhouette of the validation embeddings by class:", ""]
    lines += table(rows, "silhouette", 1, 3)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs_dirs", nargs="+")
    ap.add_argument("--out", default="", help="also write the tables to this .md file")
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        help="keep only runs of this model (its folder name, e.g. minilm); repeatable",
    )
    args = ap.parse_args(argv)
    runs = [r for r in read_runs(args.runs_dirs) if not args.model or r["model"] in args.model]
    if not runs:
        print(f"no finished runs under {', '.join(args.runs_dirs)}")
        return 1
    text = render(summarise(runs), args.runs_dirs)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
