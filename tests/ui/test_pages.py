"""AppTests of every workbench page (streamlit.testing.v1), on an empty run store and on one
holding a finished run; the Imbalance sliders redraw the curve; Start/Stop drive a real job."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.ui.helpers import figures, ok, only_manager, texts, values
from threephase_core import workbench as wb
from threephase_core.runstore import RunStore

REPO = Path(__file__).resolve().parents[2]
PAGES = ["data", "imbalance", "train", "embeddings", "results"]
TITLES = {
    "home": "threephase workbench",
    "data": "Data",
    "imbalance": "Imbalance & noise",
    "train": "Train",
    "embeddings": "Embeddings",
    "results": "Results",
}


def test_home_empty_store(empty_store, open_app):
    at = open_app()
    ok(at)
    assert "The method in three sentences" in texts(at)
    assert any(m.label == "Device" for m in at.metric)
    assert at.button(key="home:start").label == "Run 3-Phase on the demo data"
    assert "No runs yet" in texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_empty_store(empty_store, open_app, page):
    at = open_app(page)
    ok(at)
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", ["home", *PAGES])
def test_first_request_to_a_page_url_renders_it_in_the_app_frame(empty_store, open_app, page):
    """A page opened by its URL on the first run (Streamlit's legacy page-folder mode runs
    pages/<page>.py as a script) is drawn by app.py: its own header, and app.py's sidebar."""
    at = open_app(page)
    ok(at)
    assert [t.value for t in at.title] == [TITLES[page]]
    assert any(str(c.value).startswith("Device: ") for c in at.sidebar.caption), "app.py's sidebar is missing"
    page_files = {f.stem for f in (REPO / "pages").glob("*.py")} - {"__init__"}
    assert set(TITLES) == page_files  # every page file is checked here


