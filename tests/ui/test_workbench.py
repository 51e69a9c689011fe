"""Tests for threephase_core.workbench: the Streamlit-free helpers behind the pages, one module per concern."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from threephase_core.data import DataError
from threephase_core.metrics import paired_p
from threephase_core.runstore import RunStore
from threephase_core.workbench.comparison import (
    comparison_groups,
    mixed_settings,
    recipe_comparison,
    versus_text,
)
from threephase_core.workbench.datasets import guess_columns, save_upload, source_stamp
from threephase_core.workbench.job_managers import (
    manager_for,
    managers,
    shutdown_managers,
)
from threephase_core.workbench.models import check_model
from threephase_core.workbench.previews import (
    class_table,
    imbalance_curve,
    noise_preview,
    pair_score_note,
    pair_stats,
    preset_for,
    stopword_preview,
    threshold_size,
)
from threephase_core.workbench.projections import (
    cached_projection,
    projection,
    projection_file,
    ready_projection,
    request_projection,
)
from threephase_core.workbench.run_details import (
    config_rows,
    confusion,
    loss_frame,
    losses_from_events,
    model_zip,
    per_class_frame,
)
from threephase_core.workbench.runs import (
    run_state,
    runs_frame,
    settings_key,
    trained_elsewhere,
)
from threephase_core.workbench.settings import (
    changed_overrides,
    parse_seeds,
    recipe_defaults,
    train_form_values,
)


@pytest.mark.parametrize(
    "text, seeds",
    [("0", [0]), ("0,1,2", [0, 1, 2]), (" 2 1 2 ", [1, 2]), ("0-3", [0, 1, 2, 3]), ("5, 0-1", [0, 1, 5])],
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "-1", "3-1", "1.5"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ValueError):
        parse_seeds(text)


def test_class_table_matches_the_worked_values():
    # docs/METHOD.md: M = 1000, normal preset: x=1 -> x4, 5 -> x3, 20 -> x2, 50 -> x2, 75 and 100 unchanged.
    counts = {"big": 1000, "a": 1, "b": 5, "c": 20, "d": 50, "e": 75, "f": 100}
    t = class_table(counts, 1.5, 4.0).set_index("class")
    assert t.loc[["a", "b", "c", "d", "e", "f"], "repeats"].tolist() == [4, 3, 2, 2, 1, 1]
    assert t.loc["a", "f"] == pytest.approx(4.0) and 1.499 < t.loc["e", "f"] < 1.5
    assert t.loc["c", "rows_after"] == 40 and not t.loc["big", "oversampled"]
    assert threshold_size(1000, 1.5, 4.0) == pytest.approx(1000**0.625)
    assert threshold_size(100, 1.5, 4.0) == pytest.approx(17.78, abs=0.01)
    # r_min below 1.5: the threshold agrees with the classes the correction really grows
    from threephase_core.imbalance import oversample_factor

    largest, r_min, r_max = 118, 1.0, 4.0
    edge = threshold_size(largest, r_min, r_max)
    assert all((oversample_factor(x, largest, r_min, r_max) > 1) == (x <= edge) for x in range(1, largest + 1))


def test_imbalance_curve_runs_from_r_max_to_zero():
    xs, ys = imbalance_curve(118, 4.0)
    assert xs[0] == 1 and xs[-1] == 118 and np.all(np.diff(xs) > 0)
    assert ys[0] == pytest.approx(4.0) and ys[-1] == pytest.approx(0.0) and np.all(np.diff(ys) <= 1e-12)


@pytest.mark.parametrize("name, expected", [("normal", (1.5, 4.0)), ("extra", (1.5, 20.0)), ("none", (1.0, 1.0))])
def test_preset_for(name, expected):
    assert preset_for(*expected) == name
    assert preset_for(2.0, 4.0) == "custom"


def test_pair_stats_on_the_demo():
    from threephase_core.data import load_dataset

    ds = load_dataset("demo")
    s = pair_stats(ds.train["text"].tolist(), ds.train["label"].to_numpy(), ds.num_classes, 1.5, 4.0, 2)
    assert (
        s["rows_before"] == 354 and s["rows_after"] == 354 + 18 + 10
    )  # technical_issue and cancel_subscription doubled
    assert s["pairs"] == 2 * s["positive_pairs"] > 0
    none = pair_stats(ds.train["text"].tolist(), ds.train["label"].to_numpy(), ds.num_classes, 1.0, 1.0, 2)
    assert none["rows_after"] == 354


def test_pair_stats_score_pairs_by_the_label_levels():
    """On the demo's two levels (group > intent) the correction and the pairs are the one-level
    ones (it counts the finest level; a pair is positive for the same intent), and the negative
    pairs split into 0.5 (same group) and 0 (another group)."""
    from threephase_core.data import load_dataset

    ds = load_dataset("demo", label_column="group,label")
    texts, labels = ds.train["text"].tolist(), ds.train["label"].to_numpy()
    flat = pair_stats(texts, labels, ds.num_classes, 1.5, 4.0, 2)
    levels = pair_stats(texts, ds.hierarchy.rows(labels), ds.num_classes, 1.5, 4.0, 2)
    assert flat["scores"] == {1.0: flat["positive_pairs"], 0.0: flat["pairs"] - flat["positive_pairs"]}
    for key in ("rows_before", "rows_after", "pairs", "positive_pairs"):
        assert levels[key] == flat[key], key
    assert list(levels["scores"]) == [1.0, 0.5, 0.0] and sum(levels["scores"].values()) == levels["pairs"]
    assert levels["scores"][1.0] == levels["positive_pairs"] and min(levels["scores"].values()) > 0
    assert pair_score_note(levels["scores"], ["group", "label"]) == (
        "Pairs scored by the label levels they share (group › label): "
        f"**1** (same label) {levels['scores'][1.0]:,} · **0.5** (same group, another label) "
        f"{levels['scores'][0.5]:,} · **0** (another group) {levels['scores'][0.0]:,}."
    )
    assert "**0.67** (same b, another c)" in pair_score_note({2 / 3: 4}, ["a", "b", "c"])


def test_noise_preview_marks_deleted_words():
    text = "please tell me where my order is right now"
    words = noise_preview(text, 0.6, seed=1)
    assert [w for w, _ in words] == text.split()
    assert any(k for _, k in words) and not all(k for _, k in words)
    assert all(k for _, k in noise_preview(text, 0.0))
    kept = [w for w, k in stopword_preview("i want to return the shoes that i bought", seed=0) if k]
    assert "shoes" in kept and len(kept) < 9


def test_guess_columns():
    df = pd.DataFrame({"id": [1, 2], "utterance": ["hi there", "bye now"], "intent": ["greet", "bye"]})
    assert guess_columns(df) == ("utterance", "intent")
    df = pd.DataFrame({"a": ["a long sentence here", "another long one"], "b": [0, 0]})
    assert guess_columns(df) == ("a", "b")


def test_save_upload(tmp_path):
    path = save_upload("my data.csv", b"text,label\nhello,a\n", tmp_path)
    assert path.read_bytes() == b"text,label\nhello,a\n" and path.name == "my_data.csv"
    assert save_upload("my data.csv", b"text,label\nhello,a\n", tmp_path) == path  # stored once
    assert not RunStore(tmp_path).list()  # uploads are not runs
    with pytest.raises(DataError, match="empty"):
        save_upload("x.csv", b"", tmp_path)
    with pytest.raises(DataError, match="unsupported"):
        save_upload("x.xlsx", b"zz", tmp_path)


def test_check_model(tmp_path, monkeypatch):
    assert check_model("minilm") is None and check_model("tiny") is None
    assert "not found" in check_model(str(tmp_path / "nope"))
    assert "not a model folder" in check_model(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert check_model(str(tmp_path)) is None
    assert "not found" in check_model("models/mine", kind="path")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "offline" in check_model("someone/not-a-cached-model-xyz")
    assert "hub id" in check_model("not a hub id", kind="hub")


def test_changed_overrides_keeps_the_recipe_settings():
    base = recipe_defaults("report_baseline")
    values = {"ft.lr": base.ft.lr, "ft.epochs": 3, "ft.dropout": 0.2, "dae.noise_ratio": 0.6}
    assert changed_overrides("report_baseline", values) == {"ft.dropout": 0.2}  # ft.epochs is the recipe's
    assert changed_overrides("extra_imb", {"cl.imbalance": "normal", "cl.lr": 3e-4}) == {"cl.lr": 3e-4}


def test_recipe_comparison_mean_and_std():
    df = pd.DataFrame(
        {
            "state": ["done"] * 5 + ["failed"],
            "recipe": ["ft", "ft", "three_phase", "three_phase", "three_phase", "ft"],
            "seed": [0, 1, 0, 1, 2, 2],
            "val_acc": [0.8, 0.9, 0.9, 0.9, 0.9, 0.1],
            "test_acc": [0.80, 0.90, 0.91, 0.92, 0.93, 0.1],
            "test_f1": [0.7, 0.8, 0.9, 0.9, 0.9, 0.1],
        }
    )
    comp = recipe_comparison(df).set_index("recipe")
    assert list(comp.index) == ["three_phase", "ft"]  # the recipes' own order
    assert comp.loc["ft", "test_mean"] == pytest.approx(0.85) and comp.loc["ft", "test_std"] == pytest.approx(
        0.05 * 2**0.5
    )  # sample sd
    assert comp.loc["three_phase", "seeds"] == 3 and comp.loc["three_phase", "test_mean"] == pytest.approx(0.92)


def test_runs_frame_and_run_files(finished_store):
    store = RunStore(finished_store)
    df = runs_frame(store)
    assert (
        len(df) == 1
        and df.loc[0, "state"] == "done"
        and df.loc[0, "model"] == "tiny BERT"
        and df.loc[0, "phases"] == 4
    )
    run = store.list()[0]
    assert per_class_frame(run.metrics)["support"].sum() == 79
    matrix, names = confusion(run.metrics)
    assert matrix.shape == (7, 7) and names[0] == "order_status"
    losses = loss_frame(losses_from_events(run.events()))
    assert set(losses["phase"]) == {"dae", "cl", "ft"}
    assert "ft.lr" in set(config_rows(run.config)["setting"])
    with zipfile.ZipFile(io.BytesIO(model_zip(run))) as zf:
        names = zf.namelist()
    assert any(n.endswith("head.safetensors") for n in names) and any(n.endswith("config.json") for n in names)


def test_interrupted_run(finished_store):
    run = RunStore(finished_store).list()[0]
    run.update_status(state="running")  # as left by a server that stopped mid-run
    assert (
        run_state(run, {}) == "running"
    )  # files written seconds ago: maybe a command-line run, not called interrupted yet
    old = time.time() - 3600
    for name in ("status.json", "events.jsonl"):
        if (run.path / name).exists():
            os.utime(run.path / name, (old, old))
    assert run_state(run, {}) == "interrupted"
    assert run_state(run, {run.id: {"state": "running"}}) == "running"


def test_a_quiet_run_of_a_live_command_line_process_is_running_not_interrupted(finished_store):
    import socket
    import subprocess
    import sys

    run = RunStore(finished_store).list()[0]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run.update_status(state="running", pid=child.pid, host=socket.gethostname())
        old = time.time() - 3600
        for name in ("status.json", "events.jsonl"):
            if (run.path / name).exists():
                os.utime(run.path / name, (old, old))
        assert run_state(run, {}) == "running"
        assert "another process" in trained_elsewhere(run)
    finally:
        child.kill()
        child.wait()
    assert run_state(run, {}) == "interrupted"  # its process is gone


def test_projection_is_cached_in_the_run_folder(finished_store):
    run = RunStore(finished_store).list()[0]
    assert cached_projection(run, "pca") is None
    layouts = projection(run, "pca")
    assert list(layouts) == ["base", "dae", "cl", "ft"] and layouts["ft"].shape == (79, 2)
    again = cached_projection(run, "pca")
    assert again is not None and np.allclose(again["ft"], layouts["ft"])
    meta = json.loads(str(np.load(projection_file(run, "pca"))["meta"]))
    assert meta["phases"] == ["base", "dae", "cl", "ft"]
    # New embeddings make the cache stale.
    d = run.load_embeddings("ft")
    run.save_embeddings("ft", d["embeddings"] * 2, d["labels"], list(d["texts"]))
    os.utime(run.path / "embeddings" / "ft.npz", (time.time() + 5, time.time() + 5))
    assert cached_projection(run, "pca") is None


def test_one_manager_per_runs_folder(tmp_path):
    first = manager_for(tmp_path / "a")
    try:
        assert manager_for(tmp_path / "a") is first  # a cleared Streamlit cache gets it back
        assert manager_for(tmp_path / "b") is not first
    finally:
        shutdown_managers()
    assert not first.alive and not managers()
    fresh = manager_for(tmp_path / "a")
    assert fresh is not first and fresh.alive
    shutdown_managers()


def test_recipe_comparison_pairs_each_recipe_with_ft_by_seed():
    """vs FT: the mean of per-seed differences over the seeds both finished, with scipy's paired
    t-test; a recipe with no seed in common gets no number; re-runs of a seed are averaged."""
    from scipy import stats

    df = pd.DataFrame(
        {
            "state": ["done"] * 9,
            "seed": [0, 1, 2, 0, 1, 2, 2, 7, 0],
            "recipe": [
                "ft",
                "ft",
                "ft",
                "three_phase",
                "three_phase",
                "three_phase",
                "three_phase",
                "cl_ft",
                "dae_ft",
            ],
            "val_acc": [0.9] * 9,
            "test_f1": [0.9] * 9,
            "test_acc": [0.80, 0.90, 0.85, 0.83, 0.91, 0.86, 0.90, 0.99, 0.70],
        }
    )
    comp = recipe_comparison(df).set_index("recipe")
    three = [0.83, 0.91, 0.88]  # seed 2 ran twice: 0.86 and 0.90
    assert comp.loc["three_phase", "vs_seeds"] == 3
    assert comp.loc["three_phase", "vs_diff"] == pytest.approx(np.mean(np.array(three) - [0.80, 0.90, 0.85]))
    assert comp.loc["three_phase", "vs_p"] == pytest.approx(stats.ttest_rel(three, [0.80, 0.90, 0.85]).pvalue)
    assert pd.isna(comp.loc["cl_ft", "vs_seeds"])  # seed 7 has no FT run
    assert comp.loc["dae_ft", "vs_seeds"] == 1 and comp.loc["dae_ft", "vs_diff"] == pytest.approx(-0.10)
    assert versus_text("ft", *comp.loc["ft", ["vs_seeds", "vs_diff", "vs_p"]]) == "baseline"
    assert versus_text("cl_ft", *comp.loc["cl_ft", ["vs_seeds", "vs_diff", "vs_p"]]) == "–"
    assert versus_text("dae_ft", *comp.loc["dae_ft", ["vs_seeds", "vs_diff", "vs_p"]]) == "-10.0 pts (1 seed)"
    p = comp.loc["three_phase", "vs_p"]
    assert (
        versus_text("three_phase", *comp.loc["three_phase", ["vs_seeds", "vs_diff", "vs_p"]])
        == f"+2.3 pts, p = {p:.2f} (3 seeds)"
    )


def test_paired_p_is_nan_when_every_seed_has_the_same_gap():
    """+1 test text on each of 3 seeds: the differences' spread is rounding noise, and scipy's
    t-test would call it p ~ 0. The comparison says 'the same gap on every seed' instead."""
    from scipy import stats

    x, y = np.array([0.801, 0.911, 0.851]), np.array([0.800, 0.910, 0.850])
    assert np.isnan(paired_p(x, y))
    assert paired_p([0.9, 0.8], [0.9, 0.8]) != paired_p([0.9, 0.8], [0.9, 0.8])  # NaN: no gap at all
    assert paired_p([0.93, 0.92, 0.95], [0.90, 0.92, 0.91]) == pytest.approx(
        stats.ttest_rel([0.93, 0.92, 0.95], [0.90, 0.92, 0.91]).pvalue
    )
    assert versus_text("three_phase", 3, 0.001, paired_p(x, y)) == "+0.1 pts, the same gap on every seed (3 seeds)"


def test_source_stamp_survives_a_dangling_link_in_the_dataset_folder(tmp_path):
    """An editor's lock file (a dangling symlink like `.#labels.json`) must not take the Data,
    Imbalance and Train pages down: the stamp is the newest readable entry's time."""
    import os

    (tmp_path / "train.csv").write_text("text,label\na,x\n")
    os.symlink(tmp_path / "gone.csv", tmp_path / ".#train.csv")
    assert source_stamp(str(tmp_path)) == (tmp_path / "train.csv").stat().st_mtime
    assert source_stamp(str(tmp_path / "no-such")) == 0.0


