"""CI smoke tests of the benchmark scripts in --quick mode (CPU, tiny model, demo data).

The scripts run as a user runs them (`python bench/<script>.py`, the package installed); the
tests that call a script's functions directly import it with bench/ on the import path for that
test only (`bench_path`), as running the script puts it there.
"""

from __future__ import annotations

import json

from tests.helpers import bench_script, toy_data_root


def test_speed_quick(tmp_path, tiny_model_path):
    out = bench_script(
        "speed.py",
        "--quick",
        "--dataset",
        "demo",
        "--model",
        tiny_model_path,
        "--out",
        str(tmp_path),
        "--warm-repeats",
        "1",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "speed_quick_cpu.json").read_text())
    for key in ("device", "stock_ft_samples_per_s", "ft_samples_per_s", "dae_samples_per_s", "cl_samples_per_s"):
        assert key in result
    assert result["ft_samples_per_s"] > 0 and result["three_phase"]["state"] == "done"
    assert "| FT |" in (tmp_path / "speed_quick_cpu.md").read_text()
    assert result["warm"]["repeat"] == 1 and result["warm"]["dae_samples_per_s"] > 0
    assert "warm (run 2 in the same process)" in (tmp_path / "speed_quick_cpu.md").read_text()


def test_accuracy_quick_with_long_tail(tmp_path, tiny_model_path):
    out = bench_script(
        "accuracy.py",
        "--quick",
        "--model",
        tiny_model_path,
        "--recipes",
        "three_phase,ft",
        "--long-tail",
        "10",
        "--out",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "accuracy_quick_cpu.json").read_text())["rows"]
    assert {(r["dataset"], r["recipe"], r["seed"]) for r in rows} == {
        ("demo_lt10", rec, s) for rec in ("three_phase", "ft") for s in (0, 1)
    }
    for r in rows:
        assert r["state"] == "done" and {"val_acc", "test_acc", "macro_f1"} <= set(r)
        assert r["head_input_norm"] is True and "commit" in r
        phases = ["base", "dae", "cl", "ft"] if r["recipe"] == "three_phase" else ["base", "ft"]
        assert list(r["phase_geometry"]) == phases and all("knn_acc" in v for v in r["phase_geometry"].values())
        assert "ft.batch_size" not in r["settings"]  # on the CPU the engine defaults, unless --preset gpu
    table = (tmp_path / "accuracy_quick_cpu.md").read_text()
    assert "Recipe - FT" in table and "| demo_lt10 | three_phase | 2 |" in table


def test_accuracy_preset_gpu_applies_the_gpu_settings_on_the_cpu(tmp_path, tiny_model_path):
    """--preset gpu reproduces a GPU row's settings on the CPU (demo: 354 rows, the tiny-data
    preset; for FT its FT settings)."""
    from threephase_core.gpu_presets import TINY_DATA

    out = bench_script(
        "accuracy.py",
        "--quick",
        "--model",
        tiny_model_path,
        "--recipes",
        "ft",
        "--preset",
        "gpu",
        "--out",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "accuracy_quick_cpu.json").read_text())["rows"]
    assert rows
    for row in rows:
        assert row["state"] == "done"
        ft_preset = {k: v for k, v in TINY_DATA.items() if k.startswith("ft.")}
        assert {k: row["settings"].get(k) for k in ft_preset} == ft_preset
        assert not any(k.startswith(("dae.", "cl.")) for k in row["settings"])  # FT has no such phase


def test_long_tailed_profile(bench_path):
    from accuracy import make_long_tailed

    from threephase_core.data import load_dataset

    ds = load_dataset("demo")
    lt = make_long_tailed(ds, 10, seed=0)
    sizes = sorted(lt.train["label"].value_counts().tolist(), reverse=True)
    assert sizes[0] == ds.train["label"].value_counts().max()
    assert sizes[0] / sizes[-1] >= 9  # capped by the data's own smallest classes
    assert lt.validation is ds.validation and lt.test is ds.test


