"""What the benchmarks share: where the data sets are, and the settings they train with on a GPU.

Data: a data set is named by its folder under the data root (`--data-root`, else
`$THREEPHASE_DATA_ROOT`, else `./data`), or given as a path, or `demo` (the bundled demo data).

Settings: on a GPU, the engine's GPU presets (threephase_core/gpu_presets.py, also behind
`threephase run --gpu-preset` and the Train page's "GPU speed settings" button) plus per-dataset
changes. Where bench/results/tune/ chose other values on validation, the job files pass those with
--settings-json. On the CPU the engine's own defaults are used, unless `--preset gpu` asks for the
GPU settings (to reproduce a GPU row's settings on the CPU).
"""

from __future__ import annotations

from pathlib import Path

from threephase_core.data_root import ENV_VAR, data_root, resolve_dataset
from threephase_core.gpu_presets import gpu_settings, recipe_gpu_settings

DATA_ROOT_HELP = f"folder of the data sets (default ${ENV_VAR}, else ./data)"

# Per dataset: long texts need a longer max length (and smaller batches to fit).
DATASET_SETTINGS = {
    "imdb": {"max_length": 512, "dae.batch_size": 128, "cl.batch_size": 64, "ft.batch_size": 64, "ft.lr": 5e-5},
}


def default_data_root() -> str:
    """The data root when no --data-root is given: ``$THREEPHASE_DATA_ROOT``, else ``./data``."""
    return str(data_root())


def load_benchmark_dataset(name: str, root: str | None, **kwargs):
    """`load_dataset` for a benchmark's data set: `demo`, a path, or a folder name under the data
    root (`threephase_core.data_root`). A name with no such folder, or a data set that cannot be
    read, ends the script with one line that says where it was looked for, not a traceback."""
    from threephase_core.data import DataError, load_dataset

    source = resolve_dataset(name, root)
    if source == name and name != "demo" and "/" not in name and not Path(name).exists():
        raise SystemExit(
            f"error: no data set folder {name!r} under the data root {data_root(root)} "
            f"(give --data-root DIR or set ${ENV_VAR})"
        )
    try:
        return load_dataset(source, **kwargs)
    except DataError as e:
        raise SystemExit(f"error: {e}") from None


def settings_for(dataset_name: str, cuda: bool, train_rows: int = 10**9, recipe: str | None = None) -> dict:
    """The GPU settings for this dataset, or none (the engine defaults) when `cuda` is false.

    With `recipe`, only settings of its phases that the recipe does not fix itself
    (`recipe_gpu_settings`, as the CLI's --gpu-preset): a recipe's own values, e.g. the study
    baseline's 10 epochs at batch 16 or LoRA's lr 5e-4, are what makes it that recipe. (Rows
    recorded before commit 2e3a5dd ran with the preset over them; they carry the settings they ran with.)
    """
    if not cuda:
        return {}
    per_dataset = DATASET_SETTINGS.get(dataset_name.split("_lt")[0], {})
    if recipe is None:
        return {**gpu_settings(train_rows), **per_dataset}
    from threephase_core.recipes import get_recipe

    fixed = set(get_recipe(recipe).overrides)
    return {**recipe_gpu_settings(recipe, train_rows), **{k: v for k, v in per_dataset.items() if k not in fixed}}