def test_home_with_finished_run(finished_store, open_app):
    at = open_app()
    ok(at)
    recent = at.dataframe[0].value
    assert list(recent["state"]) == ["done"] and list(recent["recipe"]) == ["three_phase"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_finished_run(finished_store, open_app, page):
    at = open_app(page)
    ok(at)
    assert not at.error, [e.value for e in at.error]
    if page == "embeddings":
        titles = [f["layout"]["title"]["text"] for f in figures(at)]
        assert [t.split(" · ")[0] for t in titles] == ["Base encoder", "After DAE", "After CL", "After FT"]
        assert len(at.metric) == 8  # silhouette and kNN accuracy per phase
    if page == "results":
        table = at.dataframe[0].value
        assert list(table["state"]) == ["done"] and table["test acc"].str.endswith("%").all()
        assert table["test 95% CI"].str.fullmatch(r"\d+%–\d+%").all()
        assert "None" not in table.to_string()
        assert any(m.label == "Test accuracy" for m in at.metric)
        assert len(figures(at)) >= 2  # recipe comparison + per-class F1
        comparison = at.table[0].value
        assert list(comparison["recipe"]) == ["three_phase"] and list(comparison["test acc vs FT"]) == [
            "–"
        ]  # no FT run to pair with


# ---- data -----------------------------------------------------------------------------
def test_data_upload_with_column_mapping(empty_store, open_app):
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    csv = "sentence,intent\n" + "\n".join(
        f"please help with thing number {i},{'a' if i % 3 else 'b'}" for i in range(60)
    )
    at.file_uploader[0].upload("mine.csv", csv.encode(), "text/csv").run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.selectbox if s.label in ("Text column", "Label column")] == ["sentence", "intent"]
    chosen = at.session_state["wb.dataset"]
    assert (
        chosen["spec"].endswith("mine.csv")
        and chosen["text_column"] == "sentence"
        and chosen["label_column"] == "intent"
    )
    assert "In use: mine.csv" in texts(at)
    preview, samples = at.dataframe[0].value, at.table[0].value  # the file's first rows, then samples per class
    assert list(preview.columns) == ["sentence", "intent"] and len(preview) == 5
    shown = samples["text"].tolist()
    at.button(key="data:shuffle").click().run()
    assert at.table[0].value["text"].tolist() != shown


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", b"", "empty"),
        ("bad.jsonl", b'{"text": "a", "label": ', "could not be parsed"),
        ("broken.parquet", b"not a parquet file", "broken.parquet could not be"),
    ],
)
def test_data_bad_upload_gives_a_clear_error(empty_store, open_app, name, content, message):
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    at.file_uploader[0].upload(name, content).run()
    ok(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["wb.dataset"]["spec"] == "demo"  # the working choice is kept


def write_dataset_folder(folder, classes=("x", "y"), rows=40):
    """A dataset folder holding a train.jsonl of `rows` texts over `classes`."""
    folder.mkdir(parents=True)
    lines = [json.dumps({"text": f"{folder.name} text {i}", "label": classes[i % len(classes)]}) for i in range(rows)]
    (folder / "train.jsonl").write_text("\n".join(lines))
    return folder


def test_data_page_lists_the_dataset_folders_under_the_data_root(empty_store, open_app, tmp_path, monkeypatch):
    """The folders under $THREEPHASE_DATA_ROOT are offered (not other folders, not ones without a
    train file); a root typed on the page replaces it; a missing root says so."""
    env_root, typed_root = tmp_path / "env-root", tmp_path / "typed-root"
    write_dataset_folder(env_root / "alpha")
    write_dataset_folder(env_root / "beta", classes=("p", "q", "r"))
    (env_root / "no-train").mkdir()
    write_dataset_folder(typed_root / "gamma")
    monkeypatch.setenv("THREEPHASE_DATA_ROOT", str(env_root))
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("folder").run()
    ok(at)
    folder_box = at.selectbox(key="data:folder")
    assert folder_box.options == ["alpha", "beta", "Another folder…"]
    assert str(env_root) in folder_box.help
    folder_box.set_value(str(env_root / "beta")).run()
    ok(at)
    assert at.session_state["wb.dataset"]["spec"] == str(env_root / "beta")
    assert any(m.label == "Classes" and m.value == "3" for m in at.metric)

    at.text_input(key="data:wb.data_root").input(str(typed_root)).run()
    ok(at)
    assert at.selectbox(key="data:folder").options == ["gamma", "Another folder…"]
    assert at.session_state["wb.data_root"] == str(typed_root)

    at.text_input(key="data:wb.data_root").input(str(tmp_path / "nowhere")).run()
    ok(at)
    assert any(f"the data root {tmp_path / 'nowhere'} does not exist" in i.value for i in at.info), [
        i.value for i in at.info
    ]
    assert at.selectbox(key="data:folder").options == ["Another folder…"]


def use_typed_folder(open_app, folder):
    """Open the Data page and make `folder` the dataset through "Another folder…"."""
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("folder").run()
    at.selectbox(key="data:folder").set_value("__other__").run()
    at.text_input(key="data:folder_path").input(str(folder)).run()
    ok(at)
    assert at.session_state["wb.dataset"]["spec"] == str(folder)
    return at


def test_data_wrong_label_column_gives_a_clear_error(empty_store, open_app, tmp_path):
    folder = tmp_path / "mydata"
    folder.mkdir()
    rows = [{"text": f"text {i}", "label": "x" if i % 2 else "y", "empty": ""} for i in range(40)]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    at = use_typed_folder(open_app, folder)
    label_box = next(s for s in at.selectbox if s.label == "Label column")
    label_box.set_value("empty").run()
    ok(at)
    assert at.error, "choosing an empty label column should say why it cannot be used"
    assert at.session_state["wb.dataset"]["label_column"] == "label"


def test_data_typed_folder_stays_in_use_after_a_page_switch(empty_store, open_app, tmp_path, monkeypatch, goto):
    """A folder typed under "Another folder…" is still the dataset in use when the user comes back
    to the Data page (the folder widget's own state is gone by then): not the first listed folder."""
    listed = tmp_path / "root" / "listed"
    mine = tmp_path / "mine"
    for folder in (listed, mine):
        write_dataset_folder(folder)
    monkeypatch.setenv("THREEPHASE_DATA_ROOT", str(listed.parent))
    at = use_typed_folder(open_app, mine)
    assert at.selectbox(key="data:folder").options[0] == "listed"  # the data root's folder is offered first
    goto(at, "train").run()
    goto(at, "data").run()
    ok(at)
    assert at.session_state["wb.dataset"]["spec"] == str(mine)
    assert at.selectbox(key="data:folder").value == "__other__" and at.text_input(key="data:folder_path").value == str(
        mine
    )


def test_data_hub_id_offline_gives_a_clear_error(empty_store, open_app, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("hub").run()
    at.text_input(key="data:hub_id").input("someone/not-there").run()
    at.button(key="data:hub_load").click().run()
    ok(at)
    assert any("could not load 'someone/not-there'" in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["wb.dataset"]["spec"] == "demo"


def test_data_missing_folder(empty_store, open_app, tmp_path):
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("folder").run()
    at.selectbox(key="data:folder").set_value("__other__").run()
    at.text_input(key="data:folder_path").input(str(tmp_path / "nowhere")).run()
    ok(at)
    assert any("No train file" in e.value for e in at.error)


# ---- imbalance ------------------------------------------------------------------------
def _curve(at) -> list[float]:
    fig = figures(at)[0]
    return values(next(t["y"] for t in fig["data"] if t.get("name") == "f(x)"))


def _threshold_line(at) -> list[float]:
    fig = figures(at)[0]
    return values(next(t["y"] for t in fig["data"] if str(t.get("name", "")).startswith("min ratio")))


def apply(at, **slid):
    """Move the Imbalance page's form sliders and press Apply (they apply together, on submit)."""
    for name, value in slid.items():
        widget = at.number_input(key=f"imb:{name}") if name == "augmentation" else at.slider(key=f"imb:{name}")
        widget.set_value(value)
    at.button(key="imb:apply").click().run()
    ok(at)
    return at


def test_imbalance_sliders_change_the_curve(empty_store, open_app, goto):
    at = open_app("imbalance")
    ok(at)
    curve, line = _curve(at), _threshold_line(at)
    assert max(curve) == pytest.approx(4.0) and line == [1.5, 1.5]
    pairs = next(m.value for m in at.metric if m.label == "Training pairs")

    apply(at, max_ratio=10.0)
    assert max(_curve(at)) == pytest.approx(10.0)
    assert at.pills(key="imb:preset").value == "custom"

    apply(at, min_ratio=3.0, augmentation=6)
    assert _threshold_line(at) == [3.0, 3.0]
    assert int(next(m.value for m in at.metric if m.label == "Training pairs").replace(",", "")) > int(
        pairs.replace(",", "")
    )

    at.pills(key="imb:preset").set_value("extra").run()
    ok(at)
    assert at.slider(key="imb:min_ratio").value == 1.5 and at.slider(key="imb:max_ratio").value == 20.0
    assert max(_curve(at)) == pytest.approx(20.0)

    apply(at, noise=0.3)
    goto(at, "train").run()  # not handed over yet: Train keeps its own values
    ok(at)
    assert at.number_input(key="train:wb.noise").value == pytest.approx(0.6)
    goto(at, "imbalance").run()
    assert at.slider(key="imb:noise").value == pytest.approx(0.3)  # the tried values survive the page switch
    at.button(key="imb:use").click().run()
    ok(at)
    assert any("The Train page now starts from these values" in s.value for s in at.success)
    assert "The Train page uses these values" in texts(at)
    goto(at, "train").run()
    ok(at)
    assert at.number_input(key="train:wb.noise").value == pytest.approx(0.3)
    assert "extra" in texts(at)


def test_imbalance_counts_change_with_the_ratios(empty_store, open_app):
    at = open_app("imbalance")
    sample = [m.value for m in at.markdown if "<div" in m.value]
    at.button(key="imb:shuffle").click().run()
    assert [m.value for m in at.markdown if "<div" in m.value] != sample  # another noisy text
    before = values(figures(at)[1]["data"][1]["y"])  # rows after correction, per class
    at.pills(key="imb:preset").set_value("none").run()
    after_none = values(figures(at)[1]["data"][1]["y"])
    assert after_none == values(figures(at)[1]["data"][0]["y"])  # no change with (1, 1)
    assert before != after_none


def test_imbalance_page_counts_the_rows_a_capped_run_trains_on(empty_store, open_app):
    at = open_app("imbalance")
    full = sum(values(figures(at)[1]["data"][0]["y"]))  # rows per class before correction
    at.session_state["wb.max_train_rows"] = 100
    at.run()
    ok(at)
    capped = values(figures(at)[1]["data"][0]["y"])
    assert full == 354 and abs(sum(capped) - 100) <= len(capped) and min(capped) >= 1
    assert "Training rows capped at 100 of 354" in texts(at)


# ---- train ----------------------------------------------------------------------------
def test_start_launches_a_job_and_stop_cancels_it(empty_store, open_app):
    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.number_input(key="train:wb.t.three_phase.dae.epochs").set_value(30).run()  # long enough to stop it
    at.button(key="train:start").click().run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    job = only_manager().jobs()[0]
    assert job.config.dae.epochs == 30
    assert job.config.model == "tiny" and job.config.recipe == "three_phase" and job.config.dataset == "demo"
    deadline = time.monotonic() + 600  # a guard against a hang only: the loop ends on the job's state
    while job.state == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.state == "running"
    at.run()  # fragments do not tick in AppTest: rerun by hand
    ok(at)
    assert not at.button(key="train:stop").disabled
    at.button(key="train:stop").click().run()
    assert job.wait(600), "the job did not stop"
    assert job.state == "cancelled"
    at.run()
    ok(at)
    assert any("Stopped" in w.value for w in at.warning)
    assert job.run.status["state"] == "cancelled"


def test_second_session_reattaches_to_the_running_job(empty_store, open_app):
    first = open_app("train")
    first.radio(key="train:wb.model_kind").set_value("tiny").run()
    first.button(key="train:start").click().run()
    job = only_manager().jobs()[0]
    second = open_app("train")  # a refresh or a second tab: a new session, same process
    ok(second)
    assert any(job.config.recipe in str(m.value) and "tiny BERT" in str(m.value) for m in second.markdown)
    assert only_manager() is wb.managers()[0]
    only_manager().cancel(job.id)
    assert job.wait(600)


def test_train_settings_reach_the_config(empty_store, open_app):
    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.selectbox(key="train:wb.recipe").set_value("ft").run()
    at.number_input(key="train:wb.t.ft.ft.epochs").set_value(2).run()
    at.number_input(key="train:wb.max_steps").set_value(2).run()
    at.text_input(key="train:wb.seeds").input("3,4").run()
    at.button(key="train:start").click().run()
    ok(at)
    jobs = only_manager().jobs()
    assert [j.config.seed for j in jobs] == [3, 4]
    assert all(j.config.recipe == "ft" and j.config.ft.epochs == 2 and j.config.max_steps == 2 for j in jobs)
    at.run()
    assert not at.button(key="train:clear").disabled
    at.button(key="train:clear").click().run()
    at.button(key="train:stop").click().run()
    for j in jobs:
        assert j.wait(600)
    assert {j.state for j in jobs} <= {"cancelled", "done"}


@pytest.mark.parametrize(
    "kind, value, message",
    [
        ("path", "/no/such/model", "model folder not found"),
        ("hub", "someone/not-cached-model-xyz", "offline"),
    ],
)
def test_bad_model_gives_a_clear_error(empty_store, open_app, monkeypatch, kind, value, message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value(kind).run()
    at.text_input(key=f"train:wb.model_{kind}").input(value).run()
    at.button(key="train:start").click().run()
    ok(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not only_manager().jobs()


def test_bad_seeds_give_a_clear_error(empty_store, open_app):
    at = open_app("train")
    at.text_input(key="train:wb.seeds").input("zero").run()
    at.button(key="train:start").click().run()
    ok(at)
    assert any("seed" in e.value for e in at.error)
    assert not only_manager().jobs()


def test_queue_all_paper_recipes_uses_the_settings_on_screen(empty_store, open_app):
    """The ablation button compares recipes under one set of settings: each recipe takes the
    phase settings shown for the current recipe, except what it fixes (extra_imb's preset)."""
    from threephase_core.recipes import RECIPES

    at = open_app("train")
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.selectbox(key="train:wb.recipe").set_value("three_phase").run()
    at.number_input(key="train:wb.t.three_phase.ft.epochs").set_value(2).run()
    at.number_input(key="train:wb.t.three_phase.cl.batch_size").set_value(8).run()
    at.number_input(key="train:wb.max_steps").set_value(1).run()
    at.button(key="train:ablation").click().run()
    ok(at)
    mgr = only_manager()
    jobs = {j.config.recipe: j.config for j in mgr.jobs()}
    assert set(jobs) == {n for n, r in RECIPES.items() if r.group == "paper"}
    assert all(c.ft.epochs == 2 for c in jobs.values())
    assert all(c.cl.batch_size == 8 for n, c in jobs.items() if "cl" in c.phases or "joint" in c.phases)
    assert (jobs["three_phase"].cl.imbalance, jobs["extra_imb"].cl.imbalance, jobs["no_imb"].cl.imbalance) == (
        "normal",
        "extra",
        "none",
    )
    for j in mgr.pending():
        mgr.cancel(j.id)
    # From a study recipe's screen: what makes it that recipe (SupCon, the frozen encoder) stays its own.
    at.selectbox(key="train:wb.recipe").set_value("supcon").run()
    at.number_input(key="train:wb.t.supcon.ft.epochs").set_value(3).run()
    at.button(key="train:ablation").click().run()
    ok(at)
    again = {j.config.recipe: j.config for j in mgr.jobs()[len(jobs) :]}
    assert set(again) == set(jobs) and all(c.ft.epochs == 3 and not c.ft.freeze_encoder for c in again.values())
    assert all(c.cl.loss == "cosine" for c in again.values())
    for j in mgr.pending():
        mgr.cancel(j.id)


def test_train_form_greys_out_pair_settings_for_view_losses_and_counts_the_runs(empty_store, open_app):
    at = open_app("train")
    at.selectbox(key="train:wb.recipe").set_value("simclr").run()
    ok(at)
    assert at.number_input(key="train:wb.t.simclr.cl.max_pairs").disabled
    assert "No imbalance correction: SimCLR uses no labels." in texts(at)
    at.selectbox(key="train:wb.recipe").set_value("cl_ft").run()
    assert not at.number_input(key="train:wb.t.cl_ft.cl.max_pairs").disabled  # the cosine pair loss uses it
    at.text_input(key="train:wb.seeds").input("0-2").run()
    assert "Start queues 3 runs (one per seed); Queue all queues 21 (7 recipes × 3 seeds)." in texts(at)
    at.text_input(key="train:wb.seeds").input("x").run()
    ok(at)
    assert "Seeds: seed 'x' is not a whole number" in texts(at)


def test_home_button_queues_the_demo_run(empty_store, open_app):
    at = open_app()
    at.session_state["wb.model_kind"] = "tiny"
    at.session_state["wb.max_steps"] = 2
    at.button(key="home:start").click().run()
    ok(at)
    job = only_manager().jobs()[0]
    assert (job.config.recipe, job.config.dataset, job.config.model, job.config.max_steps) == (
        "three_phase",
        "demo",
        "tiny",
        2,
    )
    assert any(t.value == "Train" for t in at.title)  # it switched to the Train page
    assert job.wait(600)
    assert job.state == "done"


# ---- embeddings -----------------------------------------------------------------------
def test_embeddings_swap_pca_for_cached_umap(finished_store, open_app):
    at = open_app("embeddings")
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    run = RunStore(finished_store).list()[0]
    if wb.cached_projection(run, "umap") is None:
        assert all(t.endswith("PCA") for t in titles)
        assert "Computing UMAP" in texts(at)
    wb.request_projection(run, "umap").result(timeout=240)
    at.run()
    ok(at)
    assert all(f["layout"]["title"]["text"].endswith("UMAP") for f in figures(at))
    at.selectbox(key="emb:emb.highlight").set_value("cancel_subscription").run()
    ok(at)
    fig = figures(at)[0]
    muted = [t for t in fig["data"] if t["marker"]["color"] == "#d5d9e0"]
    assert len(muted) == len(fig["data"]) - 1  # every class but the highlighted one is grey
    at.segmented_control(key="emb:emb.method").set_value("pca").run()
    assert all(f["layout"]["title"]["text"].endswith("PCA") for f in figures(at))


def test_embeddings_wait_for_a_just_queued_run_instead_of_showing_an_older_one(finished_store, open_app, goto):
    """The run chosen on Train/Home has no embeddings while it is queued or loading: the page says
    so (and offers the older run) rather than switching the shared run choice to an older run."""
    from threephase_core.recipes import build_config

    at = open_app()
    mgr = only_manager()
    blocker = mgr.submit(build_config("cl_ft", {"model": "tiny", "cl.epochs": 500, "embed_rows": 10}))
    queued = mgr.submit(build_config("ft", {"model": "tiny", "max_steps": 1, "embed_rows": 10}))
    at.session_state["wb.run"] = queued.run.id
    goto(at, "embeddings").run()
    ok(at)
    assert any(f"Run {queued.run.id} is queued behind 1 run" in i.value for i in at.info)
    assert at.session_state["wb.run"] == queued.run.id and not figures(at)
    at.button(key="emb:earlier").click().run()
    ok(at)
    older = RunStore(finished_store).list()
    assert at.session_state["wb.run"] in {r.id for r in older if r.embedding_phases()} and figures(at)
    mgr.cancel(queued.id)
    mgr.cancel(blocker.id)
    assert blocker.wait(30)


def test_results_loads_a_runs_settings_into_train_and_the_rerun_matches(finished_store, open_app, goto):
    """ "Load these settings into Train" then Start queues a run with the same config (but the
    run-specific fields), even after the form was changed for another recipe."""
    from threephase_core.config import to_dict

    original = RunStore(finished_store).list()[0]
    cfg = json.loads((original.path / "config.json").read_text())  # settings no form default would give
    cfg["seed"], cfg["ft"]["epochs"], cfg["cl"]["lr"], cfg["dae"]["noise_ratio"] = 3, 9, 3e-5, 0.45
    (original.path / "config.json").write_text(json.dumps(cfg))
    at = open_app("train")
    at.selectbox(key="train:wb.recipe").set_value("ft").run()
    at.session_state["wb.preset"] = "extra"
    at.session_state["wb.min_ratio"], at.session_state["wb.max_ratio"] = 1.5, 20.0
    goto(at, "results").run()
    ok(at)
    at.button(key="res:load_settings").click().run()
    ok(at)
    assert any(t.value == "Train" for t in at.title)
    assert at.session_state["wb.recipe"] == "three_phase" and at.session_state["wb.preset"] == "normal"
    at.button(key="train:start").click().run()
    ok(at)
    job = only_manager().jobs()[0]
    job.wait(600)
    again, before = to_dict(job.config), original.config
    for key in ("recipe", "dataset", "model", "seed", "max_steps", "max_length", "dae", "cl", "ft"):
        assert again[key] == before[key], key
    assert (again["seed"], again["ft"]["epochs"], again["cl"]["lr"], again["dae"]["noise_ratio"]) == (3, 9, 3e-5, 0.45)


def test_results_shows_the_lora_trainable_share(tmp_path, monkeypatch, open_app):
    """A LoRA run's detail says how many encoder parameters were trainable."""
    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    run, result = run_recipe(
        build_config("lora", {"model": "tiny", "max_steps": 2, "embed_rows": 20}), tmp_path / "runs"
    )
    assert result["state"] == "done"
    monkeypatch.setenv("THREEPHASE_RUNS_DIR", str(tmp_path / "runs"))
    at = open_app("results")
    assert not at.exception
    assert any("LoRA:" in i.value and "trainable" in i.value for i in at.info)


def test_gpu_speed_button_is_off_without_a_gpu(empty_store, open_app):
    at = open_app("train")
    ok(at)
    assert at.button(key="train:gpu_preset").disabled


def test_gpu_speed_button_fills_the_phase_settings(empty_store, open_app, monkeypatch):
    import threephase_core.encoder as encoder
    import threephase_core.gpu_presets as presets

    monkeypatch.setattr(encoder, "device_label", lambda: "NVIDIA Test GPU")
    monkeypatch.setattr(presets, "gpu_memory_gib", lambda: 80.0)
    at = open_app("train")
    at.selectbox(key="train:wb.recipe").set_value("three_phase").run()
    assert at.number_input(key="train:wb.t.three_phase.dae.batch_size").value == 32
    at.button(key="train:gpu_preset").click().run()
    ok(at)
    expected = presets.recipe_gpu_settings(
        "three_phase", 354, 80.0, 128
    )  # the demo's training rows: the tiny-data preset
    assert expected["dae.batch_size"] == 16
    for key in ("dae.batch_size", "cl.batch_size", "ft.batch_size", "ft.epochs"):
        assert at.number_input(key=f"train:wb.t.three_phase.{key}").value == expected[key]
    assert at.number_input(key="train:wb.t.three_phase.ft.lr").value == pytest.approx(expected["ft.lr"])
    at.button(key="train:start").click().run()  # the preset reaches the run's config
    ok(at)
    job = only_manager().jobs()[-1]
    assert job.config.dae.batch_size == 16 and job.config.ft.epochs == expected["ft.epochs"]
    only_manager().cancel(job.id)
    assert job.wait(600)


def test_settings_survive_a_new_browser_session(empty_store, open_app):
    at = open_app("train")
    at.selectbox(key="train:wb.recipe").set_value("ft").run()
    at.number_input(key="train:wb.t.ft.ft.epochs").set_value(7).run()
    at.text_input(key="train:wb.seeds").input("1,2").run()
    ok(at)
    assert (empty_store / "_workbench" / "settings.json").exists()
    fresh = open_app("train")  # a refresh: a new session, empty session state
    ok(fresh)
    assert fresh.selectbox(key="train:wb.recipe").value == "ft"
    assert fresh.number_input(key="train:wb.t.ft.ft.epochs").value == 7
    assert fresh.text_input(key="train:wb.seeds").value == "1,2"


def test_a_broken_settings_file_is_ignored(empty_store, open_app):
    (empty_store / "_workbench").mkdir()
    (empty_store / "_workbench" / "settings.json").write_text("{not json")
    at = open_app("train")
    ok(at)
    assert at.selectbox(key="train:wb.recipe").value == "three_phase"


def test_results_try_it_classifies_typed_texts(finished_store, open_app):
    """The Try it tab classifies typed texts with the run's saved model: the same labels and
    confidences as loading the model by hand; blank lines are skipped."""
    from threephase_core.classifier import load_classifier
    from threephase_core.runstore import RunStore

    at = open_app("results")
    texts = ["where is my parcel", "I was charged twice this month"]
    at.text_area(key="res:try_texts").input("\n" + texts[0] + "\n\n" + texts[1] + "\n")
    at.button(key="FormSubmitter:res:try_form-Classify").click().run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    shown = at.dataframe[-1].value
    run = RunStore(finished_store).list()[0]
    clf = load_classifier(run.path, device="cpu")
    assert list(shown["text"]) == texts and list(shown["label"]) == clf.predict(texts)
    assert np.allclose(shown["confidence"], clf.predict_proba(texts).max(axis=1), atol=1e-5)


def test_results_try_it_says_when_a_run_has_no_model(finished_store, open_app):
    import shutil

    from threephase_core.runstore import RunStore

    shutil.rmtree(RunStore(finished_store).list()[0].model_dir)
    at = open_app("results")
    ok(at)
    assert any("has no saved model" in i.value for i in at.info)


def test_results_deletes_a_run_and_tidies_up_failed_ones(finished_store, open_app):
    import shutil

    from threephase_core.runstore import Run, RunStore

    store = RunStore(finished_store)
    kept = store.list()[0]
    failed = Run(shutil.copytree(kept.path, finished_store / "20200101-000000-ft-demo-s9"))
    failed.update_status(state="failed", message="boom")
    at = open_app("results")
    ok(at)
    assert at.checkbox(key="res:tidy_unfinished").label.startswith("1 failed")
    assert at.button(key="res:tidy").disabled  # nothing ticked yet
    at.checkbox(key="res:tidy_unfinished").check().run()
    at.button(key="res:tidy").click().run()
    ok(at)
    assert [r.id for r in store.list()] == [kept.id] and not failed.path.exists()
    assert any("Deleted 1 run" in s.value for s in at.success)
    at.button(key=f"res:delete_one:{kept.id}").click().run()
    ok(at)
    assert store.list() == [] and not kept.path.exists()
    assert any("No runs" in i.value for i in at.info)


def test_results_comparison_leaves_smoke_runs_out_while_full_runs_exist(finished_store, open_app):
    import json
    import shutil

    from threephase_core.runstore import Run, RunStore

    smoke = RunStore(finished_store).list()[0]  # the fixture's run has a step cap
    full = Run(shutil.copytree(smoke.path, finished_store / "20200101-000000-three_phase-demo-s7"))
    cfg = json.loads((full.path / "config.json").read_text())
    cfg.update(max_steps=0, seed=7)
    (full.path / "config.json").write_text(json.dumps(cfg))
    at = open_app("results")
    ok(at)
    comparison = at.table[0].value
    assert (
        list(comparison["seeds"]) == ["1"] and comparison["test acc"].str.endswith("(1 seed)").all()
    )  # only the full run
    assert not any("step cap" in w.value for w in at.warning)
    at.toggle(key="res:with_smoke").set_value(True).run()
    ok(at)
    assert list(at.table[0].value["seeds"]) == ["2"]
    assert any("1 of these runs had a step cap" in w.value for w in at.warning)


def test_results_all_runs_table_starts_with_the_columns_that_fit_and_shows_every_column_on_request(
    finished_store, open_app
):
    """At 1280 px the "All runs" table fits without scrolling sideways: its first view leaves out
    the model, macro F1, step cap and run id, which the "Every column" toggle brings back."""
    from threephase_core.workbench.result_tables import RUNS_FIRST_VIEW

    at = open_app("results")
    ok(at)
    table = at.dataframe[0]
    assert list(table.proto.column_order) == list(RUNS_FIRST_VIEW)
    assert {"model", "test macro F1", "step cap", "run"} <= set(table.value.columns)  # there, just not shown
    at.toggle(key="res:every_column").set_value(True).run()
    ok(at)
    assert list(at.dataframe[0].proto.column_order) == []
