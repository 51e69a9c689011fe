"""Does each phase do its job? Per phase, the cluster metrics of the validation texts over seeds.

Two modes:

    python bench/phase_effect.py --data-root DIR [--datasets demo,snips_builtin_intents,snips2]
        [--seeds 0,1,2] [--max-train-rows 2000]
        The default recipe (three_phase, default settings) through the runner, once per seed and
        dataset; writes bench/results/phase_effect_cpu.md (+ .json): per phase, silhouette and
        train-referenced k-NN accuracy (mean ± sd over seeds), wall time, FT validation accuracy.

    python bench/phase_effect.py --sweep NAME [--seeds 0,1,2]
        The sweeps on validation that chose the defaults in threephase_core/config.py (see
        SWEEPS below): each variant trains only the phases it is about, in this process, and
        is scored on the validation texts (train-referenced k-NN, silhouette) after each phase,
        optionally also after a fine-tuning phase (FT validation accuracy). Writes
        bench/results/phase_effect_sweep_<name>_cpu.md (+ .json).

The test split is never read. Metrics: `projection.cluster_quality` (k = 5, cosine), with the
training texts (at most `embed_train_rows`, stratified) as the k-NN reference set.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from provenance import commit, versions_text
from settings import default_data_root, load_benchmark_dataset

from threephase_core.cli import quiet_libraries

PACKAGES = ("torch", "transformers", "sentence-transformers", "scikit-learn")  # the versions the results files name
ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "bench" / "results"
PHASES = ("base", "dae", "cl", "joint", "ft")
METRICS = ("knn_train_acc", "silhouette", "knn_acc")

# Each sweep: the phases its variants train (FT too when "ft" is listed), and the variants as
# {name: overrides}. Results: bench/results/phase_effect_sweep_<name>_cpu.md.
SWEEPS: dict[str, dict] = {
    "dae": {
        "phases": ("dae",),
        "variants": {
            "lr 3e-5 (before)": {},
            "bottleneck pooled": {"dae.bottleneck": "pooled"},
            "lr 1e-4": {"dae.lr": 1e-4},
            "decoder lr 1e-3": {"dae.decoder_lr": 1e-3},
            "decoder lr 1e-3, bottleneck pooled": {"dae.decoder_lr": 1e-3, "dae.bottleneck": "pooled"},
        },
    },
    "cl": {
        "phases": ("cl",),
        "prefix": ("dae",),  # CL as it runs in three_phase: after the DAE (default settings, trained once per seed)
        "variants": {
            "paper lr2e-5": {"cl.positives": "paper", "cl.lr": 2e-5},
            "paper lr1e-4": {"cl.positives": "paper", "cl.lr": 1e-4},
            "paper lr1e-4 3 epochs": {"cl.positives": "paper", "cl.lr": 1e-4, "cl.epochs": 3},
            "balanced lr2e-5": {"cl.positives": "balanced", "cl.lr": 2e-5},
            "balanced lr1e-4": {"cl.positives": "balanced", "cl.lr": 1e-4},
        },
    },
    "joint": {
        "phases": ("joint",),
        "variants": {
            "weight 1": {"dae.joint_weight": 1.0},
            "weight 0.1": {"dae.joint_weight": 0.1},
            "weight 0.03": {"dae.joint_weight": 0.03},
            "weight 0 (CL alone)": {"dae.joint_weight": 0.0},
        },
    },
}


def load(name: str, data_root: str, max_train_rows: int, seed: int):
    """`demo`, or a folder under the data root (bench/settings.py), split and capped as a run would."""
    return load_benchmark_dataset(name, data_root, seed=seed, max_train_rows=max_train_rows)


# ---- sweeps: phases in this process ----------------------------------------------------
_PREFIX_CACHE: dict = {}  # (dataset, rows, seed, prefix) -> (encoder weights after the prefix, its metrics)


def measure(
    ds, phases: tuple[str, ...], overrides: dict, seed: int, prefix: tuple[str, ...] = (), common: dict | None = None
) -> dict:
    """Train `prefix` with the default settings (once per dataset and seed, then reused), then
    `phases` with `overrides` on the defaults; return per phase (base included) the cluster
    metrics and wall seconds, and FT's best validation accuracy when "ft" is among the phases."""
    from threephase_core import snapshots
    from threephase_core.config import RunConfig
    from threephase_core.encoder import load_encoder
    from threephase_core.progress import Progress
    from threephase_core.projection import cluster_quality
    from threephase_core.runner import seed_everything
    from threephase_core.training import PhaseContext, encode

    every = (*prefix, *phases)
    defaults = RunConfig(seed=seed, phases=every if every[-1] == "ft" else (*every, "ft")).with_overrides(common or {})
    cfg = defaults.with_overrides(overrides).validate()
    seed_everything(seed)
    model = load_encoder(cfg.model)
    ctx = PhaseContext(seed=seed, progress=Progress(), max_length=cfg.max_length, max_steps=cfg.max_steps)
    val = snapshots.validation_set(ds.validation, cfg.embed_rows, seed, model.tokenizer, ctx)
    train = snapshots.train_set(ds.train, cfg.embed_train_rows, seed, model.tokenizer, ctx)

    def quality() -> dict:
        return cluster_quality(
            encode(model, val.tok, ctx),
            val.labels,
            reference=encode(model, train.tok, ctx),
            reference_labels=train.labels,
            label_names=ds.label_names,
        )

    key = (ds.name, len(ds.train), seed, prefix)
    if key in _PREFIX_CACHE:
        weights, out = _PREFIX_CACHE[key]
        model.load_state_dict(weights)
        out = dict(out)
    else:
        out = {"base": quality()}
        for phase in prefix:
            out[phase] = _train(phase, model, defaults, ds, ctx, quality)
        if prefix:
            _PREFIX_CACHE[key] = ({k: v.detach().clone() for k, v in model.state_dict().items()}, dict(out))
    seed_everything(seed)
    for phase in phases:
        out[phase] = _train(phase, model, cfg, ds, ctx, quality)
    return out


