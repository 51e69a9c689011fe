"""Settings the benchmarks use on a GPU: the engine's GPU presets (threephase_core/gpu_presets.py,
also behind the Train page's "GPU speed settings" button) plus per-dataset changes.

Where bench/results/tune/ chose other values on validation, the jobs pass those with
--settings-json. On the CPU the engine's own defaults are used.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threephase_core.gpu_presets import LARGE_DATA, SMALL_DATA, TINY_DATA, gpu_settings  # noqa: E402,F401

# Per dataset: long texts need a longer max length (and smaller batches to fit).
DATASET_SETTINGS = {
    "imdb": {"max_length": 512, "dae.batch_size": 128, "cl.batch_size": 64, "ft.batch_size": 64, "ft.lr": 5e-5},
}


def settings_for(dataset_name: str, cuda: bool, train_rows: int = 10**9) -> dict:
    """The GPU settings for this dataset, or none (the engine defaults) when `cuda` is false."""
    if not cuda:
        return {}
    return {**gpu_settings(train_rows), **DATASET_SETTINGS.get(dataset_name.split("_lt")[0], {})}
