"""Where the DAE step's time goes: data preparation, step time per variant, host syncs, top ops.

    python bench/profile_dae.py --dataset sst2 --model minilm --steps 30

Prints (and writes to --out as profile_dae_<device>.txt):
- the per-epoch data preparation time (word-deletion noise, tokenising the noisy copies);
- ms per training step and samples/s for each --variants entry (`stock` = sentence-transformers'
  DenoisingAutoEncoderLoss.forward with transformers' own SDPA masks, `nosync` = the same
  forward with our no-sync masks (attention.py), `fast` = ours: no-sync masks and the
  vocabulary projection only at real target tokens), each at the batch sizes in --batches;
- every host synchronisation one step makes (torch.cuda sync debug mode, CUDA only);
- the profiler's top operators by self CPU and by device time.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from pathlib import Path

import torch
from settings import DATA_ROOT_HELP, load_benchmark_dataset

from threephase_core.cli import quiet_libraries
from threephase_core.config import DAEConfig
from threephase_core.encoder import device_label, load_encoder, pick_device
from threephase_core.phases.dae import DAEBatches, dae_loss_on, make_dae_loss
from threephase_core.training import PhaseContext, make_optimizer, unique_params

ROOT = Path(__file__).resolve().parents[1]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def make_step(ctx, loss_fn, batches, params, opt):
    """One DAE training step on a batch item: forward, backward, clip, update."""

    def step(item):
        with ctx.autocast():
            loss = dae_loss_on(loss_fn, batches.features(item))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    return step


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="sst2", help="folder name under --data-root, a path, or 'demo'")
    ap.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--variants", default="stock,nosync,fast")
    ap.add_argument("--batches", default="512,2048")
    ap.add_argument("--rows", type=int, default=0, help="cap on train rows (0 = all)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    quiet_libraries()
    device = pick_device("auto")
    cuda = device.startswith("cuda")
    buf = io.StringIO()

    def say(*parts):
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        buf.write(line + "\n")

    ds = load_benchmark_dataset(args.dataset, args.data_root, max_train_rows=args.rows)
    texts = ds.train["text"].tolist()
    say(f"device {device_label() if cuda else 'cpu'}; {ds.name}: {len(texts)} texts")
    ctx = PhaseContext(device=device, seed=0)
    for variant in args.variants.split(","):
        for bs in (int(b) for b in args.batches.split(",")):
            model = load_encoder(args.model, device)  # on CUDA: no-sync attention masks
            nosync = variant != "stock"
            if not nosync and model.transformers_model.config._attn_implementation != "sdpa":
                model.transformers_model.set_attn_implementation("sdpa")  # the stock masks
            cfg = DAEConfig(batch_size=bs, fast_loss=(variant == "fast"))
            t = time.time()
            loss_fn = make_dae_loss(model, cfg, cuda and nosync).to(device)
            t_loss = time.time() - t
            t = time.time()
            batches = DAEBatches(model, texts, cfg, ctx, loss_fn=loss_fn)
            t_targets = time.time() - t
            t = time.time()
            items = batches.epoch(0)
            t_epoch = time.time() - t
            say(
                f"[{variant} b{bs}] build loss {t_loss:.2f}s, tokenise targets {t_targets:.2f}s, "
                f"epoch noise+tokenise {t_epoch:.2f}s"
            )
            params = unique_params(loss_fn)
            opt = make_optimizer([{"params": params, "lr": 1e-4}], device)

            step = make_step(ctx, loss_fn, batches, params, opt)

            n = min(len(items), args.warmup + args.steps)
            for item in items[: args.warmup]:
                step(item)
            sync(device)
            t = time.time()
            samples = 0
            for item in items[args.warmup : n]:
                step(item)
                samples += len(item[1])
            sync(device)
            dt = time.time() - t
            k = max(1, n - args.warmup)
            say(f"[{variant} b{bs}] {1000 * dt / k:.1f} ms/step, {samples / dt:,.0f} samples/s over {k} steps")
            if cuda and bs == int(args.batches.split(",")[0]):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    torch.cuda.set_sync_debug_mode("warn")
                    step(items[n % len(items)])
                    torch.cuda.set_sync_debug_mode(0)
                say(f"[{variant}] host syncs in one step: {len(caught)}")
                for w in caught[:8]:
                    say("   ", str(w.message)[:200], f"({Path(w.filename).name}:{w.lineno})")
                from torch.profiler import ProfilerActivity, profile

                with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                    for item in items[:5]:
                        step(item)
                    sync(device)
                say(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
                say(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=15))
            del loss_fn, model, opt, step
            if cuda:
                torch.cuda.empty_cache()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "".join(c if c.isalnum() else "_" for c in (device_label() if cuda else "cpu").lower())
    (out / f"profile_dae_{tag}.txt").write_text(buf.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
