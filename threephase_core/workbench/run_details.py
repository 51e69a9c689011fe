"""One run's details for the Results page, read from its folder: per-class scores, the phase
table, the confusion matrix, loss curves rebuilt from the event log, its config as rows and
its trained model as a zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from threephase_core.runstore import Run
from threephase_core.workbench.json_values import as_dict, as_number
from threephase_core.workbench.runs import PHASE_TITLES


def per_class_frame(metrics: dict, split: str = "test") -> pd.DataFrame:
    """Per-class precision/recall/F1/support of `split`; entries of a damaged metrics file
    that are not per-class dicts are left out."""
    per = as_dict(as_dict(as_dict(metrics).get(split)).get("per_class"))
    rows = [
        {
            "class": str(name),
            "precision": as_number(v.get("precision")),
            "recall": as_number(v.get("recall")),
            "f1": as_number(v.get("f1-score")),
            "support": int(as_number(v.get("support", 0)) or 0),
        }
        for name, v in per.items()
        if isinstance(v, dict)
    ]
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1", "support"])


def before_ft_acc(metrics: dict) -> float | None:
    """Validation accuracy of the head on the encoder before phase 3 (None when missing or not a number)."""
    return as_number(as_dict(as_dict(metrics).get("before_ft")).get("val_acc"))


def lora_summary(metrics: dict) -> dict | None:
    """{trainable_params, total_params, trainable_share} of a LoRA run, or None when the run has
    none or its entry is damaged (a missing or non-numeric count)."""
    lora = as_dict(as_dict(as_dict(metrics).get("ft")).get("lora"))
    out = {k: as_number(lora.get(k)) for k in ("trainable_params", "total_params", "trainable_share")}
    if not lora or any(v is None for v in out.values()):
        return None
    return {
        "trainable_params": int(out["trainable_params"]),
        "total_params": int(out["total_params"]),
        "trainable_share": out["trainable_share"],
    }


def ft_evals(metrics: dict) -> list[dict]:
    """Phase 3's validation evaluations [{step, val_acc}] for the loss chart; entries that are not
    objects with numeric step and val_acc (a damaged metrics file) are left out."""
    evals = as_dict(as_dict(metrics).get("ft")).get("evals")
    out = []
    for e in evals if isinstance(evals, list) else []:
        if isinstance(e, dict) and as_number(e.get("step")) is not None and as_number(e.get("val_acc")) is not None:
            out.append({**e, "step": as_number(e["step"]), "val_acc": as_number(e["val_acc"])})
    return out


def phase_table(metrics: dict) -> pd.DataFrame:
    """One row per phase of metrics.json: wall time, silhouette, kNN accuracy, pairs (None where
    missing or not a number)."""
    rows = []
    for p, v in as_dict(as_dict(metrics).get("phases")).items():
        v = as_dict(v)
        rows.append(
            {
                "phase": PHASE_TITLES.get(p, p),
                "wall time (s)": as_number(v.get("wall_s")),
                "silhouette": as_number(v.get("silhouette")),
                "kNN acc": as_number(v.get("knn_acc")),
                "pairs": as_number(as_dict(v.get("data")).get("pairs")),
            }
        )
    return pd.DataFrame(rows, columns=["phase", "wall time (s)", "silhouette", "kNN acc", "pairs"])


def phase2_counts(metrics: dict) -> pd.DataFrame | None:
    """Phase 2's rows per class before and after the imbalance correction, or None when the run
    has none (or they are damaged)."""
    for v in as_dict(as_dict(metrics).get("phases")).values():
        data = as_dict(as_dict(v).get("data"))
        before, after = data.get("counts_before"), as_dict(data.get("counts_after"))
        if isinstance(before, dict) and before:
            return pd.DataFrame(
                {
                    "class": [str(c) for c in before],
                    "before": [as_number(n) for n in before.values()],
                    "after correction": [as_number(after.get(c)) for c in before],
                }
            )
    return None


def phase_quality(metrics: dict, phases: list[str]) -> dict[str, dict]:
    """phase -> {silhouette, knn_acc} from metrics.json (NaN where missing or not a number)."""
    ph = as_dict(as_dict(metrics).get("phases"))

    def score(p: str, key: str) -> float:
        value = as_number(as_dict(ph.get(p)).get(key))
        return float("nan") if value is None else value

    return {p: {"silhouette": score(p, "silhouette"), "knn_acc": score(p, "knn_acc")} for p in phases}


def label_names(run: Run, labels: np.ndarray | None = None) -> list[str]:
    """The run's class names (data.json) as strings; when they are missing or damaged (not
    plain values), '0', '1', ... up to the largest label in `labels`."""
    names = run.data_summary.get("label_names") or []
    if names and all(isinstance(n, (str, int, float)) and not isinstance(n, bool) for n in names):
        names = [str(n) for n in names]
        if len(set(names)) == len(names) and (labels is None or not len(labels) or int(np.max(labels)) < len(names)):
            return names
    n = int(np.max(labels)) + 1 if labels is not None and len(labels) else 0
    return [str(i) for i in range(n)]


def confusion(metrics: dict, split: str = "test") -> tuple[np.ndarray, list[str]] | None:
    """(square count matrix, class names) of `split`, or None when there is none or it is not
    a square numeric matrix (a damaged metrics file)."""
    m = as_dict(as_dict(metrics).get(split))
    if "confusion_matrix" not in m:
        return None
    try:
        matrix = np.asarray(m["confusion_matrix"], dtype=float)
    except (TypeError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        return None
    names = [str(n) for n in as_dict(m.get("per_class"))]
    if len(names) != len(matrix):
        names = [str(i) for i in range(len(matrix))]
    return matrix, names


def losses_from_events(events: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """{phase: [(step, loss), ...]} rebuilt from a run's event log (past runs). Events that are
    not dicts or whose step/loss are not numbers (a damaged log) are skipped."""
    out: dict[str, list[tuple[int, float]]] = {}
    for e in events:
        if not isinstance(e, dict) or e.get("type") != "loss" or e.get("loss") is None:
            continue
        try:
            point = (int(e.get("step", 0)), float(e["loss"]))
        except (TypeError, ValueError, OverflowError):
            continue
        out.setdefault(str(e.get("phase", "?")), []).append(point)
    return out


def loss_frame(losses: dict[str, list]) -> pd.DataFrame:
    rows = [(phase, int(step), float(loss)) for phase, pts in losses.items() for step, loss in pts]
    return pd.DataFrame(rows, columns=["phase", "step", "loss"])


def config_rows(config: dict) -> pd.DataFrame:
    """A run's config as (setting, value) rows, sections flattened to 'ft.lr'."""
    rows = []
    for key, value in config.items():
        if isinstance(value, dict):
            rows += [(f"{key}.{k}", v) for k, v in value.items()]
        else:
            rows.append((key, value))
    return pd.DataFrame(
        [(k, " → ".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in rows],
        columns=["setting", "value"],
    )


def model_zip(run: Run) -> bytes:
    """The run's trained model folder (encoder + head) as zip bytes."""
    if not run.has_model():
        raise FileNotFoundError(f"run {run.id} has no saved model")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for f in sorted(run.model_dir.rglob("*")):
            if f.is_file():
                zf.write(f, Path(run.id) / "model" / f.relative_to(run.model_dir))
        zf.write(run.path / "config.json", Path(run.id) / "config.json")
    return buf.getvalue()