def test_tune_quick_pools_seed_jobs_and_picks_the_winner_on_validation(tmp_path, tiny_model_path):
    for seed in ("0", "1"):
        out = bench_script(
            "tune.py",
            "--dataset",
            "demo",
            "--model",
            tiny_model_path,
            "--recipe",
            "ft",
            "--grid",
            "ft.lr=1e-4,3e-4",
            "--grid",
            "max_steps=2",
            "--seeds",
            seed,
            "--out",
            str(tmp_path / f"s{seed}"),
            "--runs-dir",
            str(tmp_path / "runs"),
        )
        assert out.returncode == 0, out.stderr[-2000:]
    out = bench_script("tune.py", "--collect", str(tmp_path), "--out", str(tmp_path / "pooled"))
    assert out.returncode == 0, out.stderr[-2000:]
    table = (tmp_path / "pooled" / "tune_demo_ft_cpu.md").read_text()
    assert "| 0,1 |" in table  # both seeds pooled per combination
    runs = [r for f in tmp_path.glob("s*/tune_rows_*.json") for r in json.loads(f.read_text())]
    assert len(runs) == 4 and all(r["state"] == "done" for r in runs)
    mean_val = {lr: sum(r["val_acc"] for r in runs if r["combo"]["ft.lr"] == lr) / 2 for lr in ("1e-4", "3e-4")}
    best = json.loads((tmp_path / "pooled" / "best_demo_ft.json").read_text())
    assert mean_val[best["ft.lr"]] == max(mean_val.values())


def test_collect_chooses_on_validation_not_test(tmp_path, bench_path):
    from tune import collect

    def row(lr, seed, val, test):
        return {
            "dataset": "d",
            "recipe": "ft",
            "device": "cpu",
            "combo": {"ft.lr": lr},
            "seed": seed,
            "val_acc": val,
            "test_acc": test,
            "wall_s": 1.0,
            "state": "done",
            "command": "x",
        }

    f = tmp_path / "tune_rows_d_ft_s0.json"
    f.write_text(
        json.dumps(
            [row("a", 0, 0.80, 0.99), row("b", 0, 0.90, 0.50), row("a", 1, 0.82, 0.99), row("b", 1, 0.88, 0.50)]
        )
    )
    assert collect([f], tmp_path / "o") == 0
    assert json.loads((tmp_path / "o" / "best_d_ft.json").read_text()) == {"ft.lr": "b"}


def test_merge_keeps_the_row_that_finished_last_and_the_header(tmp_path, bench_path):
    from accuracy import merge_files

    def row(test, finished=None):
        r = {
            "dataset": "d",
            "recipe": "ft",
            "seed": 0,
            "state": "done",
            "device": "cpu",
            "wall_s": 1.0,
            "val_acc": 0.5,
            "test_acc": test,
            "macro_f1": 0.5,
            "rare3_recall": 0.5,
        }
        if finished is not None:
            r["finished"] = finished
        return r

    (tmp_path / "accuracy_cpu.md").write_text("# My header\n\nnotes\n\n| dataset | old table |\n")
    newer, older, untimed = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    newer.write_text(json.dumps({"rows": [row(0.9, finished=200.0)]}))
    older.write_text(json.dumps({"rows": [row(0.1, finished=100.0)]}))
    untimed.write_text(json.dumps({"rows": [row(0.2)]}))
    assert merge_files([newer, older, untimed], tmp_path) == 0
    rows = json.loads((tmp_path / "accuracy_cpu.json").read_text())["rows"]
    assert [r["test_acc"] for r in rows] == [0.9]
    md = (tmp_path / "accuracy_cpu.md").read_text()
    assert md.startswith("# My header\n\nnotes\n") and "90.00" in md and "old table" not in md


