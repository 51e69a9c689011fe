"""Settings the benchmarks use on a GPU: the engine's GPU presets (threephase_core/gpu_presets.py,
also behind the Train page's "GPU speed settings" button) plus per-dataset changes.

Where bench/results/tune/ chose other values on validation, the jobs pass those with
--settings-json. On the CPU the engine's own defaults are used.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threephase_core.gpu_presets import LARGE_DATA, SMALL_DATA, TINY_DATA, gpu_settings, recipe_gpu_settings  # noqa: E402,F401

# Per dataset: long texts need a longer max length (and smaller batches to fit).
DATASET_SETTINGS = {
    "imdb": {"max_length": 512, "dae.batch_size": 128, "cl.batch_size": 64, "ft.batch_size": 64, "ft.lr": 5e-5},
}


def settings_for(dataset_name: str, cuda: bool, train_rows: int = 10**9, recipe: str | None = None) -> dict:
    """The GPU settings for this dataset, or none (the engine defaults) when `cuda` is false.

    With `recipe`, only settings of its phases that the recipe does not fix itself
    (`recipe_gpu_settings`, as the CLI's --gpu-preset): a recipe's own values, e.g. the study
    baseline's 10 epochs at batch 16 or LoRA's lr 5e-4, are what makes it that recipe. (Before
    session 7 the preset overrode them; rows recorded then carry the settings they ran with.)
    """
    if not cuda:
        return {}
    per_dataset = DATASET_SETTINGS.get(dataset_name.split("_lt")[0], {})
    if recipe is None:
        return {**gpu_settings(train_rows), **per_dataset}
    from threephase_core.recipes import get_recipe

    fixed = set(get_recipe(recipe).overrides)
    return {**recipe_gpu_settings(recipe, train_rows), **{k: v for k, v in per_dataset.items() if k not in fixed}}
