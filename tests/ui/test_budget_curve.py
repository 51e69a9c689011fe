"""The Results page's accuracy-against-label-budget curve: runs grouped by budget and recipe,
mean ± sd over seeds, drawn from the runs folder."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ui.helpers import figures, ok, texts, values
from threephase_core.config import save_config
from threephase_core.recipes import build_config
from threephase_core.runstore import RunStore
from threephase_core.workbench import runs_frame
from threephase_core.workbench.budget_curve import budget_curve, curve_groups

# (recipe, labels per class (0 = all), seed) -> test accuracy; 7 classes, 354 training texts.
SCORES = {
    ("ft", 8, 0): 0.40,
    ("ft", 8, 1): 0.50,
    ("ft", 0, 0): 0.90,
    ("ft", 0, 1): 0.92,
    ("dae_ft", 8, 0): 0.55,
    ("dae_ft", 8, 1): 0.61,
    ("dae_ft", 0, 0): 0.91,
}


def _runs(root, dataset: str = "demo", scores=SCORES, max_steps: int = 0):
    store = RunStore(root)
    for (recipe, per_class, seed), acc in scores.items():
        cfg = build_config(
            recipe,
            {"dataset": dataset, "labels_per_class": per_class, "seed": seed, "model": "tiny", "max_steps": max_steps},
        )
        run = store.create(recipe, dataset, seed)
        save_config(cfg, run.path / "config.json")
        labelled = 7 * per_class if per_class else 354
        run.write(
            "metrics.json",
            {
                "validation": {"accuracy": acc - 0.01},
                "test": {"accuracy": acc, "f1_macro": acc},
                "texts": {"labelled": labelled, "unlabelled": 354 - labelled},
            },
        )
        run.update_status(state="done")
    return store


def test_curve_groups_budgets_and_recipes_over_seeds(tmp_path):
    store = _runs(tmp_path / "runs")
    _runs(tmp_path / "runs", dataset="other", scores={("ft", 0, 0): 0.5})  # one budget only: no curve
    df = runs_frame(store)
    assert set(df["budget"]) == {"8 / class", "all"}
    (label, group), *rest = curve_groups(df)
    assert label == "demo · tiny BERT" and not rest and len(group) == len(SCORES)
    curve = budget_curve(group).set_index(["recipe", "budget"])
    assert curve.loc[("ft", "8 / class"), "labelled"] == 56 and curve.loc[("ft", "all"), "labelled"] == 354
    assert curve.loc[("ft", "8 / class"), "mean"] == pytest.approx(0.45)
    assert curve.loc[("ft", "8 / class"), "std"] == pytest.approx(np.std([0.40, 0.50], ddof=1))
    assert curve.loc[("dae_ft", "all"), ["seeds", "std"]].tolist() == [1, 0.0]
    assert budget_curve(group, "val").set_index(["recipe", "budget"]).loc[("ft", "all"), "mean"] == pytest.approx(0.90)


def test_full_runs_hide_smoke_runs_in_the_curve(tmp_path):
    store = _runs(tmp_path / "runs")
    _runs(tmp_path / "runs", scores={("ft", 8, 2): 0.05}, max_steps=2)
    curve = budget_curve(curve_groups(runs_frame(store))[0][1]).set_index(["recipe", "budget"])
    assert curve.loc[("ft", "8 / class"), "seeds"] == 2  # the step-capped seed 2 is left out


def test_results_page_draws_the_budget_curve(tmp_runs, open_app):
    _runs(tmp_runs)
    at = open_app("results")
    ok(at)
    assert "Accuracy against label budget" in texts(at)
    (fig,) = [f for f in figures(at) if f["layout"].get("xaxis", {}).get("type") == "log"]
    lines = {trace["name"]: trace for trace in fig["data"]}
    assert set(lines) == {"ft", "dae_ft"}
    assert values(lines["ft"]["x"]) == [56, 354]
    assert values(lines["ft"]["y"]) == pytest.approx([45.0, 91.0])
    assert values(lines["ft"]["error_y"]["array"]) == pytest.approx(
        [np.std([40, 50], ddof=1), np.std([90, 92], ddof=1)]
    )
    # The recipe comparison keeps budgets apart: its groups name the budget.
    options = next(s for s in at.selectbox if s.key == "res:group").options
    assert "demo · tiny BERT · 8 / class labelled" in options and "demo · tiny BERT" in options
