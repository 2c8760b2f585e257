"""The linter configured in pyproject.toml is run, not only configured."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


@pytest.mark.skipif(RUFF is None, reason="ruff is in the test extra")
def test_ruff_is_clean():
    ruff = RUFF
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_private_scikit_learn_imports_live_in_one_module():
    import re

    private = re.compile(r"^\s*(from|import)\s+sklearn[\w.]*\._\w+|import\s+_\w+|"
                         r"^\s*from\s+sklearn[\w.]*\s+import\s+\(?\s*_\w+", re.MULTILINE)
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "sklearn_unlocker").rglob("*.py")
                 if path.name != "_sklearn_compat.py" and private.search(path.read_text())]
    assert offenders == [], f"import scikit-learn internals through _sklearn_compat: {offenders}"


def test_dependencies_are_bounded_and_the_installed_ones_within_bounds():
    from importlib.metadata import version

    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        assert any(s.operator in ("<", "<=", "~=", "==") for s in requirement.specifier), \
            f"{spec}: give an upper bound"
        installed = version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), \
            f"{requirement.name} {installed} is outside {requirement.specifier}"
