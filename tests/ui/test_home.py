"""Home: drawn without the heavy libraries, the demo's step cap on its button, the demo's expected
duration here, and the queued demo run shown at once."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.ui.helpers import only_manager, texts

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "demo_run"
HEAVY = ("torch", "transformers", "sentence_transformers", "umap", "sklearn", "scipy", "numba")

# Draw Home through app.py in a fresh interpreter and record which thread first imported each heavy
# library: the page's own script thread must import none (the warm-up threads app.py starts after
# the page is drawn may).
PROBE = f"""
import importlib.abc, json, sys, threading
HEAVY = {HEAVY!r}
first = {{}}
class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.split(".")[0]
        if top in HEAVY and top not in first:
            first[top] = threading.current_thread().name
        return None
sys.meta_path.insert(0, Probe())
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=300)
at.run()
assert not at.exception, [e.value for e in at.exception]
shown = [m.value for m in at.markdown] + [c.value for c in at.caption]
print(json.dumps({{"first": dict(first), "home": any("The method in three sentences" in s for s in shown)}}))
"""


def test_home_is_drawn_without_importing_torch_transformers_umap_or_sklearn(empty_store):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["home"]
    by_page = {lib: thread for lib, thread in result["first"].items() if "warm-up" not in thread}
    assert by_page == {}, f"imported while drawing Home: {by_page}"


def test_the_step_cap_is_on_the_demo_button(empty_store, open_app):
    at = open_app()
    assert at.button(key="home:start").label == "Run 3-Phase on the demo data"
    at.session_state["wb.max_steps"] = 5
    at.run()
    assert at.button(key="home:start").label == "Run 3-Phase on the demo data · 5 steps per phase"


def test_home_states_the_demos_duration_from_an_earlier_run_here(empty_store, open_app):
    at = open_app()
    # no run here yet: the packaged model's prior
    assert "from a rough figure for a 2-core CPU (no run of this model here yet)" in texts(at)
    earlier = empty_store / "20261206-075032-three_phase-demo-s0"
    shutil.copytree(FIXTURE, earlier)
    status = json.loads((earlier / "status.json").read_text())
    status["host"] = socket.gethostname()
    (earlier / "status.json").write_text(json.dumps(status))
    at.run()
    assert "About 3 min 16 s on this machine, from 1 earlier run like this one here." in texts(at)


def test_the_queued_demo_run_is_listed_at_once(empty_store, open_app, goto):
    at = open_app()
    assert "No runs yet" in texts(at)
    at.session_state["wb.model_kind"] = "tiny"
    at.session_state["wb.max_steps"] = 1
    at.button(key="home:start").click().run()
    assert any(t.value == "Train" for t in at.title)  # Home switched to Train before drawing anything
    job = only_manager().jobs()[0]
    assert job.owner == at.session_state["wb._session"]  # the demo is this session's run, as a Train run is
    goto(at, "home").run()  # back on Home, whatever the job's state by now
    assert not at.exception
    assert "No runs yet" not in texts(at)
    table = at.dataframe[0].value
    assert len(table) == 1 and table["recipe"].tolist() == ["three_phase"]
    assert "None" not in table.astype(str).to_numpy().ravel().tolist()  # a queued run: '–', never a raw None
    assert job.wait(600)
