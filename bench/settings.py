"""Settings the benchmarks use on a GPU: larger batches with re-tuned learning rates.

Chosen on validation accuracy only (bench/tune.py; see bench/results/tune_*.md). On the CPU
the engine's own defaults are used.
"""
GPU_SETTINGS = {
    "dae.batch_size": 1024, "dae.lr": 1e-4,
    "cl.batch_size": 512, "cl.lr": 1e-4,
    "ft.batch_size": 512, "ft.lr": 2e-4, "ft.epochs": 3, "ft.head_lr": 2e-3,
}

# Per dataset: long texts need a longer max length (and smaller batches to fit).
DATASET_SETTINGS = {
    "imdb": {"max_length": 512, "dae.batch_size": 128, "cl.batch_size": 64, "ft.batch_size": 64, "ft.lr": 5e-5},
}


def settings_for(dataset_name: str, cuda: bool) -> dict:
    if not cuda:
        return {}
    return {**GPU_SETTINGS, **DATASET_SETTINGS.get(dataset_name, {})}
