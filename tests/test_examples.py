"""Every example runs top to bottom, in its small smoke version (SKLEARN_UNLOCKER_SMOKE=1)."""

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, capsys, monkeypatch, tmp_path, fake_cifar):
    monkeypatch.setenv("SKLEARN_UNLOCKER_SMOKE", "1")
    monkeypatch.setenv("SKLEARN_UNLOCKER_PLOT_PATH", str(tmp_path / "diagnostics.png"))
    monkeypatch.setenv("CIFAR_ROOT", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples may meet degenerate-state warnings
        runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out  # it reported something
    if path.name == "plot_diagnostics.py":
        assert (tmp_path / "diagnostics.png").stat().st_size > 10_000
    if path.name == "plot_cifar10.py":
        assert {"root": str(tmp_path), "train": True, "download": True} in fake_cifar.calls
