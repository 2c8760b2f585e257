"""A seconds-long smoke run of the benchmark runner (the full grids live in benchmarks/)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.filterwarnings("ignore")
def test_benchmark_runner_smoke(tmp_path):
    command = [sys.executable, "-m", "benchmarks", "run", "--datasets", "digits",
               "--imbalance-ratios", "10", "--noises", "sym:0.2", "--seeds", "0",
               "--methods", "ce", "unlocker", "--max-epochs", "3", "--name", "smoke",
               "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(tmp_path / "smoke.csv", comment="#")
    assert frame["method"].tolist() == ["ce", "unlocker"]
    assert frame["balanced_accuracy"].between(0, 1).all()
    text = (tmp_path / "smoke.md").read_text()
    assert "command: `python -m benchmarks run" in text and "| unlocker |" in text
    assert (tmp_path / "smoke.png").stat().st_size > 5_000
