"""Which classes each imbalance preset oversamples on the long-tailed benchmark variants.

    python bench/preset_coverage.py                       # snips2 and massive_en_us at ratios 10, 50, 100
    python bench/preset_coverage.py --datasets demo --ratios 10

f(x) = r_max * ln(M / x) / ln(M) only fires where f(x) >= r_min, so a preset can leave a
long-tailed train split untouched: then its 3-Phase run is the `none` run (same pairs, same
seed), and the benchmark need not train it twice. No training here: the counts come from the
same sampler (`accuracy.make_long_tailed`) and the engine's own `corrected_counts`. Writes
bench/results/preset_coverage.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accuracy import make_long_tailed
from settings import DATA_ROOT_HELP, load_benchmark_dataset

from threephase_core.imbalance import class_sizes, corrected_counts, preset_ratios

ROOT = Path(__file__).resolve().parents[1]

PRESETS = ("normal", "extra")


def coverage_rows(dataset, ratios: list[float]) -> list[dict]:
    """Per long-tailed variant: train rows, classes, largest/smallest class, and per preset the
    classes it oversamples and the rows after correction."""
    rows = []
    for ratio in ratios:
        ds = make_long_tailed(dataset, ratio)
        sizes = class_sizes(ds.train["label"].to_numpy())
        row = {
            "dataset": ds.name,
            "rows": len(ds.train),
            "classes": len(sizes),
            "largest": max(sizes.values()),
            "smallest": min(sizes.values()),
        }
        for preset in PRESETS:
            r_min, r_max = preset_ratios(preset)
            after = corrected_counts(sizes, r_min, r_max)
            row[f"{preset}_classes"] = sum(after[c] != sizes[c] for c in sizes)
            row[f"{preset}_rows"] = sum(after.values())
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    head = (
        "| variant | train rows | classes | largest / smallest | "
        + " | ".join(f"{p} {preset_ratios(p)}: classes oversampled, rows after" for p in PRESETS)
        + " |"
    )
    lines = [head, "|---|---|---|---|" + "---|" * len(PRESETS)]
    for r in rows:
        cells = [r["dataset"], f"{r['rows']:,}", str(r["classes"]), f"{r['largest']} / {r['smallest']}"]
        cells += [f"{r[f'{p}_classes']} of {r['classes']}, {r[f'{p}_rows']:,}" for p in PRESETS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="snips2,massive_en_us")
    ap.add_argument("--ratios", default="10,50,100")
    ap.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    ratios = [float(r) for r in args.ratios.split(",") if r]
    rows = []
    for name in args.datasets.split(","):
        rows += coverage_rows(load_benchmark_dataset(name, args.data_root), ratios)
    text = table(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "preset_coverage.md").write_text(
        "# Imbalance presets on the long-tailed variants\n\n"
        f"`python bench/preset_coverage.py --datasets {args.datasets} --ratios {args.ratios}`. "
        "A preset that oversamples no "
        "class leaves the pairs, and so the 3-Phase run, identical to `none` (1, 1).\n\n" + text + "\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
