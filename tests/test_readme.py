"""README is the users' page: short, its two commands intact, its links and its figures true."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _block_after(marker):
    """The fenced block after an HTML comment marker, as .ci/run reads it."""
    match = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)\n```", README, re.S)
    assert match, marker
    return match.group(1)


def test_readme_is_short_and_for_users():
    assert len(README.splitlines()) < 300
    assert "DESIGN.md" not in README  # users do not have it


def test_readme_keeps_the_two_commands():
    demo = _block_after("demo-command")
    assert "pip install -e ." in demo and demo.endswith("python -m sklearn_unlocker demo")
    command = _block_after("test-command")
    assert 'pip install -e ".[test]"' in command and command.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    awk = re.search(r"cmd=\$\(awk '(.*?)' README\.md\)", ci).group(1)
    read = subprocess.run(["awk", awk, str(ROOT / "README.md")], capture_output=True, text=True)
    assert read.stdout.strip() == command  # what CI runs is this block


def test_readme_links_point_to_files_of_the_repository():
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local
    assert [t for t in local if not (ROOT / t).exists()] == []


def _mean_lines(name):
    """A results file's overview mean lines: {dataset: {method: value}}."""
    text = (ROOT / "benchmarks" / "results" / name).read_text()
    header = re.search(r"^\| setting \|(.*)\|$", text, re.M).group(1)
    methods = [cell.strip() for cell in header.split("|")]
    means = {}
    for dataset, cells in re.findall(r"^\| \*\*mean, (\w+)\*\* \|(.*)\|$", text, re.M):
        means[dataset] = dict(zip(methods, (cell.strip() for cell in cells.split("|")),
                                  strict=True))
    return means


@pytest.mark.parametrize("row, source, dataset", [
    ("digits (MLP)", "full_grid_seeds.md", "digits"),
    ("tabular (MLP)", "full_grid_seeds.md", "tabular"),
    ("digits as 8x8 images (`ConvNet`)", "full_grid_images_default.md", "digits_images"),
    ("MNIST-1D (1-D CNN)", "full_grid_mnist1d_default.md", "mnist1d"),
])
def test_readme_results_table_quotes_the_result_files(row, source, dataset):
    columns = ["ce", "la_posthoc", "la_loss", "cleanlab", "unlocker", "default", "clean_ce",
               "gap closed"]
    line = re.search(rf"^\| {re.escape(row)} \|(.*)\|$", README, re.M)
    assert line, row
    shown = [cell.strip().strip("*") for cell in line.group(1).split("|")]
    means = _mean_lines(source)[dataset]
    assert shown == [means[column] for column in columns]
