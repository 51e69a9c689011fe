"""The data root: where dataset folders are found by name (threephase_core/data_root.py), as the
engine, the `datasets` and `run` commands and `load_dataset` use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from threephase_core import cli
from threephase_core.data import DataError, available_datasets, load_dataset
from threephase_core.data_root import ENV_VAR, data_root, resolve_dataset, root_problem


def dataset_folder(folder: Path, classes=("a", "b", "c"), rows: int = 60) -> Path:
    folder.mkdir(parents=True)
    lines = [
        json.dumps({"text": f"{folder.name} text number {i}", "label": classes[i % len(classes)]}) for i in range(rows)
    ]
    (folder / "train.jsonl").write_text("\n".join(lines))
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A data root with two dataset folders, a folder without a train file, and a stray file."""
    base = tmp_path / "datasets"
    dataset_folder(base / "alpha")
    dataset_folder(base / "beta", classes=("x", "y"))
    (base / "notes").mkdir()
    (base / "README.txt").write_text("not a dataset")
    return base


def test_the_root_given_wins_then_the_environment_then_data(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    assert data_root(tmp_path / "given") == tmp_path / "given"
    assert data_root() == data_root("") == data_root("  ") == tmp_path / "from-env"
    monkeypatch.delenv(ENV_VAR)
    assert data_root() == Path("data")
    monkeypatch.setenv(ENV_VAR, "")
    assert data_root() == Path("data")


def test_a_name_is_the_folder_under_the_root_and_paths_stay_paths(root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_dataset("alpha", root) == str(root / "alpha")
    assert resolve_dataset("demo", root) == "demo"
    assert resolve_dataset(str(root / "beta"), tmp_path / "elsewhere") == str(root / "beta")  # a path as given
    assert (
        resolve_dataset("datasets/beta", tmp_path / "elsewhere") == "datasets/beta"
    )  # relative to the working folder
    assert resolve_dataset("gamma", root) == "gamma"  # not under the root: left for the file / hub readers
    assert resolve_dataset("someone/dataset", root) == "someone/dataset"
    monkeypatch.setenv(ENV_VAR, str(root))
    assert resolve_dataset("beta") == str(root / "beta")


def test_available_datasets_lists_the_demo_and_the_folders_with_a_train_file(root, tmp_path):
    assert available_datasets(root) == [
        ("demo", "bundled demo: customer-support intents, imbalanced"),
        (str(root / "alpha"), "dataset folder alpha"),
        (str(root / "beta"), "dataset folder beta"),
    ]
    assert available_datasets(tmp_path / "missing") == available_datasets(root)[:1]
    assert available_datasets(root / "README.txt") == available_datasets(root)[:1]


def test_root_problem_names_a_missing_root_and_a_file(root):
    assert root_problem(root) is None
    assert root_problem(root / "nowhere") == f"the data root {root / 'nowhere'} does not exist"
    assert root_problem(root / "README.txt") == f"the data root {root / 'README.txt'} is not a folder"


def test_load_dataset_reads_a_name_under_the_root(root, monkeypatch):
    ds = load_dataset("beta", root=root)
    assert ds.name == "beta" and ds.source == str(root / "beta") and ds.label_names == ["x", "y"]
    monkeypatch.setenv(ENV_VAR, str(root))
    assert load_dataset("alpha").label_names == ["a", "b", "c"]


def test_a_name_found_nowhere_says_where_it_was_looked_for(root, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match=f"nor a folder under the data root {root}"):
        load_dataset("gamma", root=root)


def test_datasets_command_lists_the_root_and_notes_a_missing_one(root, tmp_path, capsys):
    assert cli.main(["datasets", "--data-root", str(root)]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == ["demo", str(root / "alpha"), str(root / "beta")]
    assert err == ""
    assert cli.main(["datasets", "--data-root", str(tmp_path / "nowhere")]) == 0
    out, err = capsys.readouterr()
    assert out.split()[0] == "demo" and len(out.splitlines()) == 1
    assert f"the data root {tmp_path / 'nowhere'} does not exist" in err and "--data-root" in err


def test_run_reads_a_dataset_by_name_under_the_data_root_and_records_its_folder(root, tmp_runs, capsys):
    status = cli.main(
        [
            "run",
            "--dataset",
            "beta",
            "--data-root",
            str(root),
            "--recipe",
            "ft",
            "--model",
            "tiny",
            "--max-steps",
            "1",
            "--runs-dir",
            str(tmp_runs),
            "--quiet",
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, err[-2000:]
    (run,) = [p for p in tmp_runs.iterdir() if p.is_dir()]
    assert json.loads((run / "config.json").read_text())["dataset"] == str(root / "beta")
    assert "dataset beta" in out


def test_run_with_a_name_under_no_root_is_one_clear_line(root, tmp_runs, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    status = cli.main(
        [
            "run",
            "--dataset",
            "gamma",
            "--data-root",
            str(root),
            "--model",
            "tiny",
            "--runs-dir",
            str(tmp_runs),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: could not load 'gamma'") and str(root) in err
    assert not any(tmp_runs.iterdir())  # refused before a run folder was made
