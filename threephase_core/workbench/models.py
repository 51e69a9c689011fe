"""Model choices: a short label, and a quick check (loads nothing) before a job is queued, so a
typo in a folder or hub id fails on the page instead of in the worker."""

from __future__ import annotations

import os
import re
from pathlib import Path

from threephase_core.workbench.datasets import path_exists


def model_label(spec: str) -> str:
    spec = str(spec or "minilm")
    if spec in ("minilm", "tiny"):
        return {"minilm": "MiniLM-L6", "tiny": "tiny BERT"}[spec]
    return Path(spec).name if path_exists(Path(spec).expanduser()) else spec


def check_model(spec: str, kind: str | None = None) -> str | None:
    """A clear message when a model choice cannot work, else None. Quick: loads nothing.

    `kind` ('path' or 'hub') says how the user meant `spec`; by default it is guessed."""
    spec = (spec or "").strip()
    if spec in ("", "minilm", "default"):
        try:
            from threephase_core.encoder import packaged_minilm_path

            packaged_minilm_path()
        except Exception as exc:  # ModelError: package missing
            return str(exc)
        return None
    if spec == "tiny":
        return None
    path = Path(spec).expanduser()
    hub_like = re.fullmatch(r"[\w.-]+(/[\w.-]+)?", spec) is not None
    if kind == "path" or (kind != "hub" and (path_exists(path) or spec.startswith((".", "/", "~")) or not hub_like)):
        from threephase_core.encoder import model_folder_problem

        return model_folder_problem(spec)
    if not hub_like:
        return f"{spec!r} is not a Hugging Face hub id (owner/name)"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(spec, "config.json")
        except Exception:
            cached = None
        if not isinstance(cached, str):
            return (
                f"hub model {spec!r} is not in the local cache and the hub is offline (HF_HUB_OFFLINE=1). "
                "Use the packaged MiniLM, a local model folder, or go online."
            )
    return None


def model_choice_problem(kind: str, spec: str) -> str | None:
    """A clear message when the model chosen on the Train page (`kind`: minilm, tiny, path or
    hub; `spec`: the model, see `pages/_parts/ui.model_spec`) cannot work, else None. The Train page and
    the Home page's demo button use it alike: an empty folder or hub id field is refused, never
    quietly replaced by the default model."""
    spec = (spec or "").strip()
    if kind in ("path", "hub") and not spec:
        return "give a model folder" if kind == "path" else "give a Hugging Face hub id (owner/name)"
    return check_model(spec, kind if kind in ("path", "hub") else None)
