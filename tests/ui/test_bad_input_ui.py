"""Bad input on every workbench page, the way a user gives it: each case must end in a message a
person can act on (st.error / st.warning), never an exception box, and no run may be queued
that the engine would refuse or that would fail after its first phase trained."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from threephase_core.workbench.job_managers import managers
from threephase_core.workbench.models import model_choice_problem
from threephase_core.workbench.previews import PREVIEW_WORDS, noise_preview, ratio_problem, stopword_preview
from threephase_core.workbench.runs import runs_dir_problem
from threephase_core.workbench.settings import clean_settings, setting_hint


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def errors(at) -> list[str]:
    return [str(e.value) for e in at.error]


def warnings(at) -> list[str]:
    return [str(e.value) for e in at.warning]


def queued_jobs() -> list:
    return [j for m in managers() for j in m.jobs()]


def cancel_all() -> None:
    for m in managers():
        for j in m.jobs():
            m.cancel(j.id)
    for j in queued_jobs():
        assert j.wait(600)


# ---- Data page ------------------------------------------------------------------------
def test_upload_with_a_single_column_says_so(empty_store, open_app):
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    at.file_uploader[0].upload("onecol.csv", b"text\n" + b"\n".join(b"hello %d" % i for i in range(40))).run()
    ok(at)
    assert any("only one column" in e and "label column" in e for e in errors(at)), errors(at) + warnings(at)
    assert at.session_state["wb.dataset"]["spec"] == "demo"


@pytest.mark.parametrize(
    "name, content, message",
    [
        (
            "latin1.csv",
            b"text,label\n" + "\n".join(f"caf\u00e9 {i},{i % 2}" for i in range(40)).encode("latin-1"),
            "not valid UTF-8",
        ),
        ("wrong.json", json.dumps({"a": 1, "b": [1, 2]}).encode(), "expected a list of records"),
        ("oneclass.csv", b"text,label\n" + b"\n".join(b"hello %d,a" % i for i in range(40)), "single class"),
        (
            "perclass.csv",
            b"text,label\n" + b"\n".join(b"hello %d,c%d" % (i, i) for i in range(10)),
            "every label occurs once",
        ),
    ],
)
def test_bad_upload_is_named_and_the_working_choice_kept(empty_store, open_app, name, content, message):
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    at.file_uploader[0].upload(name, content).run()
    ok(at)
    assert any(message in e for e in errors(at)), errors(at)
    assert at.session_state["wb.dataset"]["spec"] == "demo"


def test_noise_preview_of_a_huge_text_is_cut():
    text = "word " * 200_000
    words = noise_preview(text, 0.6)
    assert len(words) <= PREVIEW_WORDS + 1 and words[-1] == ("…", True)
    assert len(stopword_preview(text)) <= PREVIEW_WORDS + 1
    assert [w for w, _ in noise_preview("a b c", 0.0)] == ["a", "b", "c"]  # short texts unchanged


def test_imbalance_page_with_a_huge_text_stays_small(empty_store, open_app, goto):
    # the only text of 8 words or more is the huge one, so the noise preview picks it
    rows = ["text,label"] + [("word " * (100_000 if i == 0 else 4)).strip() + f" {i},{'ab'[i % 2]}" for i in range(60)]
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    at.file_uploader[0].upload("huge.csv", "\n".join(rows).encode()).run()
    ok(at)
    assert at.session_state["wb.dataset"]["spec"].endswith("huge.csv")
    goto(at, "imbalance").run()
    ok(at)
    assert max(len(m.value) for m in at.markdown) < 50_000


# ---- Imbalance page -------------------------------------------------------------------
def test_min_ratio_above_max_ratio_is_flagged_before_start(empty_store, open_app, goto):
    at = open_app("imbalance")
    at.slider(key="imb:min_ratio").set_value(5.0)
    at.slider(key="imb:max_ratio").set_value(2.0)
    at.button(key="imb:apply").click().run()
    ok(at)
    assert any("min ratio (5) is above the max ratio (2)" in w for w in warnings(at)), warnings(at)
    at.button(key="imb:use").click().run()
    goto(at, "train").run()
    ok(at)
    assert any("above the max ratio" in w for w in warnings(at)), warnings(at)
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.button(key="train:start").click().run()
    ok(at)
    assert any("Imbalance & noise page" in e for e in errors(at)), errors(at)
    assert not queued_jobs()


# ---- Train page -----------------------------------------------------------------------
def test_model_path_that_is_a_file(empty_store, open_app, tmp_path):
    f = tmp_path / "model.bin"
    f.write_text("x")
    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value("path").run()
    at.text_input(key="train:wb.model_path").input(str(f)).run()
    at.button(key="train:start").click().run()
    ok(at)
    assert any("is a file, not a model folder" in e for e in errors(at)), errors(at)
    assert not queued_jobs()


@pytest.mark.parametrize(
    "key, value, place",
    [
        ("train:wb.t.three_phase.cl.max_pairs", 1, "Max pairs"),
    ],
)
def test_refused_setting_names_its_field(empty_store, open_app, key, value, place):
    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.number_input(key=key).set_value(value).run()
    at.button(key="train:start").click().run()
    ok(at)
    assert any(place in e and "Phase 2" in e for e in errors(at)), errors(at)
    assert not queued_jobs()


@pytest.mark.parametrize(
    "seeds, message", [("1,,x", "seed 'x'"), ("99999999999", "4294967295"), (" ", "at least one seed")]
)
def test_bad_seeds_are_refused_with_the_field_named(empty_store, open_app, seeds, message):
    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.text_input(key="train:wb.seeds").input(seeds).run()
    at.button(key="train:start").click().run()
    ok(at)
    assert any(e.startswith("Seeds:") and message in e for e in errors(at)), errors(at)
    assert not queued_jobs()


def test_a_train_cap_too_small_for_phase_2_is_refused_before_queueing(empty_store, open_app):
    """max_train_rows=1 keeps one row per class: phase 2 finds no pairs and the run used to fail
    after phase 1 had trained."""
    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.number_input(key="train:wb.max_train_rows").set_value(1).run()
    at.button(key="train:start").click().run()
    ok(at)
    assert any("Max training rows" in e and "phase 2" in e for e in errors(at)), errors(at)
    assert not queued_jobs()
    at.selectbox(key="train:wb.recipe").set_value("ft").run()  # no phase 2: the cap is fine
    at.number_input(key="train:wb.max_steps").set_value(1).run()
    at.button(key="train:start").click().run()
    ok(at)
    assert not errors(at)
    assert [j.config.recipe for j in queued_jobs()] == ["ft"]
    cancel_all()


def test_home_demo_button_refuses_an_empty_model_folder(empty_store, open_app):
    """The Train page refuses 'Local model folder' with an empty path; the Home button used to
    queue the run with the default model instead."""
    at = open_app()
    at.session_state["wb.model_kind"] = "path"
    at.session_state["wb.model_path"] = ""
    at.button(key="home:start").click().run()
    ok(at)
    assert any("give a model folder" in e for e in errors(at)), errors(at)
    assert not queued_jobs()


def test_home_demo_button_takes_a_path_as_a_path(empty_store, open_app):
    at = open_app()
    at.session_state["wb.model_kind"] = "path"
    at.session_state["wb.model_path"] = "someone/model"  # looks like a hub id, but was typed as a folder
    at.button(key="home:start").click().run()
    ok(at)
    assert any("model folder not found: someone/model" in e for e in errors(at)), errors(at)
    assert not queued_jobs()


# ---- the runs folder ------------------------------------------------------------------
@pytest.fixture
def runs_dir_is_a_file(tmp_path, monkeypatch) -> Path:
    f = tmp_path / "runs"
    f.write_text("not a folder")
    monkeypatch.setenv("THREEPHASE_RUNS_DIR", str(f))
    return f


def test_runs_folder_that_is_a_file_is_a_message(runs_dir_is_a_file, open_app):
    at = open_app("train")
    ok(at)
    assert any("is a file, not a folder" in e and "THREEPHASE_RUNS_DIR" in e for e in errors(at)), errors(at)
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.button(key="train:start").click().run()
    ok(at)
    assert not queued_jobs()
    home = open_app()
    home.button(key="home:start").click().run()
    ok(home)
    assert not queued_jobs()


def test_upload_with_a_runs_folder_that_is_a_file(runs_dir_is_a_file, open_app):
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    at.file_uploader[0].upload("x.csv", b"text,label\n" + b"\n".join(b"t %d,%d" % (i, i % 2) for i in range(40))).run()
    ok(at)
    assert any("x.csv could not be kept" in e for e in errors(at)), errors(at)


def test_runs_dir_problem(tmp_path):
    assert runs_dir_problem(tmp_path) is None
    assert runs_dir_problem(tmp_path / "new" / "runs") is None  # can be made
    (tmp_path / "f").write_text("x")
    assert "is a file" in runs_dir_problem(tmp_path / "f")
    assert "cannot be made" in runs_dir_problem(tmp_path / "f" / "runs")


# ---- saved settings -------------------------------------------------------------------
@pytest.mark.parametrize(
    "saved",
    [
        {"wb.max_ratio": 100.0},
        {"wb.min_ratio": "x"},
        {"wb.dataset": "demo"},
        {"wb.seeds": 5},
        {"wb.noise": None},
        {"wb.recipe": "gone"},
        {"wb.t.three_phase.dae.epochs": "x"},
        {"wb.t.three_phase.ft.lr": 5.0},
    ],
)
def test_a_saved_setting_the_widgets_cannot_show_is_dropped(empty_store, open_app, saved):
    (empty_store / "_workbench").mkdir()
    (empty_store / "_workbench" / "settings.json").write_text(json.dumps(saved))
    for page in ("data", "imbalance", "train"):
        at = open_app(page)
        ok(at)
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.number_input(key="train:wb.max_steps").set_value(1).run()
    at.button(key="train:start").click().run()
    ok(at)
    assert not errors(at)
    assert len(queued_jobs()) == 1
    cancel_all()


# ---- Results and Embeddings -----------------------------------------------------------
def _damage(store: Path, name: str, patch: dict) -> None:
    run = next(p for p in store.iterdir() if (p / "config.json").exists())
    data = json.loads((run / name).read_text())
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    (run / name).write_text(json.dumps(data))


@pytest.mark.parametrize(
    "name, patch",
    [
        ("metrics.json", {"phases": {"cl": {"data": {"counts_before": {"a": 1}, "counts_after": 3}}}}),
        ("metrics.json", {"before_ft": {"val_acc": "x"}}),
        ("metrics.json", {"ft": {"lora": {"trainable_params": 5}}}),
        ("metrics.json", {"ft": {"lora": "yes"}}),
        ("metrics.json", {"ft": {"evals": "x"}}),
        ("metrics.json", {"ft": {"evals": [1, "a", {"step": "x"}]}}),
        ("metrics.json", {"phases": {"dae": {"wall_s": "slow", "silhouette": "x", "data": {"pairs": [1]}}}}),
        ("data.json", {"label_names": [{"a": 1}]}),
    ],
)
def test_damaged_run_files_do_not_break_results_or_embeddings(finished_store, open_app, name, patch):
    _damage(finished_store, name, patch)
    for page in ("results", "embeddings"):
        at = open_app(page)
        ok(at)


def test_results_and_embeddings_while_a_run_is_in_its_first_phase(empty_store, open_app, goto):
    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.number_input(key="train:wb.t.three_phase.dae.epochs").set_value(50).run()  # stays in phase 1
    at.text_input(key="train:wb.seeds").input("0,1").run()  # and a second one waits in the queue
    at.button(key="train:start").click().run()
    ok(at)
    running, waiting = queued_jobs()
    deadline = time.monotonic() + 600  # a guard against a hang only: the loop ends on the first map
    while not running.run.embedding_phases() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running.state == "running" and waiting.state == "queued"
    goto(at, "results").run()
    ok(at)
    at.selectbox(key="res:wb.run").set_value(running.run.id).run()
    ok(at)
    assert any("still training" in i.value for i in at.info), [i.value for i in at.info]
    assert not any("did not reach the end" in i.value for i in at.info)
    goto(at, "embeddings").run()
    ok(at)
    assert any("still training" in c.value for c in at.caption)
    goto(at, "train").run()
    at.button(key="train:clear").click().run()  # cancel the queued one
    ok(at)
    assert waiting.state == "cancelled"  # at once (its job ends when the worker reaches it)
    assert running.state == "running"
    at.button(key="train:stop").click().run()
    assert running.wait(600) and running.state == "cancelled"
    assert waiting.wait(30)
    at.run()
    ok(at)
    assert "base" in running.run.embedding_phases()  # finished work stays on disk


# ---- the workbench helpers behind these messages --------------------------------------
def test_setting_hint_names_the_field_of_the_refused_key():
    places = {"cl.max_pairs": "Phase 2 · CL › Max pairs", "cl.max_ratio": "Imbalance & noise page", "seed": "Seeds"}
    assert setting_hint("cl.max_pairs must be 0 or >= 2, got 1", places).startswith("Phase 2 · CL › Max pairs: ")
    assert setting_hint("seed must be < 2**32", places).startswith("Seeds: ")
    assert setting_hint("ft.lr must be > 0", places) == "ft.lr must be > 0"  # unknown: unchanged


def test_clean_settings_drops_what_a_widget_cannot_show():
    from pages._parts.form import LIMITS
    from pages._parts.ui import DEFAULTS

    saved = {
        "wb.max_ratio": 100.0,
        "wb.min_ratio": 2,
        "wb.noise": None,
        "wb.dataset": "demo",
        "wb.seeds": "0,1",
        "wb.recipe": "gone",
        "wb.max_steps": 2.5,
        "wb.t.ft.ft.epochs": 3,
        "wb.max_length": 4,
        "wb.embed_rows": 10**9,
    }
    clean = clean_settings(saved, DEFAULTS, {"wb.recipe": ["three_phase", "ft"]}, LIMITS)
    # r_max 100 is above the config's limit (50), 4 tokens below max_length's (8); embed_rows has no maximum
    assert clean == {"wb.min_ratio": 2.0, "wb.seeds": "0,1", "wb.t.ft.ft.epochs": 3, "wb.embed_rows": 10**9}


def test_model_choice_problem():
    assert model_choice_problem("tiny", "tiny") is None
    assert model_choice_problem("path", " ") == "give a model folder"
    assert "hub id" in model_choice_problem("hub", "")
    assert "model folder not found" in model_choice_problem("path", "someone/model")


def test_ratio_problem():
    assert ratio_problem(1.5, 4.0) is None and ratio_problem(4.0, 4.0) is None
    assert "above the max ratio" in ratio_problem(5.0, 1.0)
