"""What several test modules run the same way: the command line and the benchmark scripts as a
user runs them (a subprocess from the repository root, output captured), and a toy data root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: int = 300, stdin: str | None = None, **env_vars: str) -> subprocess.CompletedProcess:
    """`python -m threephase_core ARGS` with the test's environment plus `env_vars`."""
    return subprocess.run(
        [sys.executable, "-m", "threephase_core", *args],
        input=stdin,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env_vars},
        cwd=ROOT,
    )


def bench_script(script: str, *args: str, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python bench/SCRIPT ARGS`, offline, with the test's environment plus `env`."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        cwd=ROOT,
    )


def toy_data_root(root: Path) -> Path:
    """A data root holding one small data set folder, `toy` (3 classes of 40, 20 and 12 rows)."""
    folder = root / "toy"
    folder.mkdir(parents=True)
    sizes = {"alpha": 40, "beta": 20, "gamma": 12}
    rows = [
        {"text": f"{name} sample number {i} with a few words", "label": name}
        for name, n in sizes.items()
        for i in range(n)
    ]
    pd.DataFrame(rows).to_csv(folder / "train.csv", index=False)
    for split in ("validation", "test"):  # given, so that nothing is carved from train
        pd.DataFrame(rows[::4]).to_csv(folder / f"{split}.csv", index=False)
    return root
