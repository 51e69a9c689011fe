"""bench/learning_curve.py end to end on a toy grid (tiny model, a few steps): the label-free
phase sees every training text, the budget a class cannot meet is skipped and listed, SetFit runs
offline beside the recipes, and the table and figure are written."""

from __future__ import annotations

import json

from tests.helpers import bench_script, toy_data_root


def run_script(*args: str):
    return bench_script("learning_curve.py", *args, timeout=900)


def test_learning_curve_toy_grid(tmp_path, tiny_model_path):
    root = toy_data_root(tmp_path / "data")
    out = tmp_path / "out"
    args = ["--datasets", "toy", "--data-root", str(root), "--budgets", "4,30", "--seeds", "0"]
    args += ["--recipes", "ft,dae_ft,cl_ft", "--max-train-rows", "0", "--model", tiny_model_path]
    args += ["--set", "max_steps=2", "--setfit-max-steps", "2", "--out", str(out)]
    done = run_script(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {(r["recipe"], r["budget"]): r for r in json.loads((out / "learning_curve_cpu.json").read_text())}
    assert {r["state"] for (_, budget), r in rows.items() if budget == 4} == {"done"}
    assert rows[("dae_ft", 4)]["labelled"] == 12 and rows[("dae_ft", 4)]["dae_texts"] == 72  # every training text
    assert rows[("ft", 4)]["unlabelled"] == 60 and rows[("setfit", 4)]["labelled"] == 12
    assert rows[("setfit", 4)]["setfit_steps"] == 2  # its own count (6 steps of 96 pairs) capped
    assert rows[("setfit", 4)]["setfit_own_steps"] == 6
    assert rows[("ft", 30)]["state"] == "skipped" and "'gamma' has 12" in rows[("ft", 30)]["message"]
    table = (out / "learning_curve_toy_cpu.md").read_text()
    assert "| 4 / class | ft | 12 | 60 | 1 |" in table and "| 4 / class | setfit | 12 |" in table
    assert "SetFit at 4 / class: 2 contrastive steps, capped at 2 (its own count 6)" in table
    assert "- training texts (labelled + unlabelled, after the row cap): 4 / class 72\n" in table
    setfit_minus = (rows[("setfit", 4)]["test_acc"] - rows[("cl_ft", 4)]["test_acc"]) * 100
    assert f"- SetFit at 4 / class, test accuracy minus cl_ft {setfit_minus:+.1f} [1]" in table
    assert "skipped 30 / class: labels_per_class=30" in table and " at commit " in table and "setfit " in table
    assert all(
        r["commit"] and r["command"].startswith("python bench/learning_curve.py --datasets toy") for r in rows.values()
    )
    assert (out / "learning_curve_toy_cpu.html").stat().st_size > 0
    assert (out / "learning_curve_toy_cpu.png").exists() or "png not written" in done.stderr

    # --report-only runs nothing and rebuilds the same table from the rows on disk.
    (out / "learning_curve_toy_cpu.md").unlink()
    again = run_script("--datasets", "toy", "--report-only", "--out", str(out), "--model", tiny_model_path)
    assert again.returncode == 0, again.stderr[-3000:]
    rebuilt = (out / "learning_curve_toy_cpu.md").read_text()
    assert rebuilt.split("Device:")[1] == table.split("Device:")[1]  # the same rows, the same table
    assert len(json.loads((out / "learning_curve_cpu.json").read_text())) == len(rows)

    # --skip-done leaves out every run whose finished row is there: nothing trains, no row changes.
    before = (out / "learning_curve_cpu.json").read_text()
    skip = run_script(*args, "--recipes", "ft", "--budgets", "4", "--skip-done")
    assert skip.returncode == 0, skip.stderr[-3000:]
    assert " done " not in skip.stdout and (out / "learning_curve_cpu.json").read_text() == before


def test_setfit_runs_its_own_step_count_below_the_cap(bench_path):
    """8 texts in each of 7 classes: 196 positive and 1,344 negative pairs; "oversampling" draws
    1,344 of each, 168 batches of 16. A cap of 500 must leave it at 168, not make it cycle to 500."""
    import learning_curve
    from setfit import TrainingArguments

    labels = [c for c in range(7) for _ in range(8)]
    texts = [f"text {i}" for i in range(len(labels))]
    assert learning_curve.setfit_own_steps(texts, labels, TrainingArguments(output_dir="unused")) == 168


def test_curve_points_run_from_fewest_labelled_texts(bench_path):
    """A budget run under a larger row cap can hold more labelled texts than "all" under the
    smaller one: the curve's points follow the labelled count, not the budget's name."""
    import learning_curve

    def row(budget, labelled, seed, acc):
        return {"budget": budget, "labelled": labelled, "seed": seed, "test_acc": acc}

    rows = [row(0, 1000, 0, 0.80), row(0, 1000, 1, 0.90), row(256, 1792, 0, 0.95), row(8, 56, 0, 0.5)]
    points = learning_curve.curve_points(rows)
    assert [(b, n) for b, n, _, _ in points] == [(8, 56.0), (0, 1000.0), (256, 1792.0)]
    _, _, mean, sd = points[1]
    assert round(mean, 6) == 85.0 and round(sd, 4) == round(((5**2 + 5**2) / 1) ** 0.5, 4)


def test_merge_keeps_a_finished_run_over_one_that_did_not_finish(bench_path, tmp_path):
    """256 per class runs under a larger row cap than the rest of the grid: rerunning the smaller
    cut, where that budget is skipped, must leave the finished row as it is. A finished rerun
    replaces it; a new key is added whatever its state."""
    import learning_curve

    def row(state, acc=None, seed=0):
        return {"dataset": "d", "recipe": "ft", "budget": 256, "seed": seed, "state": state, "test_acc": acc}

    path = tmp_path / "rows.json"
    learning_curve.merge(path, [row("done", 0.9)])
    assert learning_curve.merge(path, [row("skipped"), row("skipped", seed=1)]) == [
        row("done", 0.9),
        row("skipped", seed=1),
    ]
    assert learning_curve.merge(path, [row("failed")]) == [row("done", 0.9), row("skipped", seed=1)]
    assert learning_curve.merge(path, [row("done", 0.8), row("done", 0.7, seed=1)]) == [
        row("done", 0.8),
        row("done", 0.7, seed=1),
    ]
    assert json.loads(path.read_text()) == [row("done", 0.8), row("done", 0.7, seed=1)]
