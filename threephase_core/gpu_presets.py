"""Per-phase settings for fast training on a GPU: larger batches, re-tuned learning rates.

On a GPU, MiniLM-sized steps are bound by the CPU issuing kernels, not by arithmetic, so a step
costs about the same at batch 32 as at 512 (bench/profile_dae.py, bench/speed.py). Throughput
therefore comes from bigger batches, with learning rates re-chosen for them on validation data.
The benchmarks (`bench/settings.py`) and the Train page's "GPU speed settings" button use these.

- LARGE_DATA (>= 30k training rows): rates chosen on SST-2 validation
  (bench/results/tune_sst2_ft_*.md); DAE at batch 2048 (its steps are CPU-bound:
  103 ms at batch 512, 108 ms at 1024 on one host) needs ~52 GiB of GPU memory on SST-2.
- SMALL_DATA (2k-30k rows): batch 128 so an epoch keeps enough steps; bench/results/tune/
  found CL lr 1e-4 better on validation for SNIPS2, SST-5 and MASSIVE, FT lr 1e-4 (2e-4 on MASSIVE).
- TINY_DATA (< 2k rows): small batches, more epochs, early stopping; untuned.
"""
from __future__ import annotations

LARGE_DATA = {
    "dae.batch_size": 2048, "dae.lr": 1e-4,
    "cl.batch_size": 512, "cl.lr": 1e-4,
    "ft.batch_size": 512, "ft.lr": 2e-4, "ft.epochs": 4, "ft.head_lr": 2e-3,
}
SMALL_DATA = {
    "dae.batch_size": 128, "dae.lr": 5e-5,
    "cl.batch_size": 128, "cl.lr": 1e-4,  # the validation winner on SNIPS2, SST-5 and MASSIVE (was 5e-5)
    "ft.batch_size": 128, "ft.lr": 1e-4, "ft.epochs": 4, "ft.head_lr": 1e-3,
}
TINY_DATA = {
    "dae.batch_size": 16, "dae.lr": 3e-5,
    "cl.batch_size": 16, "cl.lr": 2e-5,
    "ft.batch_size": 16, "ft.lr": 5e-5, "ft.epochs": 20, "ft.patience": 5, "ft.head_lr": 1e-3,
}


def gpu_settings(train_rows: int, gpu_memory_gib: float | None = None) -> dict:
    """The preset for a training set of `train_rows` rows; with `gpu_memory_gib` given, batch
    sizes are capped to what fits (the measured peaks: ~52 GiB for DAE at 2048 on SST-2,
    ~15 GiB for the whole recipe at 512)."""
    base = LARGE_DATA if train_rows >= 30_000 else SMALL_DATA if train_rows >= 2_000 else TINY_DATA
    out = dict(base)
    if gpu_memory_gib is not None:
        cap = 2048 if gpu_memory_gib >= 64 else 512 if gpu_memory_gib >= 20 else 128
        for key in ("dae.batch_size", "cl.batch_size", "ft.batch_size"):
            out[key] = min(out[key], cap)
    return out


def gpu_memory_gib() -> float | None:
    """Total memory of the first CUDA device, or None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 2**30
