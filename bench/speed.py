"""Training speed of each phase, next to stock loops timed in the same invocation.

    python bench/speed.py --dataset sst2                               # GPU: the full table (run it alone)
    python bench/speed.py --dataset demo --quick                       # CPU smoke test (CI)
    python bench/speed.py --nproc 2 --dataset demo --max-steps 30      # N processes against 1 (scaling.py)

Measures, on one dataset (SST-2 by default):
  * stock FT: Hugging Face Trainer, AutoModelForSequenceClassification, batch 32, bf16 on CUDA,
    lr 5e-5, max length 128, dynamic padding; samples/s over a fixed number of steps;
  * stock DAE / CL: sentence-transformers' DenoisingAutoEncoderLoss and CosineSimilarityLoss
    in a plain loop (tokenise every step, batch 64, loss.item() every step);
  * ours: each phase through the engine (pre-tokenised, length-bucketed, bf16, fused AdamW,
    no per-step host sync, larger batches), samples/s = samples seen / phase wall time;
  * the whole 3-Phase recipe end to end (data, model load, three phases, embeddings after every
    phase, validation + test metrics), wall seconds.
Prints a table and writes bench/results/speed_<device>.json and .md. The "reference" ratio divides
by stock figures measured once on an H100 (bench/results/reference_stock_h100.md); the fair ratio
is the one against the stock loop of the same run, since host CPUs differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from provenance import versions
from settings import DATA_ROOT_HELP, load_benchmark_dataset, settings_for

from threephase_core.cli import quiet_libraries
from threephase_core.data_root import resolve_dataset
from threephase_core.encoder import device_label, load_encoder, pick_device, resolve_model
from threephase_core.noise import delete_words_batch
from threephase_core.recipes import build_config
from threephase_core.runner import run_recipe

ROOT = Path(__file__).resolve().parents[1]
H100_BF16_DENSE_TFLOPS = 989.0
# Stock loops' samples/s measured once on an H100 (bench/results/reference_stock_h100.md): the HF Trainer
# on SST-2 and sentence-transformers' own DAE and CL losses in a plain loop.
REFERENCE_STOCK = {"ft": 1347, "dae": 983, "cl": 1215}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def stock_trainer_ft(model_path, texts, labels, n_classes, device, steps, batch=32) -> dict:
    """Stock Hugging Face Trainer fine-tuning, timed over `steps` steps."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(model_path)
    enc = tok(texts, truncation=True, max_length=128)

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return len(texts)

        def __getitem__(self, i):
            return {
                "input_ids": enc["input_ids"][i],
                "attention_mask": enc["attention_mask"][i],
                "labels": int(labels[i]),
            }

    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=n_classes)
    args = TrainingArguments(
        output_dir="/tmp/stock_trainer",
        per_device_train_batch_size=batch,
        learning_rate=5e-5,
        max_steps=steps,
        warmup_steps=max(1, int(0.06 * steps)),
        bf16=device.startswith("cuda"),
        use_cpu=not device.startswith("cuda"),
        report_to=[],
        save_strategy="no",
        logging_steps=10**9,
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=DS(), data_collator=DataCollatorWithPadding(tok))
    t = time.time()
    out = trainer.train()
    wall = time.time() - t
    return {
        "samples_per_s": steps * batch / wall,
        "wall_s": wall,
        "steps": steps,
        "batch": batch,
        "trainer_reported": out.metrics.get("train_samples_per_second"),
    }


