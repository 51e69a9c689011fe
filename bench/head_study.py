"""How fast a fresh FT head learns from frozen sentence embeddings, with and without its input norm.

    python bench/head_study.py                                  # long-tailed SNIPS2 (ratio 50), seeds 0-2
    python bench/head_study.py --quick --model tiny             # CPU smoke test (CI)

The encoder is frozen and its embeddings computed once, so only the head trains: the engine's
Classifier head (`input_norm` on or off), AdamW with the engine's warm-up + linear decay, the
same batch size, epochs and head learning rate for both. This isolates the head from the
encoder's own training, which the full runs (bench/accuracy.py) mix in. It writes
bench/results/head_study_<device>.md. Validation accuracy only: nothing here is tuned.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from accuracy import make_long_tailed
from settings import DATA_ROOT_HELP, load_benchmark_dataset
from torch import nn

from threephase_core.batching import tokenize
from threephase_core.classifier import Classifier
from threephase_core.cli import quiet_libraries
from threephase_core.encoder import device_label, load_encoder, pick_device, resolve_model
from threephase_core.training import PhaseContext, encode, make_optimizer, make_scheduler, steps_per_epoch

ROOT = Path(__file__).resolve().parents[1]

# (batch size, epochs, head learning rate): the GPU small-data preset's FT budget first.
DEFAULT_GRID = "128:4:1e-3,32:5:1e-3,128:16:1e-3,128:4:1e-2"


def train_head(
    clf: Classifier, x: torch.Tensor, y: torch.Tensor, batch: int, epochs: int, lr: float, seed: int
) -> None:
    """Head-only training on cached embeddings, the engine's optimiser and schedule."""
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 4])
    n_batches = steps_per_epoch(len(y), batch)
    opt = make_optimizer([{"params": list(clf.head.parameters()), "lr": lr}], str(x.device))
    sched = make_scheduler(opt, epochs * n_batches, 0.06, "linear", floor=0.01)
    clf.train()
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(y)), n_batches):
            idx = torch.from_numpy(idx)
            loss = nn.functional.cross_entropy(clf.classify(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    clf.eval()


def evaluate(clf: Classifier, x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[float, np.ndarray]:
    """Accuracy and per-class recall (nan for a class absent from y), from one prediction pass."""
    with torch.no_grad():
        pred = clf.classify(x).argmax(-1)
    recall = np.array([float((pred[y == c] == c).float().mean()) if (y == c).any() else np.nan for c in range(k)])
    return float((pred == y).float().mean()), recall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="snips2", help="folder name under --data-root, a path, or 'demo'")
    ap.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    ap.add_argument("--long-tail", type=float, default=50.0, help="imbalance ratio of the train split (0: as it is)")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--grid", default=DEFAULT_GRID, help="comma-separated batch:epochs:head_lr")
    ap.add_argument("--quick", action="store_true", help="demo data, 2 seeds, a small grid (CPU smoke test)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    quiet_libraries()
    if args.quick:
        args.dataset, args.seeds, args.grid = "demo", "0,1", "16:2:1e-3"
    device = pick_device("auto")
    base = load_benchmark_dataset(args.dataset, args.data_root)
    ds = make_long_tailed(base, args.long_tail) if args.long_tail > 1 else base
    encoder = load_encoder(resolve_model(args.model), device=device)
    encoder.eval()
    ctx = PhaseContext(device=device)

    def embed(split):
        frame = ds.split(split)
        tok = tokenize(encoder.tokenizer, frame["text"].tolist(), 128)
        x = torch.from_numpy(encode(encoder, tok, ctx, 128)).float().to(device)
        return x, torch.as_tensor(frame["label"].to_numpy(), device=device)

    (x, y), (xv, yv) = embed("train"), embed("validation")
    counts = np.bincount(y.cpu().numpy(), minlength=len(ds.label_names))
    rare = np.argsort(counts)[:3]
    lines = [
        f"# Head-only study on {ds.name} ({device_label() if device.startswith('cuda') else 'cpu'})",
        "",
        f"Frozen {args.model} embeddings (norm ≈ {x.norm(dim=-1).mean().item():.2f}); train class sizes "
        f"{sorted(counts.tolist(), reverse=True)}; validation accuracy and mean validation recall of the 3 rarest "
        "classes, "
        f"mean ± sd over seeds {args.seeds}.",
        "",
        f"command: `{' '.join(['python', 'bench/' + Path(__file__).name, *sys.argv[1:]])}`",
        "",
        "| batch | epochs | steps | head lr | input norm | val acc % | rare-3 recall % |",
        "|---|---|---|---|---|---|---|",
    ]
    seeds = [int(s) for s in args.seeds.split(",")]
    for spec in args.grid.split(","):
        batch, epochs, lr = spec.split(":")
        batch, epochs, lr = int(batch), int(epochs), float(lr)
        for norm in (False, True):
            accs, rare_recalls = [], []
            for seed in seeds:
                torch.manual_seed(seed)
                clf = Classifier(encoder, ds.label_names, input_norm=norm).to(device)
                train_head(clf, x, y, batch, epochs, lr, seed)
                acc, recall = evaluate(clf, xv, yv, len(ds.label_names))
                accs.append(acc * 100)
                rare_recalls.append(float(np.nanmean(recall[rare])) * 100)
            steps = epochs * steps_per_epoch(len(y), batch)
            lines.append(
                f"| {batch} | {epochs} | {steps} | {lr:g} | {'on' if norm else 'off'} | "
                f"{np.mean(accs):.2f} ± {np.std(accs, ddof=1) if len(accs) > 1 else 0:.2f} | "
                f"{np.mean(rare_recalls):.1f} ± {np.std(rare_recalls, ddof=1) if len(rare_recalls) > 1 else 0:.1f} |"
            )
            print(lines[-1], flush=True)
    tag = ("quick_" if args.quick else "") + ("gpu" if device.startswith("cuda") else "cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"head_study_{tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
