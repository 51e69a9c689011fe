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
every helper; new code may import from the module that owns it.
"""

from __future__ import annotations

from threephase_core.workbench.comparison import (
    comparison_groups,
    mixed_settings,
    recipe_comparison,
    versus_baseline,
    versus_text,
)
from threephase_core.workbench.datasets import (
    UPLOAD_DIR,
    columns_problem,
    dataset_label,
    dataset_source,
    guess_columns,
    path_exists,
    peek_table,
    prune_uploads,
    sample_texts,
    save_upload,
    source_stamp,
    table_file,
)
from threephase_core.workbench.job_managers import live_status, manager_for, managers, open_manager, shutdown_managers
from threephase_core.workbench.models import check_model, model_choice_problem, model_label
from threephase_core.workbench.previews import (
    PREVIEW_WORDS,
    class_table,
    imbalance_curve,
    noise_preview,
    pair_stats,
    phase2_problem,
    preset_for,
    ratio_problem,
    stopword_preview,
    threshold_size,
)
from threephase_core.workbench.projections import (
    EMBEDDING_ERRORS,
    PROJECTION_VERSION,
    cached_projection,
    compute_projection,
    embedding_notes,
    load_run_embeddings,
    projection,
    projection_failure,
    projection_file,
    ready_projection,
    request_projection,
    run_points,
)
from threephase_core.workbench.run_details import (
    before_ft_acc,
    config_rows,
    confusion,
    ft_evals,
    label_names,
    lora_summary,
    loss_frame,
    losses_from_events,
    model_zip,
    per_class_frame,
    phase2_counts,
    phase_quality,
    phase_table,
)
from threephase_core.workbench.runs import (
    ACTIVE_STATES,
    ACTIVE_WINDOW_S,
    PHASE_TITLES,
    RUN_COLUMNS,
    cleanup_candidates,
    delete_problem,
    delete_runs,
    fmt_seconds,
    phase_sections,
    run_row,
    run_state,
    runs_dir_problem,
    runs_frame,
    trained_elsewhere,
)
from threephase_core.workbench.settings import (
    SETTINGS_FILE,
    changed_overrides,
    clean_settings,
    load_settings,
    parse_seeds,
    recipe_defaults,
    recipe_fixed_fields,
    save_settings,
    setting_fits,
    setting_hint,
    train_form_values,
)

__all__ = [
    "ACTIVE_STATES",
    "ACTIVE_WINDOW_S",
    "EMBEDDING_ERRORS",
    "PHASE_TITLES",
    "PREVIEW_WORDS",
    "PROJECTION_VERSION",
    "RUN_COLUMNS",
    "SETTINGS_FILE",
    "UPLOAD_DIR",
    "before_ft_acc",
    "cached_projection",
    "changed_overrides",
    "check_model",
    "class_table",
    "clean_settings",
    "cleanup_candidates",
    "columns_problem",
    "comparison_groups",
    "compute_projection",
    "config_rows",
    "confusion",
    "dataset_label",
    "dataset_source",
    "delete_problem",
    "delete_runs",
    "embedding_notes",
    "fmt_seconds",
    "ft_evals",
    "guess_columns",
    "imbalance_curve",
    "label_names",
    "live_status",
    "load_run_embeddings",
    "load_settings",
    "lora_summary",
    "loss_frame",
    "losses_from_events",
    "manager_for",
    "managers",
    "mixed_settings",
    "model_choice_problem",
    "model_label",
    "model_zip",
    "noise_preview",
    "open_manager",
    "pair_stats",
    "parse_seeds",
    "path_exists",
    "peek_table",
    "per_class_frame",
    "phase2_counts",
    "phase2_problem",
    "phase_quality",
    "phase_sections",
    "phase_table",
    "preset_for",
    "projection",
    "projection_failure",
    "projection_file",
    "prune_uploads",
    "ratio_problem",
    "ready_projection",
    "recipe_comparison",
    "recipe_defaults",
    "recipe_fixed_fields",
    "request_projection",
    "run_points",
    "run_row",
    "run_state",
    "runs_dir_problem",
    "runs_frame",
    "sample_texts",
    "save_settings",
    "save_upload",
    "setting_fits",
    "setting_hint",
    "shutdown_managers",
    "source_stamp",
    "stopword_preview",
    "table_file",
    "threshold_size",
    "train_form_values",
    "trained_elsewhere",
    "versus_baseline",
    "versus_text",
]