def stock_st_loop(model_path, texts, labels, device, kind: str, steps: int, batch=64) -> dict:
    """sentence-transformers' own loss in a plain bf16 loop (tokenise per step, item() per step)."""
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss, DenoisingAutoEncoderLoss

    model = load_encoder(model_path, device)
    loss_fn = (
        DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True) if kind == "dae" else CosineSimilarityLoss(model)
    ).to(device)
    opt = torch.optim.AdamW([p for p in loss_fn.parameters() if p.requires_grad], lr=3e-5)
    rng = np.random.default_rng(0)
    amp = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.startswith("cuda")
        else torch.autocast("cpu", enabled=False)
    )

    def feats(batch_texts):
        f = model.tokenizer(batch_texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        return {"input_ids": f["input_ids"].to(device), "attention_mask": f["attention_mask"].to(device)}

    def one_step():
        idx = rng.integers(0, len(texts), batch)
        if kind == "dae":
            clean = [texts[i] for i in idx]
            features = [feats(delete_words_batch(clean, 0.6, rng)), feats(clean)]
            lab = None
        else:
            j = rng.integers(0, len(texts), batch)
            features = [feats([texts[i] for i in idx]), feats([texts[k] for k in j])]
            lab = torch.tensor((labels[idx] == labels[j]).astype(np.float32), device=device)
        with amp:
            loss = loss_fn(features, lab)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()

    for _ in range(3):
        one_step()
    sync(device)
    t = time.time()
    for _ in range(steps):
        one_step()
    sync(device)
    wall = time.time() - t
    return {"samples_per_s": steps * batch / wall, "wall_s": wall, "steps": steps, "batch": batch}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="sst2", help="folder name under --data-root, a path, or 'demo'")
    ap.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="tiny step counts and a row cap (CPU smoke test)")
    ap.add_argument("--skip-stock", action="store_true")
    ap.add_argument(
        "--warm-repeats",
        type=int,
        default=0,
        help="run the 3-Phase recipe this many more times in the same process and report the last as 'warm' "
        "(the main figures stay those of the first, cold run: what a fresh CLI run sees)",
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument(
        "--set", dest="overrides", action="append", default=[], help="override our GPU settings, key=value"
    )
    ap.add_argument(
        "--nproc",
        type=int,
        default=0,
        help="measure data-parallel scaling instead: `threephase run --nproc N` against one process (scaling.py)",
    )
    ap.add_argument("--max-steps", type=int, default=30, help="with --nproc: steps per phase")
    ap.add_argument("--batch", type=int, default=16, help="with --nproc: batch size per process")
    ap.add_argument("--repeats", type=int, default=1, help="with --nproc: alternate the runs N times, keep the best")
    args = ap.parse_args()
    quiet_libraries()
    if args.nproc:
        from scaling import main as scaling

        return scaling(args)
    device = pick_device(args.device)
    cuda = device.startswith("cuda")
    model_path = resolve_model(args.model)
    settings = {}
    for item in args.overrides:
        k, v = item.split("=", 1)
        settings[k] = v
    rows_cap = 400 if args.quick else 0
    source = resolve_dataset(args.dataset, args.data_root)
    ds = load_benchmark_dataset(args.dataset, args.data_root, max_train_rows=rows_cap)
    settings = {**settings_for(ds.name, cuda, len(ds.train)), **settings}
    texts, labels = ds.train["text"].tolist(), ds.train["label"].to_numpy()
    max_steps = 3 if args.quick else 0
    stock_steps = 3 if args.quick else 300
    result = {
        "device": device_label() if cuda else "cpu",
        "dataset": ds.name,
        "train_rows": len(texts),
        "quick": args.quick,
        "versions": versions("torch", "transformers", "sentence-transformers", "numpy"),
        "command": " ".join(sys.argv),
        "settings": settings,
    }
    print(f"device {result['device']}; dataset {ds.name}: {len(texts)} train rows")
    # Ours: the whole recipe first (it also warms the GPU up); per-phase throughput from its phase walls.
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t = time.time()
    cfg = build_config(
        "three_phase",
        {**settings, "dataset": source, "model": args.model, "max_steps": max_steps, "max_train_rows": rows_cap},
    )
    run, res = run_recipe(cfg, runs_dir="/tmp/threephase_speed_runs")
    wall = time.time() - t
    result["three_phase"] = {"wall_s": wall, "state": res["state"], "run": str(run.path)}
    if res["state"] != "done":
        print("3-Phase failed:", res.get("message"))
        return 1
    m = res["metrics"]
    walls = {k: v.get("wall_s") for k, v in m["phases"].items() if v.get("wall_s")}
    result["three_phase"].update(
        val_acc=m["validation"]["accuracy"],
        test_acc=m["test"]["accuracy"],
        phase_walls=walls,
        peak_mem_gib=torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
    )
    print("ours 3-Phase", _fmt(result["three_phase"]))
    n, pairs = len(texts), m["phases"]["cl"]["data"]["pairs"]
    mean_tokens = float(
        np.mean(
            [
                len(x)
                for x in load_encoder(model_path, "cpu").tokenizer(texts[:5000], truncation=True, max_length=128)[
                    "input_ids"
                ]
            ]
        )
    )
    seen = {
        "dae": min(n * cfg.dae.epochs, (max_steps or 10**12) * cfg.dae.batch_size),
        "cl": min(pairs * cfg.cl.epochs, (max_steps or 10**12) * cfg.cl.batch_size),
        "ft": m["ft"]["steps"] * cfg.ft.batch_size,
    }
    batch = {"dae": cfg.dae.batch_size, "cl": cfg.cl.batch_size, "ft": cfg.ft.batch_size}
    # Rough matmul FLOPs per sample: 6 x (weights touched) x tokens; DAE adds the tied decoder
    # (same size + cross-attention) and the vocabulary projection; CL encodes two texts.
    enc = 6 * 12 * 384 * 384 * 6  # 6 layers x (4 attention + 8 MLP) x d^2, x6 for forward+backward
    per_token = {"ft": enc, "cl": 2 * enc, "dae": 2 * enc + 6 * 6 * 4 * 384 * 384 + 6 * 384 * 30522}
    for phase in ("ft", "dae", "cl"):
        sps = seen[phase] / walls[phase]
        tflops = sps * mean_tokens * per_token[phase] / 1e12
        result[f"ours_{phase}"] = {
            "samples_per_s": sps,
            "tokens_per_s": sps * mean_tokens * (2 if phase == "cl" else 1),
            "phase_wall_s": walls[phase],
            "batch": batch[phase],
            "est_tflops": tflops,
            "est_mfu": tflops / H100_BF16_DENSE_TFLOPS if cuda else None,
            "peak_mem_gib": result["three_phase"]["peak_mem_gib"],
        }
        print(f"ours {phase}", _fmt(result[f"ours_{phase}"]))
    for k in range(args.warm_repeats):  # the workbench's case: a long-lived process, libraries planned already
        t = time.time()
        _, again = run_recipe(cfg, runs_dir="/tmp/threephase_speed_runs")
        if again["state"] != "done":
            print("warm 3-Phase failed:", again.get("message"))
            break
        w = {p: v.get("wall_s") for p, v in again["metrics"]["phases"].items() if v.get("wall_s")}
        result["warm"] = {
            "repeat": k + 1,
            "wall_s": time.time() - t,
            "phase_walls": w,
            **{f"{p}_samples_per_s": seen[p] / w[p] for p in ("ft", "dae", "cl")},
        }
        print("warm 3-Phase", _fmt(result["warm"]))
    if not args.skip_stock:
        result["stock_ft"] = stock_trainer_ft(model_path, texts, labels, ds.num_classes, device, stock_steps)
        print("stock FT", _fmt(result["stock_ft"]))
        result["stock_dae"] = stock_st_loop(model_path, texts, labels, device, "dae", stock_steps // 3 or 1)
        print("stock DAE", _fmt(result["stock_dae"]))
        result["stock_cl"] = stock_st_loop(model_path, texts, labels, device, "cl", stock_steps // 3 or 1)
        print("stock CL", _fmt(result["stock_cl"]))
    flat = {
        "device": result["device"],
        "stock_ft_samples_per_s": result.get("stock_ft", {}).get("samples_per_s"),
        "ft_samples_per_s": result["ours_ft"]["samples_per_s"],
        "stock_dae_samples_per_s": result.get("stock_dae", {}).get("samples_per_s"),
        "dae_samples_per_s": result["ours_dae"]["samples_per_s"],
        "stock_cl_samples_per_s": result.get("stock_cl", {}).get("samples_per_s"),
        "cl_samples_per_s": result["ours_cl"]["samples_per_s"],
        "three_phase_sst2_wall_s": wall if ds.name == "sst2" and not args.quick else None,
        **{f"reference_stock_{phase}_samples_per_s": v for phase, v in REFERENCE_STOCK.items()},
    }
    result.update(flat)
    table = _table(result)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = ("quick_" if args.quick else "") + _slug(result["device"])
    (out / f"speed_{tag}.json").write_text(json.dumps(result, indent=2, default=float))
    (out / f"speed_{tag}.md").write_text(table + "\n")
    print(f"wrote {out / f'speed_{tag}.json'}")
    return 0


def _table(r: dict) -> str:
    """The Markdown report of one speed.py run."""
    lines = [
        f"# Speed on {r['device']} ({r['dataset']}, {r['train_rows']} train rows)",
        "",
        f"command: `{r['command']}`",
        "",
        "| phase | stock samples/s (this run) | ours samples/s | ratio | ratio to reference stock | our batch "
        "| est. MFU |",
        "|---|---|---|---|---|---|---|",
    ]
    for phase in ("ft", "dae", "cl"):
        s = r.get(f"stock_{phase}", {}).get("samples_per_s")
        ours = r[f"ours_{phase}"]["samples_per_s"]
        ratio = f"{ours / s:.1f}x" if s else "-"
        to_reference = f"{ours / REFERENCE_STOCK[phase]:.1f}x"
        ours_row = r[f"ours_{phase}"]
        mfu = f"{ours_row['est_mfu']:.1%}" if ours_row.get("est_mfu") else "-"
        stock = f"{s:,.0f}" if s else "-"
        lines.append(
            f"| {phase.upper()} | {stock} | {ours:,.0f} | {ratio} | {to_reference} | {ours_row['batch']} | {mfu} |"
        )
    tp = r["three_phase"]
    lines += [
        "",
        f"3-Phase end to end: {tp['wall_s']:.1f} s wall ({tp['state']}; data, model load, 3 phases, embeddings after "
        f"each, metrics), validation acc {tp.get('val_acc', float('nan')):.4f}, test acc "
        f"{tp.get('test_acc', float('nan')):.4f}, peak GPU memory {tp.get('peak_mem_gib') or 0:.1f} GiB",
        f"phase walls: {tp.get('phase_walls')}",
        f"versions: {r['versions']}",
    ]
    if r.get("warm"):
        w = r["warm"]
        lines.insert(
            -2,
            f"warm (run {w['repeat'] + 1} in the same process): 3-Phase {w['wall_s']:.1f} s wall; samples/s "
            f"FT {w['ft_samples_per_s']:,.0f}, DAE {w['dae_samples_per_s']:,.0f}, CL {w['cl_samples_per_s']:,.0f}",
        )
    return "\n".join(lines)


def _fmt(d: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s.lower()).strip("_")


if __name__ == "__main__":
    raise SystemExit(main())
