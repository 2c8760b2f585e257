"""The documentation: it builds with warnings as errors, and it covers the public API."""

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = [
    "sklearn_unlocker", "sklearn_unlocker.meta", "sklearn_unlocker.strategies",
    "sklearn_unlocker.adjustment", "sklearn_unlocker.datasets", "sklearn_unlocker.metrics",
    "sklearn_unlocker.modules", "sklearn_unlocker.augment", "sklearn_unlocker.plotting",
    "sklearn_unlocker.exceptions",
]


def _public():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attribute in module.__all__:
            yield name, attribute, getattr(module, attribute)


def test_every_public_module_is_in_the_api_reference():
    api = (ROOT / "docs" / "api.rst").read_text()
    listed = set(re.findall(r"^\s{3}(\w+)$", api, re.MULTILINE))  # autosummary entries
    named = set(re.findall(r"(\w+)`", api)) | set(re.findall(r"``(\w+)``", api))
    missing = [f"{module}.{name}" for module, name, _ in _public()
               if name not in listed and name not in named]
    assert missing == [], f"add to docs/api.rst: {missing}"
    for module in PUBLIC_MODULES[1:]:
        assert f"``{module}``" in api, module


def test_every_public_function_and_class_has_a_doctest_example():
    missing = sorted({f"{obj.__module__}.{name}" for module, name, obj in _public()
                      if (inspect.isclass(obj) or inspect.isfunction(obj))
                      and obj.__module__.startswith("sklearn_unlocker")
                      and "\nExamples\n--------\n" not in (inspect.getdoc(obj) or "")})
    assert missing == [], f"give these an Examples section: {missing}"


def test_docstrings_point_to_the_user_guide_not_to_design_notes():
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "sklearn_unlocker").rglob("*.py")
                 if "DESIGN.md" in path.read_text()]
    assert offenders == []


def test_the_docs_build_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
         "-D", "plot_gallery=0", "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"),
         str(tmp_path / "html")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    algorithm = (tmp_path / "html" / "user_guide" / "algorithm.html").read_text()
    assert "outer step" in algorithm.lower() and ".png" in algorithm  # the page, its figure
    api = (tmp_path / "html" / "generated" / "sklearn_unlocker.UnlockerClassifier.html")
    assert "find_label_issues" in api.read_text()