def test_comparison_groups_keep_different_data_apart_and_flag_mixed_settings(tmp_path):
    """Two uploads both named data.csv, or one file with another label column, are different
    comparisons even though their labels read the same; runs of one recipe with other settings
    are flagged."""
    from threephase_core.config import save_config
    from threephase_core.recipes import build_config
    from threephase_core.runstore import RunStore

    store = RunStore(tmp_path / "runs")
    a, b = tmp_path / "a" / "data.csv", tmp_path / "b" / "data.csv"

    def add(path, seed, label="label", epochs=5):
        cfg = build_config(
            "ft", {"dataset": str(path), "label_column": label, "seed": seed, "ft.epochs": epochs, "model": "tiny"}
        )
        run = store.create("ft", "data", seed)
        save_config(cfg, run.path / "config.json")
        run.write("metrics.json", {"validation": {"accuracy": 0.5}, "test": {"accuracy": 0.5, "f1_macro": 0.5}})
        run.update_status(state="done")

    add(a, 0), add(a, 1), add(a, 2, epochs=9), add(b, 0), add(a, 0, label="intent")
    groups = comparison_groups(runs_frame(store))
    assert [len(g) for _, g in groups] == [3, 1, 1]
    labels = [label for label, _ in groups]
    assert len(set(labels)) == 3 and all(label.startswith("data.csv · ") for label in labels)
    assert mixed_settings(groups[0][1]) == ["ft"]  # 5 and 9 epochs
    assert mixed_settings(groups[1][1]) == []
    assert (
        labels[1] != labels[2] and "(since " in labels[1]
    )  # two groups reading "data.csv · tiny", told apart by their first run
    # An FT run's unused CL section, and float noise from a number input, are not other settings.
    from threephase_core.config import to_dict

    one = to_dict(build_config("ft", {"ft.lr": 6e-05}))
    two = to_dict(build_config("ft", {"ft.lr": 6.000000000000001e-05, "cl.lr": 1e-3}))
    assert settings_key(one) == settings_key(two) != settings_key(to_dict(build_config("ft", {"ft.lr": 7e-05})))


