"""Settings the benchmarks use on a GPU: larger batches with re-tuned learning rates.

Large data (SST-2, IMDB): batch 512 with learning rates chosen on SST-2 validation accuracy
(bench/results/tune_sst2_ft_*.md). Small data (< 30k training rows): batch 128, so that an
epoch still has enough steps; these rates were NOT tuned (no GPU time left for it) and are a
starting point, except where bench/results/tune/ chose other values on validation (the
jobs pass those with --settings-json). Tiny data (< 2k rows): small batches, untuned.
On the CPU the engine's own defaults are used.
"""
LARGE_DATA = {
    # DAE steps are bound by the CPU issuing ~1000 kernels (bench/profile_dae.py: 103 ms/step at
    # batch 512 and 108 ms at 1024 on the same host), so a bigger batch is nearly free per step.
    "dae.batch_size": 2048, "dae.lr": 1e-4,
    "cl.batch_size": 512, "cl.lr": 1e-4,
    "ft.batch_size": 512, "ft.lr": 2e-4, "ft.epochs": 4, "ft.head_lr": 2e-3,
}
SMALL_DATA = {
    "dae.batch_size": 128, "dae.lr": 5e-5,
    "cl.batch_size": 128, "cl.lr": 5e-5,
    "ft.batch_size": 128, "ft.lr": 1e-4, "ft.epochs": 4, "ft.head_lr": 1e-3,
}
# Tiny data (< 2,000 training rows, e.g. snips_builtin_intents: ~210 after carving): batch 128
# would give 2 steps an epoch, so small batches and more epochs (early stopping on validation).
TINY_DATA = {
    "dae.batch_size": 16, "dae.lr": 3e-5,
    "cl.batch_size": 16, "cl.lr": 2e-5,
    "ft.batch_size": 16, "ft.lr": 5e-5, "ft.epochs": 20, "ft.patience": 5, "ft.head_lr": 1e-3,
}
# Per dataset: long texts need a longer max length (and smaller batches to fit).
DATASET_SETTINGS = {
    "imdb": {"max_length": 512, "dae.batch_size": 128, "cl.batch_size": 64, "ft.batch_size": 64, "ft.lr": 5e-5},
}


def settings_for(dataset_name: str, cuda: bool, train_rows: int = 10**9) -> dict:
    if not cuda:
        return {}
    base = LARGE_DATA if train_rows >= 30_000 else SMALL_DATA if train_rows >= 2_000 else TINY_DATA
    return {**base, **DATASET_SETTINGS.get(dataset_name.split("_lt")[0], {})}