def _train(phase: str, model, cfg, ds, ctx, quality) -> dict:
    """One phase on `model` in place; its metrics afterwards (+ wall, steps, pairs, FT val acc)."""
    from threephase_core.phases.contrastive import train_contrastive
    from threephase_core.phases.dae import train_dae
    from threephase_core.phases.finetune import train_classifier
    from threephase_core.phases.joint import train_joint

    texts, labels = ds.train["text"].tolist(), ds.train["label"].to_numpy()
    t0 = time.perf_counter()
    stats: dict = {}
    if phase == "dae":
        stats = train_dae(model, texts, cfg.dae, ctx)
    elif phase == "cl":
        stats = train_contrastive(model, texts, labels, ds.num_classes, cfg.cl, ctx)
    elif phase == "joint":
        stats = train_joint(model, texts, labels, ds.num_classes, cfg.dae, cfg.cl, ctx)
    elif phase == "ft":
        _, info = train_classifier(
            model,
            ds.label_names,
            texts,
            labels,
            ds.validation["text"].tolist(),
            ds.validation["label"].to_numpy(),
            cfg.ft,
            ctx,
        )
        stats = {"val_acc": info["best_val_acc"]}
    out = {**quality(), "wall_s": time.perf_counter() - t0, "steps": ctx.progress.snapshot().get("step")}
    out.update({k: v for k, v in stats.items() if k in ("pairs", "val_acc") or k.startswith("loss_")})
    return out


def run_sweep(
    name: str,
    datasets: list[str],
    seeds: list[int],
    data_root: str,
    max_train_rows: int,
    only: list[str],
    common: dict | None = None,
) -> dict:
    sweep = SWEEPS[name]
    prefix = tuple(sweep.get("prefix", ()))
    rows = []
    for dataset in datasets:
        for seed in seeds:
            ds = load(dataset, data_root, max_train_rows, seed)
            for variant, overrides in sweep["variants"].items():
                if only and variant not in only:
                    continue
                t0 = time.perf_counter()
                phases = measure(ds, sweep["phases"], overrides, seed, prefix, common)
                rows.append(
                    {
                        "dataset": dataset,
                        "variant": variant,
                        "overrides": overrides,
                        "seed": seed,
                        "phases": phases,
                        "wall_s": time.perf_counter() - t0,
                    }
                )
                last = phases[sweep["phases"][-1]]
                print(
                    f"{dataset} {variant!r} seed {seed}: "
                    + ", ".join(
                        f"{p} kNN(train) {phases[p]['knn_train_acc']:.3f} sil {phases[p]['silhouette']:.3f}"
                        for p in phases
                    )
                    + (f", FT val {last['val_acc']:.3f}" if "val_acc" in last else ""),
                    flush=True,
                )
    return {"sweep": name, "prefix": prefix, "phases": sweep["phases"], "rows": rows}


