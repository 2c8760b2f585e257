"""Every example runs top to bottom (they are sized to take seconds)."""

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples may meet degenerate-state warnings
        runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out  # it reported something