def test_parallel_runs_jobs_with_a_deadline_and_merges(tmp_path, tiny_model_path):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("# two quick jobs\n--recipes ft --seeds 0\n--recipes ft --seeds 0 --label again\n")
    (tmp_path / "out" / "shards" / "9").mkdir(parents=True)  # a stale shard from an earlier call
    (tmp_path / "out" / "shards" / "9" / "accuracy_cpu.json").write_text(json.dumps({"rows": [{"dataset": "stale"}]}))
    out = bench_script(
        "parallel.py",
        str(jobs),
        "--workers",
        "2",
        "--out",
        str(tmp_path / "out"),
        "--deadline",
        "500",
        "--common",
        f"--quick --model {tiny_model_path}",
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    rows = json.loads((tmp_path / "out" / "accuracy_cpu.json").read_text())["rows"]
    assert {r["recipe"] for r in rows} == {"ft", "ft[again]"} and all(r["state"] == "done" for r in rows)
    assert "===== job 1" in (tmp_path / "out" / "jobs.log").read_text()


def test_profile_dae_runs_on_cpu(tmp_path, tiny_model_path):
    out = bench_script(
        "profile_dae.py",
        "--dataset",
        "demo",
        "--model",
        tiny_model_path,
        "--steps",
        "2",
        "--warmup",
        "1",
        "--batches",
        "16",
        "--variants",
        "stock,fast",
        "--out",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = (tmp_path / "profile_dae_cpu.txt").read_text()
    assert "[stock b16]" in text and "[fast b16]" in text and "ms/step" in text


def test_merge_keeps_a_done_row_over_a_later_failure(tmp_path, bench_path):
    from accuracy import _merge

    path = tmp_path / "acc.json"
    _merge(path, {"dataset": "d", "recipe": "ft", "seed": 0, "state": "done", "test_acc": 0.9, "finished": 10.0})
    _merge(
        path,
        {"dataset": "d", "recipe": "ft", "seed": 0, "state": "failed", "message": "out of memory", "finished": 20.0},
    )
    assert [r["state"] for r in json.loads(path.read_text())["rows"]] == ["done"]
    _merge(path, {"dataset": "d", "recipe": "ft", "seed": 0, "state": "done", "test_acc": 0.8, "finished": 30.0})
    assert [r["test_acc"] for r in json.loads(path.read_text())["rows"]] == [0.8]


def test_collect_ranks_only_combinations_scored_on_every_seed(tmp_path, bench_path):
    from tune import collect

    def row(lr, seed, val, state="done"):
        return {
            "dataset": "d",
            "recipe": "ft",
            "device": "cpu",
            "combo": {"ft.lr": lr},
            "seed": seed,
            "val_acc": val,
            "test_acc": 0.5,
            "wall_s": 1.0,
            "state": state,
            "command": "x",
        }

    f = tmp_path / "tune_rows_d_ft_s0-1.json"
    f.write_text(json.dumps([row("a", 0, 0.80), row("a", 1, 0.82), row("b", 0, 0.95), row("b", 1, None, "failed")]))
    assert collect([f], tmp_path / "o") == 0
    assert json.loads((tmp_path / "o" / "best_d_ft.json").read_text()) == {"ft.lr": "a"}


def test_head_study_quick_writes_its_table(tmp_path, tiny_model_path):
    out = bench_script("head_study.py", "--quick", "--model", tiny_model_path, "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    table = (tmp_path / "head_study_quick_cpu.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| 16 |")]
    assert [r.split("|")[5].strip() for r in rows] == ["off", "on"]


def test_paired_table_diffs_every_recipe_against_ft_over_common_seeds(bench_path):
    """Each recipe - FT over the seeds both ran, with scipy's paired t-test; 3-Phase listed first;
    a metric a row lacks is shown as '-', not as a crash or a zero."""
    from accuracy import paired_table
    from scipy import stats

    def row(recipe, seed, acc, f1, rare=None):
        return {"dataset": "d", "recipe": recipe, "seed": seed, "test_acc": acc, "macro_f1": f1, "rare3_recall": rare}

    ft = [row("ft", s, a, f, r) for s, a, f, r in ((0, 0.90, 0.80, 0.5), (1, 0.92, 0.82, 0.6), (2, 0.91, 0.85, 0.7))]
    tp = [
        row("three_phase", s, a, f, r)
        for s, a, f, r in ((0, 0.93, 0.81, 0.6), (1, 0.92, 0.86, 0.6), (2, 0.95, 0.86, 0.9))
    ]
    extra = [row("extra_imb", 1, 0.90, 0.80), row("extra_imb", 5, 0.99, 0.99)]  # seed 5 has no FT twin
    lines = paired_table(ft + extra + tp)
    body = [ln.split(" | ") for ln in lines if ln.startswith("| d |")]
    assert [cells[1] for cells in body] == ["three_phase", "extra_imb"]
    three = body[0]
    p_acc = stats.ttest_rel([93, 92, 95], [90, 92, 91]).pvalue
    p_f1 = stats.ttest_rel([81, 86, 86], [80, 82, 85]).pvalue
    assert three[2:10] == ["3", "93.33", "91.00", "+2.33", f"{p_acc:.3f}", "+2.00", f"{p_f1:.3f}", "+10.00 |"]
    assert body[1][2:10] == ["1", "90.00", "92.00", "-2.00", "nan", "-2.00", "nan", "- |"]


def test_preset_coverage_counts_the_classes_each_preset_oversamples(bench_path):
    """bench/preset_coverage.py agrees with what the pair builder's correction really does:
    `correct_imbalance` on the same long-tailed train split gives the same row count and grows
    exactly the counted classes; 'extra' touches at least what 'normal' does."""
    from accuracy import make_long_tailed
    from preset_coverage import coverage_rows, table

    from threephase_core.data import load_dataset
    from threephase_core.imbalance import correct_imbalance, preset_ratios

    ds = load_dataset("demo")
    (row,) = coverage_rows(ds, [10])
    train = make_long_tailed(ds, 10).train
    labels = train["label"].to_numpy()
    for preset in ("normal", "extra"):
        texts, out = correct_imbalance(train["text"].tolist(), labels, *preset_ratios(preset))
        grown = {c for c in set(labels.tolist()) if (out == c).sum() > (labels == c).sum()}
        assert row[f"{preset}_rows"] == len(texts) == len(out)
        assert row[f"{preset}_classes"] == len(grown)
    assert 0 < row["normal_classes"] < row["extra_classes"]  # demo_lt10: 2 and 6 of 7 classes
    assert row["rows"] == len(train)
    assert "demo_lt10" in table([row])


def test_gpu_preset_in_the_benchmarks_keeps_what_a_recipe_fixes(bench_path):
    """bench/settings.py: the study baseline keeps its 10 epochs at batch 16 and LoRA its lr 5e-4
    under the GPU preset (the preset used to override them); recipes that fix nothing get it whole."""
    from settings import settings_for

    from threephase_core.recipes import build_config

    baseline = build_config("report_baseline", settings_for("massive_en_us", True, 8000, "report_baseline"))
    assert (baseline.ft.epochs, baseline.ft.batch_size, baseline.ft.lr) == (10, 16, 1e-4)
    assert build_config("lora", settings_for("imdb", True, 25000, "lora")).ft.lr == 5e-4
    three = settings_for("snips2", True, 8000, "three_phase")
    assert three == settings_for("snips2", True, 8000)  # nothing fixed, nothing dropped
    assert settings_for("snips2", False, 8000, "lora") == {}


def test_data_root_flag_and_environment_name_the_folder_of_the_data_sets(tmp_path):
    """A data set named without a path is the folder of that name under --data-root, else under
    $THREEPHASE_DATA_ROOT; a missing one is a clear one-line error naming where it was looked for."""
    root = toy_data_root(tmp_path / "data")
    out = bench_script(
        "preset_coverage.py",
        "--datasets",
        "toy",
        "--ratios",
        "3",
        "--data-root",
        str(root),
        "--out",
        str(tmp_path / "a"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    table = (tmp_path / "a" / "preset_coverage.md").read_text()
    assert "| toy_lt3 | 72 | 3 | 40 / 12 |" in table  # ratio 3 asks for 40, 23, 13 rows; the data has 40, 20, 12
    by_env = bench_script(
        "preset_coverage.py",
        "--datasets",
        "toy",
        "--ratios",
        "3",
        "--out",
        str(tmp_path / "b"),
        env={"THREEPHASE_DATA_ROOT": str(root)},
    )
    assert by_env.returncode == 0, by_env.stderr[-2000:]
    assert (tmp_path / "b" / "preset_coverage.md").read_text() == table
    missing = bench_script(
        "preset_coverage.py",
        "--datasets",
        "toy",
        "--ratios",
        "3",
        "--data-root",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "c"),
    )
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert f"no data set folder 'toy' under the data root {tmp_path / 'nowhere'}" in missing.stderr
