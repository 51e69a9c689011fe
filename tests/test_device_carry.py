"""bench/device_carry.py: what travels to the GPU machine comes back out the same there."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import device_carry  # noqa: E402

from threephase_core.data import load_dataset  # noqa: E402


def _dataset(root: Path) -> Path:
    folder = root / "toy"
    folder.mkdir(parents=True)
    texts = [f"review {i}: good\u2028still good" if i % 2 else f"review {i} bad\x85really" for i in range(60)]
    for split, rows in (("train", range(0, 40)), ("test", range(40, 60))):
        pd.DataFrame({"text": [texts[i] for i in rows], "label": [i % 2 for i in rows]}).to_parquet(folder / f"{split}.parquet")
    (folder / "labels.json").write_text(json.dumps(["neg", "pos"]))
    return folder


def test_pack_then_unpack_gives_the_same_data_and_fp16_rounded_weights(tmp_path, tiny_model_path, capsys):
    src = _dataset(tmp_path / "shared")
    out = tmp_path / "carry"
    rc = device_carry.main(["pack", "--out", str(out), "--model", tiny_model_path, "--data-root", str(tmp_path / "shared"), "--datasets", "toy", "--xz-over-mb", "0"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["fits"] and report["sizes"]["data"] > 0
    packed = out / "data" / "toy"
    assert sorted(p.name for p in packed.iterdir()) == ["labels.json", "test.jsonl.xz", "train.jsonl.xz"]
    narrow = load_file(str(out / "model16" / "model.safetensors"))
    assert all(v.dtype == torch.float16 for v in narrow.values() if v.is_floating_point())

    assert device_carry.main(["unpack", str(out), "--model-out", str(tmp_path / "fp32")]) == 0
    original, carried = load_dataset(str(src)), load_dataset(str(packed))
    assert carried.label_names == ["neg", "pos"]
    for split in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(original.split(split).reset_index(drop=True), carried.split(split).reset_index(drop=True))
    full, wide = load_file(str(Path(tiny_model_path) / "model.safetensors")), load_file(str(tmp_path / "fp32" / "model.safetensors"))
    assert full.keys() == wide.keys()
    for k, v in full.items():
        assert wide[k].dtype == v.dtype
        np.testing.assert_array_equal(wide[k].numpy(), v.half().float().numpy() if v.is_floating_point() else v.numpy())


def test_pack_refuses_a_missing_dataset(tmp_path, tiny_model_path):
    try:
        device_carry.main(["pack", "--out", str(tmp_path / "c"), "--model", "", "--data-root", str(tmp_path), "--datasets", "nope"])
    except SystemExit as e:
        assert "no dataset folder" in str(e)
    else:
        raise AssertionError("expected a clear error")


def test_pack_never_deletes_a_folder_it_did_not_make(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    try:
        device_carry.main(["pack", "--out", str(precious), "--model", "", "--datasets", ""])
    except SystemExit as e:
        assert "was not made by this script" in str(e)
    else:
        raise AssertionError("expected a refusal")
    assert (precious / "notes.txt").read_text() == "keep me"


def test_unpack_fails_on_a_folder_pack_did_not_make_or_that_lost_files(tmp_path, capsys):
    assert device_carry.main(["unpack", str(tmp_path)]) == 1
    assert "no threephase_carry.json" in capsys.readouterr().err
    _dataset(tmp_path / "shared")
    out = tmp_path / "carry"
    assert device_carry.main(["pack", "--out", str(out), "--model", "", "--data-root", str(tmp_path / "shared"), "--datasets", "toy"]) == 0
    capsys.readouterr()
    for f in (out / "data" / "toy").iterdir():
        f.unlink()
    (out / "data" / "toy").rmdir()
    assert device_carry.main(["unpack", str(out)]) == 1
    assert "lacks what pack put there" in capsys.readouterr().err
