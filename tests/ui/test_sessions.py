"""A class on one server: each browser session keeps its own settings, the queue is shared and
records who queued each run, and on a shared server a session stops only its own runs (two
AppTest sessions in one process share the job manager, as two browsers on one server do)."""

from __future__ import annotations

import time

import pytest

from threephase_core import workbench as wb
from threephase_core.workbench.sessions import may_stop, owner_text, users_mode, valid_session_id
from threephase_core.workbench.settings import load_settings, save_settings


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize(
    ("value", "mode"), [(None, "single"), ("", "single"), ("single", "single"), ("Shared", "shared")]
)
def test_users_mode_reads_the_environment(value, mode):
    assert users_mode({} if value is None else {"THREEPHASE_USERS": value}) == mode


def test_an_unknown_users_mode_is_named():
    with pytest.raises(ValueError, match="THREEPHASE_USERS='class' is not a mode"):
        users_mode({"THREEPHASE_USERS": "class"})


@pytest.mark.parametrize(
    ("owner", "shared", "allowed"),
    [("aaaa1111", False, True), ("aaaa1111", True, True), ("bbbb2222", True, False), (None, True, True)],
)
def test_may_stop(owner, shared, allowed):
    assert may_stop(owner, "aaaa1111", shared) is allowed


def test_owner_text():
    assert [owner_text(o, "aaaa1111") for o in ("aaaa1111", "bbbb2222", None)] == ["you", "session bbbb2222", "–"]


def test_settings_saved_per_session_and_last_for_new_sessions(tmp_path):
    save_settings({"wb.seeds": "1"}, tmp_path, session="aaaa1111")
    save_settings({"wb.seeds": "2"}, tmp_path, session="bbbb2222")
    assert load_settings(tmp_path, "aaaa1111") == {"wb.seeds": "1"}  # a refresh of session a finds its own
    assert load_settings(tmp_path, "cccc3333") == {"wb.seeds": "2"}  # a new session: the last saved
    assert load_settings(tmp_path) == {"wb.seeds": "2"}
    assert load_settings(tmp_path, "../../etc/passwd") == {"wb.seeds": "2"} and not valid_session_id("../x")


def start_long_run(at):
    at.radio(key="train:wb.model_kind").set_value("tiny").run()
    at.number_input(key="train:wb.t.three_phase.dae.epochs").set_value(30).run()  # long enough to stop it
    at.button(key="train:start").click().run()
    ok(at)
    (manager,) = wb.managers()
    job = manager.jobs()[-1]
    deadline = time.monotonic() + 600  # a guard against a hang only: the loop ends on the job's state
    while job.state == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.state == "running"
    return job


def test_two_sessions_on_a_shared_server(empty_store, open_app, monkeypatch):
    monkeypatch.setenv("THREEPHASE_USERS", "shared")
    a = open_app("train")
    a.text_input(key="train:wb.seeds").set_value("3").run()
    b = open_app("train")  # a second student: starts from the last saved settings
    ok(b)
    assert b.text_input(key="train:wb.seeds").value == "3"
    b.text_input(key="train:wb.seeds").set_value("5").run()
    a.run()
    assert a.text_input(key="train:wb.seeds").value == "3"  # each session keeps its own
    ids = a.session_state["wb._session"], b.session_state["wb._session"]
    assert ids[0] != ids[1] and all(valid_session_id(i) for i in ids)
    assert a.query_params["session"] == ids[0]  # a refresh of this address is the same session
    assert any(f"this browser is session **{ids[0]}**" in c.value for c in a.sidebar.caption)

    job = start_long_run(a)
    assert job.owner == ids[0] and job.status()["owner"] == ids[0]
    b.run()
    assert not b.button(key="train:stop").disabled  # the queue is shared: b sees a's running job
    b.button(key="train:stop").click().run()
    ok(b)
    assert any(f"queued by session {ids[0]}" in e.value for e in b.error)
    assert job.state == "running" and not job.progress.cancel_requested
    a.run()
    a.button(key="train:stop").click().run()
    assert job.wait(600), "the job did not stop"
    assert job.state == "cancelled"


def test_a_refresh_on_a_shared_server_is_the_same_session(empty_store, open_app, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.ui.conftest import APP

    monkeypatch.setenv("THREEPHASE_USERS", "shared")
    a = open_app("train")
    a.text_input(key="train:wb.seeds").set_value("7").run()
    sid = a.session_state["wb._session"]
    other = open_app("train")
    other.text_input(key="train:wb.seeds").set_value("9").run()  # the last saved settings are now 9
    again = AppTest.from_file(APP, default_timeout=300)
    again.query_params["session"] = sid  # the refreshed address
    again.switch_page("pages/train.py")
    again.run()
    ok(again)
    assert again.session_state["wb._session"] == sid and again.text_input(key="train:wb.seeds").value == "7"


def test_on_a_single_user_server_any_session_stops_any_run(empty_store, open_app, monkeypatch):
    monkeypatch.delenv("THREEPHASE_USERS", raising=False)
    a = open_app("train")
    job = start_long_run(a)
    b = open_app("train")  # a refresh: a new session, the same person
    assert "session" not in b.query_params
    b.button(key="train:stop").click().run()
    ok(b)
    assert not b.error
    assert job.wait(600), "the job did not stop"
    assert job.state == "cancelled"
