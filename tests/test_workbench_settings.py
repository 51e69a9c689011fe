"""Saved workbench settings (workbench.settings) and upload pruning (workbench.datasets)."""

from __future__ import annotations

import json
import os
import time

from threephase_core.workbench.datasets import prune_uploads, save_upload
from threephase_core.workbench.settings import SETTINGS_FILE, load_settings, save_settings


def test_settings_round_trip_and_skip_unjsonable(tmp_path):
    saved = save_settings({"wb.a": 1, "wb.b": {"spec": "demo"}, "wb.c": object()}, tmp_path)
    assert saved == {"wb.a": 1, "wb.b": {"spec": "demo"}}
    assert load_settings(tmp_path) == saved
    assert load_settings(tmp_path / "none") == {}
    (tmp_path / SETTINGS_FILE).write_text("[1, 2]")
    assert load_settings(tmp_path) == {}


def test_prune_uploads_keeps_recent_used_and_kept(tmp_path):
    old = time.time() - 40 * 86400
    paths = {}
    for name in ("unused", "used_by_run", "kept", "recent"):
        p = save_upload(f"{name}.csv", f"text,label\n{name},0\n".encode(), tmp_path)
        paths[name] = p
        if name != "recent":
            os.utime(p.parent, (old, old))
    run = tmp_path / "20260101-run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"dataset": str(paths["used_by_run"])}))
    removed = prune_uploads(tmp_path, older_than_days=30, keep={str(paths["kept"])})
    assert removed == [paths["unused"].parent]
    assert all(paths[n].exists() for n in ("used_by_run", "kept", "recent")) and not paths["unused"].exists()
