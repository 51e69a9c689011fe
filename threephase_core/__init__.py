"""threephase_core: the engine of the threephase workbench.

Fine-tunes transformer text classifiers with the 3-Phase method (DAE -> CL -> FT,
López-Ávila & Suárez-Paniagua, EMNLP 2023) and records what each phase does to the
embedding space. Knows nothing of Streamlit.

Public entry points:
    RunConfig, load_dataset, run_recipe, JobManager, load_classifier, RECIPES
Imports are lazy so that `import threephase_core` stays instant (torch loads on first use);
the import sets how idle OpenMP threads wait, before torch loads (threads.py).
"""

from __future__ import annotations

from threephase_core.threads import prepare_process

prepare_process()  # before torch loads its OpenMP runtime: idle threads sleep (threads.py)

__version__ = "0.1.0"

_LAZY = {
    "RunConfig": "threephase_core.config",
    "load_dataset": "threephase_core.data",
    "DataError": "threephase_core.data",
    "RECIPES": "threephase_core.recipes",
    "run_recipe": "threephase_core.runner",
    "JobManager": "threephase_core.jobs",
    "load_classifier": "threephase_core.classifier",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'threephase_core' has no attribute {name!r}")
