"""What the workbench pages need from the engine, with no Streamlit in it.

The pages (``app.py``, ``pages/``) are views: everything they compute lives here or in the
engine, so it can be tested without a browser. One module per concern:

* `datasets`: uploads saved where the worker thread can read them, column peeking/guessing;
* `previews`: the imbalance correction's f(x) curve, repeat factors and pair counts, noise previews;
* `models`: a quick check of a model choice before a job is queued (so a typo fails at once);
* `settings`: saved settings, what a widget can show, a run's config to and from the form values;
* `runs`: one table row per run folder, run states, deleting and tidying up;
* `comparison`: the recipe comparison (mean ± std over seeds, paired against FT);
* `run_details`: one run's per-class scores, phases, confusion, losses, config and model zip;
* `projections`: 2-D maps of every phase's embeddings, cached in the run folder, UMAP in the background;
* `job_managers`: a registry of job managers, so tests and shutdown hooks can stop every worker.

Deliberately not here: training, metrics and projection maths (the engine's), plotting and
widget keys (the pages'). The names below are re-exported so that `workbench.x` works for
every helper; new code may import from the module that owns it. They are imported on first use
(`__getattr__`), so that drawing a page that needs a few of them does not load scikit-learn or
torch through the others.
"""

from __future__ import annotations

import importlib

_OWNER: dict[str, str] = {
    "comparison_groups": "comparison",
    "mixed_settings": "comparison",
    "recipe_comparison": "comparison",
    "versus_baseline": "comparison",
    "versus_text": "comparison",
    "UPLOAD_DIR": "datasets",
    "columns_problem": "datasets",
    "dataset_label": "datasets",
    "dataset_source": "datasets",
    "guess_columns": "datasets",
    "path_exists": "datasets",
    "peek_table": "datasets",
    "prune_uploads": "datasets",
    "sample_texts": "datasets",
    "save_upload": "datasets",
    "source_stamp": "datasets",
    "table_file": "datasets",
    "live_status": "job_managers",
    "manager_for": "job_managers",
    "managers": "job_managers",
    "open_manager": "job_managers",
    "shutdown_managers": "job_managers",
    "check_model": "models",
    "model_choice_problem": "models",
    "model_label": "models",
    "PREVIEW_WORDS": "previews",
    "class_table": "previews",
    "imbalance_curve": "previews",
    "noise_preview": "previews",
    "pair_stats": "previews",
    "phase2_problem": "previews",
    "preset_for": "previews",
    "ratio_problem": "previews",
    "stopword_preview": "previews",
    "threshold_size": "previews",
    "EMBEDDING_ERRORS": "projections",
    "PROJECTION_VERSION": "projections",
    "cached_projection": "projections",
    "compute_projection": "projections",
    "embedding_notes": "projections",
    "load_run_embeddings": "projections",
    "projection": "projections",
    "projection_failure": "projections",
    "projection_file": "projections",
    "ready_projection": "projections",
    "request_projection": "projections",
    "run_points": "projections",
    "before_ft_acc": "run_details",
    "config_rows": "run_details",
    "confusion": "run_details",
    "ft_evals": "run_details",
    "label_names": "run_details",
    "lora_summary": "run_details",
    "loss_frame": "run_details",
    "losses_from_events": "run_details",
    "model_zip": "run_details",
    "per_class_frame": "run_details",
    "phase2_counts": "run_details",
    "phase_quality": "run_details",
    "phase_table": "run_details",
    "ACTIVE_STATES": "runs",
    "ACTIVE_WINDOW_S": "runs",
    "PHASE_TITLES": "runs",
    "RUN_COLUMNS": "runs",
    "cleanup_candidates": "runs",
    "delete_problem": "runs",
    "delete_runs": "runs",
    "fmt_seconds": "runs",
    "phase_sections": "runs",
    "run_row": "runs",
    "run_state": "runs",
    "runs_dir_problem": "runs",
    "runs_frame": "runs",
    "trained_elsewhere": "runs",
    "SETTINGS_FILE": "settings",
    "changed_overrides": "settings",
    "clean_settings": "settings",
    "load_settings": "settings",
    "parse_seeds": "settings",
    "recipe_defaults": "settings",
    "recipe_fixed_fields": "settings",
    "save_settings": "settings",
    "setting_fits": "settings",
    "setting_hint": "settings",
    "train_form_values": "settings",
}


def __getattr__(name: str):
    if name in _OWNER:
        value = getattr(importlib.import_module(f"threephase_core.workbench.{_OWNER[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'threephase_core.workbench' has no attribute {name!r}")


__all__ = sorted(_OWNER)