# ---- the default recipe through the runner ---------------------------------------------
def run_default(
    datasets: list[str],
    seeds: list[int],
    data_root: str,
    max_train_rows: int,
    runs_dir: Path,
    common: dict | None = None,
) -> dict:
    """three_phase with default settings, one run folder per (dataset, seed); the demo is never capped."""
    from threephase_core.data_root import resolve_dataset
    from threephase_core.progress import Progress
    from threephase_core.recipes import build_config
    from threephase_core.runner import execute
    from threephase_core.runstore import RunStore

    rows = []
    for dataset in datasets:
        load(dataset, data_root, 0, 0)  # a data set that is not there ends the script with one line
        source = resolve_dataset(dataset, data_root)
        cap = 0 if dataset == "demo" else max_train_rows
        for seed in seeds:
            cfg = build_config(
                "three_phase", {"dataset": source, "seed": seed, "max_train_rows": cap, **(common or {})}
            )
            run = RunStore(runs_dir).create(cfg.recipe, dataset, seed)
            t0 = time.perf_counter()
            result = execute(cfg, run, Progress())
            if result["state"] != "done":
                raise SystemExit(f"{dataset} seed {seed}: {result.get('message', result['state'])}")
            rows.append(_row(dataset, seed, run.metrics, time.perf_counter() - t0, str(run.path), cap))
            print(
                f"{dataset} seed {seed}: FT val {rows[-1]['val_acc']:.4f}, wall {rows[-1]['wall_s']:.0f} s", flush=True
            )
    return {"recipe": "three_phase", "rows": rows}


def _row(dataset: str, seed: int, metrics: dict, wall: float, folder: str, cap: int) -> dict:
    phases = {p: {k: m.get(k) for k in (*METRICS, "wall_s")} for p, m in metrics.get("phases", {}).items()}
    return {
        "dataset": dataset,
        "seed": seed,
        "val_acc": metrics["validation"]["accuracy"],
        "wall_s": wall,
        "phases": phases,
        "folder": folder,
        "max_train_rows": cap,
    }


def read_baseline(folder: Path, label: str) -> dict:
    """The finished runs under `folder` (an earlier version's demo three_phase runs), as rows."""
    from threephase_core.runstore import Run

    rows = []
    for status in sorted(folder.rglob("status.json")):
        run = Run(status.parent)
        if run.status.get("state") == "done" and run.metrics:
            rows.append(
                _row(
                    run.config.get("dataset", "?"),
                    run.config.get("seed"),
                    run.metrics,
                    float(run.status.get("wall_s") or 0.0),
                    str(run.path),
                    0,
                )
            )
    return {"label": label, "rows": rows}


def _check(rows: list[dict]) -> list[str]:
    """Whether CL tightened the clusters (mean over seeds): silhouette >= 2x base and train-referenced
    k-NN >= base."""
    mean = lambda p, k: float(np.mean([r["phases"][p][k] for r in rows if p in r["phases"]]))  # noqa: E731
    if "cl" not in rows[0]["phases"] or any(
        r["phases"][p].get("knn_train_acc") is None for r in rows for p in ("base", "cl")
    ):
        return []
    sil = mean("cl", "silhouette") / mean("base", "silhouette")
    knn = mean("cl", "knn_train_acc") - mean("base", "knn_train_acc")
    tight = sil >= 2 and knn >= 0
    return [
        f"After CL: silhouette {sil:.1f}x base, train-referenced k-NN {knn * 100:+.1f} points "
        + (
            "(CL tightened the clusters)."
            if tight
            else "(**CL did not tighten the clusters here**: "
            + ("silhouette below 2x base" if sil < 2 else "")
            + (" and " if sil < 2 and knn < 0 else "")
            + ("k-NN below base" if knn < 0 else "")
            + ")."
        )
    ]


def render_default(result: dict, command: str) -> str:
    lines = [
        "# What each phase does: the default recipe (three_phase) over seeds",
        "",
        f"Command: `{command}`  ",
        f"Commit: {commit()}  ",
        f"Versions: {versions_text(*PACKAGES)}  ",
        "Machine: a shared 2-core CPU; other jobs ran at the same time, so wall times are upper bounds.",
        "",
        "Per phase, mean ± sd over seeds of the validation texts' cosine silhouette by class, their 5-NN "
        "accuracy with the training texts as reference (kNN train), and leave-one-out 5-NN among "
        "themselves (kNN val). FT val acc: the classifier's validation accuracy (test never read).",
        "",
    ]
    groups: dict[str, list] = {}
    for r in result["rows"]:
        groups.setdefault(r["dataset"], []).append(r)
    baseline = result.get("baseline")
    if baseline and baseline["rows"]:
        groups[f"{baseline['rows'][0]['dataset']} ({baseline['label']})"] = baseline["rows"]
    for name, rows in groups.items():
        cap = rows[0].get("max_train_rows")
        lines += [
            f"## {name}" + (f" (training rows capped at {cap})" if cap else ""),
            "",
            f"Seeds {', '.join(str(r['seed']) for r in rows)}; FT validation accuracy "
            f"{_mean_sd([r['val_acc'] for r in rows])}; run wall {_mean_sd([r['wall_s'] for r in rows])} s.",
            "",
            "| phase | silhouette | kNN train | kNN val | phase wall s |",
            "|---|---|---|---|---|",
        ]
        for p in PHASES:
            have = [r["phases"][p] for r in rows if p in r["phases"]]
            if have:
                lines.append(
                    f"| {p} | "
                    + " | ".join(
                        _mean_sd([h.get(k) for h in have if h.get(k) is not None])
                        for k in ("silhouette", "knn_train_acc", "knn_acc", "wall_s")
                    )
                    + " |"
                )
        lines += [""] + _check(rows) + [""]
    return "\n".join(lines)


