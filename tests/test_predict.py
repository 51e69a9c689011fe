"""Predictions for new texts: finding a run's model, reading texts, the table, and `predict` on
the command line (exit 2 with one line for every kind of bad input)."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from tests.helpers import cli
from threephase_core.classifier import load_classifier
from threephase_core.predict import PredictError, model_folder, predictions, read_texts
from threephase_core.recipes import build_config
from threephase_core.runner import run_recipe
from threephase_core.runstore import RunStore

TEXTS = [
    "where is my parcel",
    "I was charged twice this month",
    "the app crashes when I log in",
    "please cancel my plan",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_path):
    """A runs folder with one finished FT run (tiny model) and, newer, one run without a model."""
    runs = tmp_path_factory.mktemp("predict") / "runs"
    run, result = run_recipe(build_config("ft", {"model": tiny_model_path, "max_steps": 3, "embed_rows": 10}), runs)
    assert result["state"] == "done" and run.has_model()
    unfinished = RunStore(runs).create("ft", "demo", 1)
    (unfinished.path / "config.json").write_text(json.dumps({"recipe": "ft"}))
    os.utime(unfinished.path, (2e9, 2e9))  # the newest folder: `latest` must skip it
    return runs, run, unfinished


def test_model_folder_finds_a_run_by_id_path_model_folder_and_latest(trained):
    runs, run, _ = trained
    assert model_folder(run.id, runs) == run.model_dir
    assert model_folder(str(run.path), runs) == run.model_dir
    assert model_folder(str(run.model_dir), runs) == run.model_dir
    assert model_folder("latest", runs) == run.model_dir  # the newer run has no model


def test_model_folder_says_what_is_missing(trained, tmp_path):
    runs, _, unfinished = trained
    with pytest.raises(PredictError, match="has no saved model: it did not finish fine-tuning"):
        model_folder(unfinished.id, runs)
    with pytest.raises(PredictError, match=r"no run 'nope' in .*'latest'"):
        model_folder("nope", runs)
    with pytest.raises(PredictError, match="no run in .* has a saved model yet"):
        model_folder("latest", tmp_path / "empty")


def test_predictions_table_agrees_with_the_classifier(trained):
    clf = load_classifier(trained[1].path, device="cpu")
    table = predictions(clf, TEXTS, top_k=3)
    proba = clf.predict_proba(TEXTS)
    assert list(table["text"]) == TEXTS
    assert list(table["label"]) == clf.predict(TEXTS)
    assert np.allclose(table["confidence"], proba.max(axis=1))
    for row, p in zip(table.itertuples(), proba):
        shown = [
            (name, float(share.rstrip("%")) / 100)
            for name, share in (part.rsplit(" ", 1) for part in row.runners_up.split(", "))
        ]
        assert len(shown) == 2 and row.label not in [name for name, _ in shown]
        expected = sorted(((clf.label_names[j], p[j]) for j in range(len(p))), key=lambda x: -x[1])[1:3]
        assert [name for name, _ in shown] == [name for name, _ in expected]
        assert row.confidence >= shown[0][1] - 5e-4 >= shown[1][1] - 1e-3  # best first, to the shown precision
    assert (predictions(clf, TEXTS[:1], top_k=1)["runners_up"] == "").all()
    assert predictions(clf, []).empty


def test_read_texts_skips_blank_lines_and_names_bad_files(tmp_path):
    good = tmp_path / "texts.txt"
    good.write_bytes("\ufeffhello there\n\n   \n  second text  \r\nthird".encode("utf-8"))
    assert read_texts(str(good)) == ["hello there", "second text", "third"]
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    for path, message in (
        (tmp_path / "none.txt", "no such file"),
        (tmp_path, "is a folder"),
        (tmp_path / "latin.txt", "not UTF-8"),
    ):
        with pytest.raises(PredictError, match=message):
            read_texts(str(path))


def test_cli_predict_prints_and_writes_the_predictions(trained, tmp_path):
    runs, run, _ = trained
    out_csv = tmp_path / "p.csv"
    # texts before and after options, and blank ones dropped
    done = cli(
        "predict",
        "latest",
        TEXTS[0],
        "--runs-dir",
        str(runs),
        "--device",
        "cpu",
        *TEXTS[1:],
        " ",
        "--out",
        str(out_csv),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    expected = predictions(load_classifier(run.path, device="cpu"), TEXTS)
    assert [ln.split("\t")[0] for ln in lines] == list(expected["label"])
    assert [re.sub(r"\s+\(.*\)$", "", ln.split("\t")[2]) for ln in lines] == TEXTS
    written = pd.read_csv(out_csv, keep_default_na=False)
    assert list(written["text"]) == TEXTS and np.allclose(written["confidence"], expected["confidence"], atol=1e-6)
    piped = cli(
        "predict", run.id, "--file", "-", "--runs-dir", str(runs), "--top", "1", stdin="\n".join(TEXTS) + "\n\n"
    )
    assert piped.returncode == 0, piped.stderr
    assert [ln.split("\t") for ln in piped.stdout.strip().splitlines()] == [
        [lab, f"{c:.1%}", t] for lab, c, t in zip(expected["label"], expected["confidence"], TEXTS)
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope", "a text"], "no run 'nope'"),
        (["latest"], "no texts to classify"),
        (["latest", "a text", "--file", "x.txt"], "texts or --file, not both"),
        (["latest", "--file", "/no/such/file.txt"], "no such file"),
        (["latest", "a text", "--top", "0"], "--top 0"),
        (["UNFINISHED", "a text"], "has no saved model"),
        (["latest", "a text", "--device", "bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_cli_predict_refuses_bad_input_with_one_line(trained, args, message):
    runs, _, unfinished = trained
    args = [unfinished.id if a == "UNFINISHED" else a for a in args]
    done = cli("predict", *args, "--runs-dir", str(runs))
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].split(": ", 1)[0] in ("error", "threephase predict")


def test_cli_predict_names_a_damaged_model(trained, tmp_path):
    import shutil

    runs, run, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy)
    (copy / "model" / "head.safetensors").write_bytes(b"cut")
    done = cli("predict", str(copy), "a text", "--runs-dir", str(runs))
    assert done.returncode == 2 and "is damaged (head.safetensors" in done.stderr and "Traceback" not in done.stderr


def test_cli_predict_takes_texts_that_start_with_a_dash_after_double_dash(trained):
    runs, run, _ = trained
    done = cli(
        "predict",
        "latest",
        "--runs-dir",
        str(runs),
        "--top",
        "1",
        "--",
        "-5 stars, would not buy again",
        "--verbose please",
    )
    assert done.returncode == 0, done.stderr
    assert [ln.split("\t")[2] for ln in done.stdout.strip().splitlines()] == [
        "-5 stars, would not buy again",
        "--verbose please",
    ]
