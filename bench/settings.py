"""Settings the benchmarks use on a GPU: larger batches with re-tuned learning rates.

Large data (SST-2, IMDB): batch 512 with learning rates chosen on SST-2 validation accuracy
(bench/results/tune_sst2_ft_*.md). Small data (< 30k training rows): batch 128, so that an
epoch still has enough steps; these rates were NOT tuned (no GPU time left for it) and are a
starting point. On the CPU the engine's own defaults are used.
"""
LARGE_DATA = {
    "dae.batch_size": 512, "dae.lr": 1e-4,
    "cl.batch_size": 512, "cl.lr": 1e-4,
    "ft.batch_size": 512, "ft.lr": 2e-4, "ft.epochs": 4, "ft.head_lr": 2e-3,
}
SMALL_DATA = {
    "dae.batch_size": 128, "dae.lr": 5e-5,
    "cl.batch_size": 128, "cl.lr": 5e-5,
    "ft.batch_size": 128, "ft.lr": 1e-4, "ft.epochs": 4, "ft.head_lr": 1e-3,
}
# Per dataset: long texts need a longer max length (and smaller batches to fit).
DATASET_SETTINGS = {
    "imdb": {"max_length": 512, "dae.batch_size": 128, "cl.batch_size": 64, "ft.batch_size": 64, "ft.lr": 5e-5},
}


def settings_for(dataset_name: str, cuda: bool, train_rows: int = 10**9) -> dict:
    if not cuda:
        return {}
    base = LARGE_DATA if train_rows >= 30_000 else SMALL_DATA
    return {**base, **DATASET_SETTINGS.get(dataset_name.split("_lt")[0], {})}
