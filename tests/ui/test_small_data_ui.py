"""Small-data honesty on the pages: split sizes on the Data page, the small-split warnings on the
Data, Train and Results pages, and the Results tables' text (intervals, "1 seed", no raw None)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from threephase_core.workbench.result_tables import comparison_table, phases_table, recent_runs_table, runs_table


def texts(at) -> str:
    return "\n".join(str(e.value) for kind in ("warning", "caption", "markdown") for e in getattr(at, kind))


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


SMALL_CSV = "sentence,intent\n" + "\n".join(f"please help with thing number {i},{'abc'[i % 3]}" for i in range(60))


def test_a_small_upload_is_warned_about_and_its_split_sizes_can_grow(empty_store, open_app, goto):
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    at.file_uploader[0].upload("mine.csv", SMALL_CSV.encode(), "text/csv").run()
    ok(at)
    rows = {m.label: m.value for m in at.metric}
    assert (rows["Validation rows"], rows["Test rows"]) == ("6", "6")
    assert "The validation split has only 6 texts" in texts(at) and "The test split has only 6 texts" in texts(at)
    assert "In the validation split 3 classes have fewer than 3 texts" in texts(at)

    at.select_slider(key="data:wb.val_fraction").set_value(0.3).run()
    at.select_slider(key="data:wb.test_fraction").set_value(0.3).run()
    ok(at)
    rows = {m.label: m.value for m in at.metric}
    assert (rows["Validation rows"], rows["Test rows"]) == ("12", "18")  # test is carved first, then validation
    assert "The validation split has only 12 texts" in texts(at) and "fewer than 3 texts" not in texts(at)
    assert st_value(at, "wb.val_fraction") == 0.3

    goto(at, "train").run()
    ok(at)
    assert "The validation split has only 12 texts" in texts(at)  # the Train page sees the same splits
    assert "val_fraction=0.3" in at.code[0].value and "test_fraction=0.3" in at.code[0].value


def st_value(at, key):
    return at.session_state[key]


def test_the_demo_has_its_own_splits_and_no_warning(empty_store, open_app):
    at = open_app("data")
    ok(at)
    assert "brings its own validation and test files" in texts(at)
    assert not any("Too few texts" in w.value for w in at.warning)
    assert not at.get("select_slider")


def test_results_warns_when_the_compared_runs_had_small_splits(finished_store, open_app):
    from threephase_core.runstore import RunStore

    run = RunStore(finished_store).list()[0]
    at = open_app("results")
    ok(at)
    assert not any("too small to tell recipes apart" in w.value for w in at.warning)  # the demo's splits
    data = json.loads((run.path / "data.json").read_text())
    data["class_counts"]["test"] = {name: 1 for name in data["class_counts"]["test"]}
    (run.path / "data.json").write_text(json.dumps(data))
    at.run()
    ok(at)
    warning = next(w.value for w in at.warning if "too small to tell recipes apart" in w.value)
    assert "The test split has only 7 texts" in warning and "7 classes have fewer than 3 texts" in warning


def test_runs_table_of_a_running_job_shows_no_raw_none():
    df = pd.DataFrame(
        {
            "created": pd.to_datetime(["2026-12-06 08:00:00", "2026-12-06 09:00:00"]),
            "state": ["running", "done"],
            "recipe": ["ft", "three_phase"],
            "dataset": ["demo", "demo"],
            "model": ["MiniLM", "MiniLM"],
            "seed": [None, 0],
            "val_acc": [None, 0.8],
            "test_acc": [np.nan, 9 / 11],
            "test_f1": [None, 0.75],
            "val_n": [None, 11.0],
            "test_n": [None, 11.0],
            "wall_s": [None, 757.0],
            "steps_cap": ["", "5"],
            "run": ["a", "b"],
        }
    )
    table = runs_table(df)
    assert table.iloc[0].tolist() == [
        "2026-12-06 08:00",
        "running",
        "ft",
        "demo",
        "MiniLM",
        "–",
        "–",
        "–",
        "–",
        "–",
    ] + [
        "–",
        "–",
        "a",
    ]
    assert table.iloc[1][["seed", "test acc", "test 95% CI", "wall time", "step cap"]].tolist() == [
        "0",
        "81.8%",
        "52%–95%",
        "12 min 37 s",
        "5",
    ]


def test_recent_runs_table_has_no_raw_none_and_fewer_columns():
    df = pd.DataFrame(
        {
            "created": pd.to_datetime(["2026-12-06 08:00:00"]),
            "state": ["queued"],
            "recipe": ["three_phase"],
            "dataset": ["demo"],
            "model": ["MiniLM"],
            "seed": [0],
            "val_acc": [None],
            "test_acc": [None],
            "test_f1": [None],
            "val_n": [None],
            "test_n": [None],
            "wall_s": [None],
            "steps_cap": [""],
            "run": ["a"],
        }
    )
    table = recent_runs_table(df)
    assert table.columns.tolist() == [
        "started (UTC)",
        "state",
        "recipe",
        "dataset",
        "seed",
        "val acc",
        "test acc",
        "wall time",
    ]
    assert table.iloc[0].tolist() == ["2026-12-06 08:00", "queued", "three_phase", "demo", "0", "–", "–", "–"]


def test_phases_table_shows_a_dash_where_a_phase_has_no_value():
    from threephase_core.workbench.run_details import phase_table

    metrics = {
        "phases": {
            "cl": {"wall_s": 12.345, "silhouette": 0.51234, "knn_acc": 0.9, "data": {"pairs": 1200}},
            "ft": {"wall_s": 30.0, "silhouette": None, "knn_acc": float("nan")},
        }
    }
    table = phases_table(phase_table(metrics))
    assert table.iloc[0, 1:].tolist() == ["12.3", "0.512", "0.900", "1200"]
    assert table.iloc[1, 1:].tolist() == ["30.0", "–", "–", "–"]


def test_comparison_table_says_one_seed_and_gives_the_interval():
    comp = pd.DataFrame(
        {
            "recipe": ["three_phase", "ft"],
            "seeds": [1, 3],
            "val_mean": [0.8, 0.7],
            "val_std": [0.0, 0.02],
            "test_mean": [0.75, 0.7],
            "test_std": [0.0, 0.01],
            "f1_mean": [0.7, 0.6],
            "f1_std": [0.0, 0.03],
            "test_n": [100.0, 100.0],
            "vs_seeds": [1, np.nan],
            "vs_diff": [0.05, np.nan],
            "vs_p": [np.nan, np.nan],
        }
    )
    table = comparison_table(comp)
    assert table["test acc"].tolist() == ["75.0% (1 seed)", "70.0% ± 1.0% (3 seeds)"]
    assert table["test 95% CI (one run)"].tolist() == ["66%–82%", "60%–78%"]
    assert table["test acc vs FT"].tolist() == ["+5.0 pts (1 seed)", "baseline"]
    assert "± 0.0" not in table.to_string()
