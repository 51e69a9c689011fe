"""Per-phase settings for fast training on a GPU: larger batches, re-tuned learning rates.

On a GPU, MiniLM-sized steps are bound by the CPU issuing kernels, not by arithmetic, so a step
costs about the same at batch 32 as at 512 (bench/profile_dae.py, bench/speed.py). Throughput
therefore comes from bigger batches, with learning rates re-chosen for them on validation data.
The benchmarks (`bench/settings.py`) and the Train page's "GPU speed settings" button use these.

- LARGE_DATA (>= 30k training rows): rates chosen on SST-2 validation
  (bench/results/tune_sst2_ft_*.md); DAE at batch 2048 (its steps are CPU-bound:
  103 ms at batch 512, 108 ms at 1024 on one host) needs ~52 GiB of GPU memory on SST-2.
- SMALL_DATA (2k-30k rows): batch 128 so an epoch keeps enough steps; untuned starting point
  (bench/results/tune/ has per-dataset validation winners: CL lr 1e-4 of {2e-5, 1e-4} on
  SNIPS2, SST-5 and MASSIVE; the benchmark jobs pass those per dataset).
- TINY_DATA (< 2k rows): small batches, more epochs, early stopping; untuned.

All these rates were chosen before the FT head got its input norm (`ft.head_input_norm`,
`classifier.py`), with which the head learns much faster; they have not been re-tuned since.
"""

from __future__ import annotations

LARGE_DATA = {
    "dae.batch_size": 2048,
    "dae.lr": 1e-4,
    "cl.batch_size": 512,
    "cl.lr": 1e-4,
    "ft.batch_size": 512,
    "ft.lr": 2e-4,
    "ft.epochs": 4,
    "ft.head_lr": 2e-3,
}
SMALL_DATA = {
    "dae.batch_size": 128,
    "dae.lr": 5e-5,
    "cl.batch_size": 128,
    "cl.lr": 5e-5,
    "ft.batch_size": 128,
    "ft.lr": 1e-4,
    "ft.epochs": 4,
    "ft.head_lr": 1e-3,
}
TINY_DATA = {
    "dae.batch_size": 16,
    "dae.lr": 3e-5,
    "cl.batch_size": 16,
    "cl.lr": 2e-5,
    "ft.batch_size": 16,
    "ft.lr": 5e-5,
    "ft.epochs": 20,
    "ft.patience": 5,
    "ft.head_lr": 1e-3,
}


# GPU memory per DAE target token: bf16 vocabulary logits, their fp32 copy for the
# cross-entropy and the gradients, ~12 bytes x 30,522 words (MiniLM's vocabulary).
DAE_BYTES_PER_TOKEN = 12 * 30_522


def preset_tier(train_rows: int) -> str:
    """Which preset a training set of `train_rows` rows gets: "large", "small" or "tiny"."""
    return "large" if train_rows >= 30_000 else "small" if train_rows >= 2_000 else "tiny"


def gpu_settings(train_rows: int, gpu_memory_gib: float | None = None, max_length: int = 128) -> dict:
    """The preset for a training set of `train_rows` rows. With `gpu_memory_gib` given, batch
    sizes are capped to what fits (CL and FT at 512, or 128 below 20 GiB) and the DAE by tokens,
    since its vocabulary logits grow with batch x text length (SST-2's ~50-token longest
    batches at 2048 peaked at 52 GiB; 128-token texts at 2048 would need ~95 GiB): at most 80%
    of the memory for `batch x max_length` target tokens, rounded down to a power of two."""
    base = {"large": LARGE_DATA, "small": SMALL_DATA, "tiny": TINY_DATA}[preset_tier(train_rows)]
    out = dict(base)
    if gpu_memory_gib is not None:
        cap = 512 if gpu_memory_gib >= 20 else 128
        for key in ("cl.batch_size", "ft.batch_size"):
            out[key] = min(out[key], cap)
        tokens = 0.8 * gpu_memory_gib * 2**30 / DAE_BYTES_PER_TOKEN
        dae_cap = 1 << max(4, int(tokens / max(max_length, 1)).bit_length() - 1)
        out["dae.batch_size"] = min(out["dae.batch_size"], dae_cap)
    return out


def recipe_gpu_settings(
    recipe: str, train_rows: int, gpu_memory_gib: float | None = None, max_length: int = 128
) -> dict:
    """`gpu_settings` restricted to the settings this recipe's phases have and does not fix
    itself: what the Train page's "GPU speed settings" button and `run --gpu-preset` apply."""
    from threephase_core.recipes import build_config, get_recipe

    phases = set(build_config(recipe).phases)
    if "joint" in phases:
        phases |= {"dae", "cl"}
    fixed = set(get_recipe(recipe).overrides)
    preset = gpu_settings(train_rows, gpu_memory_gib, max_length)
    return {k: v for k, v in preset.items() if k.split(".")[0] in phases and k not in fixed}


def gpu_memory_gib() -> float | None:
    """Total memory of the first CUDA device, or None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 2**30