def test_a_projection_whose_cache_cannot_be_written_is_still_shown(finished_store, monkeypatch):
    """A read-only runs folder or a full disk: the background UMAP/PCA result is drawn from memory
    (the page used to wait for the cache file forever)."""
    run = RunStore(finished_store).list()[0]
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    assert ready_projection(run, "pca") is None
    layouts = request_projection(run, "pca").result(timeout=120)
    assert layouts and cached_projection(run, "pca") is None
    ready = ready_projection(run, "pca")
    assert ready is not None and set(ready) == set(layouts)


def test_train_form_values_from_a_config(tmp_path):
    """A run's settings by config key (no page widget keys): what the Train form needs to set it up again."""
    from threephase_core.config import to_dict
    from threephase_core.recipes import build_config

    model = tmp_path / "my-model"
    model.mkdir()
    overrides = {"model": str(model), "dataset": str(tmp_path), "seed": 4, "ft.epochs": 7, "dae.noise_ratio": 0.3}
    cfg = to_dict(build_config("extra_imb", overrides))
    values, notes = train_form_values(cfg, ["ft.epochs", "dae.noise_ratio", "cl.lr"])
    assert notes == []
    assert values["model_kind"] == "path" and values["model"] == str(model)
    assert values["dataset_source"] == "folder" and values["dataset"] == str(tmp_path)
    assert (values["text_column"], values["label_column"]) == ("text", "label")
    assert values["seed"] == 4 and values["ft.epochs"] == 7 and values["dae.noise_ratio"] == 0.3
    assert values["max_length"] == 128 and values["device"] == "auto"
    assert "cl.min_ratio" not in values  # extra_imb fixes its preset: the Imbalance page keeps the user's
    custom = to_dict(
        build_config("three_phase", {"cl.min_ratio": 1.2, "cl.max_ratio": 8.0, "model": "someone/encoder"})
    )
    values, _ = train_form_values(custom, [])
    assert (values["cl.min_ratio"], values["cl.max_ratio"]) == (1.2, 8.0)
    assert values["model_kind"] == "hub" and values["model"] == "someone/encoder"
    preset = to_dict(build_config("three_phase"))
    assert train_form_values(preset, [])[0]["cl.max_ratio"] == 4.0  # the preset's ratio, resolved
    # An FT run leaves the noise and imbalance settings alone (its DAE/CL sections are unused defaults).
    ft = to_dict(build_config("ft", {"dataset": str(tmp_path / "gone")}))
    values, notes = train_form_values(ft, ["ft.epochs", "dae.noise_ratio", "cl.augmentation"])
    assert not {"dae.noise_ratio", "cl.augmentation", "cl.min_ratio"} & set(values) and "ft.epochs" in values
    assert (
        "dataset" not in values and "not on this machine" in notes[0]
    )  # a folder that is gone is not taken for a hub id
    damaged = {**custom, "seed": True, "cl": {"imbalance": ["x"]}, "model": 3}
    values, _ = train_form_values(damaged, ["cl.lr"])
    assert not {"seed", "model_kind", "cl.min_ratio", "cl.lr"} & set(values)
    for bad in ({"recipe": "nope"}, {"recipe": ["three_phase"]}):
        with pytest.raises(ValueError, match="recipe"):
            train_form_values(bad, [])