def _mean_sd(values: list[float]) -> str:
    v = np.asarray([x for x in values if x == x], dtype=float)
    if not len(v):
        return ""
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def render_sweep(result: dict, command: str) -> str:
    phases = ["base", *result.get("prefix", ()), *result["phases"]]
    lines = [
        f"# Sweep on validation: {result['sweep']}",
        "",
        f"Command: `{command}`  ",
        f"Commit: {commit()}  ",
        f"Versions: {versions_text(*PACKAGES)}  ",
        "Machine: a shared 2-core CPU (other jobs were running: wall times are only roughly comparable).",
        "",
        "Mean ± sd over seeds. kNN(train): 5-NN accuracy of the validation texts against the training texts; "
        "silhouette: cosine, by class, validation texts.",
        "",
        "| dataset | variant | seeds | "
        + " | ".join(f"{p} kNN(train) | {p} silhouette" for p in phases)
        + " | FT val acc | wall s |",
        "|---|---|---|" + "---|---|" * len(phases) + "---|---|",
    ]
    groups: dict[tuple, list] = {}
    for r in result["rows"]:
        groups.setdefault((r["dataset"], r["variant"]), []).append(r)
    for (dataset, variant), members in groups.items():
        cells = []
        for p in phases:
            cells.append(_mean_sd([m["phases"][p]["knn_train_acc"] for m in members]))
            cells.append(_mean_sd([m["phases"][p]["silhouette"] for m in members]))
        ft = [m["phases"]["ft"]["val_acc"] for m in members if "ft" in m["phases"]]
        wall = _mean_sd(
            [sum(m["phases"][p].get("wall_s", 0) for p in result["phases"]) for m in members]
        )  # swept phases
        lines.append(
            f"| {dataset} | {variant} | {len(members)} | " + " | ".join(cells) + f" | {_mean_sd(ft)} | {wall} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", choices=sorted(SWEEPS), help="run a sweep instead of the default recipe")
    ap.add_argument("--variant", action="append", default=[], help="with --sweep: only this variant (repeatable)")
    ap.add_argument("--datasets", default="demo")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--max-train-rows", type=int, default=2000)
    ap.add_argument("--out", default="", help="results file (.md; a .json beside it)")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every run, e.g. model=tiny max_steps=2 for a smoke run (repeatable)",
    )
    ap.add_argument(
        "--runs-dir", default="/tmp/threephase_phase_effect_runs", help="where the default mode's run folders go"
    )
    ap.add_argument(
        "--baseline-runs",
        default="",
        metavar="DIR",
        help="finished demo three_phase run folders of an earlier version (made with its own CLI) to "
        "compare FT validation accuracy and the phases with",
    )
    ap.add_argument("--baseline-label", default="before", help="what to call the --baseline-runs rows (e.g. a commit)")
    args = ap.parse_args(argv)
    if any("=" not in item for item in args.set):
        ap.error("--set takes KEY=VALUE, e.g. --set max_steps=2")
    common = dict(item.split("=", 1) for item in args.set)
    quiet_libraries()
    datasets, seeds = args.datasets.split(","), [int(s) for s in args.seeds.split(",")]
    command = "python bench/phase_effect.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.sweep:
        result = run_sweep(args.sweep, datasets, seeds, args.data_root, args.max_train_rows, args.variant, common)
        out = Path(args.out or RESULTS / f"phase_effect_sweep_{args.sweep}_cpu.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_sweep(result, command))
        out.with_suffix(".json").write_text(json.dumps({**result, "command": command, "commit": commit()}, indent=1))
        print(f"wrote {out}")
        return 0
    result = run_default(datasets, seeds, args.data_root, args.max_train_rows, Path(args.runs_dir), common)
    if args.baseline_runs:
        result["baseline"] = read_baseline(Path(args.baseline_runs), args.baseline_label)
    out = Path(args.out or RESULTS / "phase_effect_cpu.md")
    out.write_text(render_default(result, command))
    out.with_suffix(".json").write_text(json.dumps({**result, "command": command, "commit": commit()}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
