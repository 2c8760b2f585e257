"""Put the committed benchmark results (``benchmarks/results``) into the docs at build time.

The results live in ``benchmarks/results/*.md``, written by the benchmark commands and by us;
the docs render those very files with MyST (``myst_parser``), so the benchmark pages cannot
drift from what is committed. This extension only copies them: each ``*.md`` file to
``docs/benchmarks/<name>.md`` (a page of the docs; their links to one another stay relative)
and each plot to ``docs/benchmarks/`` and ``docs/_generated/`` (for ``.. image::``). The copies
are build outputs, not committed (``.gitignore``).
"""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = Path(__file__).resolve().parents[1]
PAGES = DOCS / "benchmarks"
OUT = DOCS / "_generated"


def copy_results(app=None):
    # reST pages an earlier converter wrote would clash with the Markdown copies, or be orphans
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    for stale in PAGES.glob("*.rst"):
        if stale.name != "index.rst":
            stale.unlink()
    listed = (PAGES / "index.rst").read_text().split()
    for path in sorted(RESULTS.glob("*.md")):
        if path.stem not in listed:
            raise ValueError(f"{path.name} is not in the toctree of docs/benchmarks/index.rst")
        shutil.copyfile(path, PAGES / path.name)
    for path in sorted(RESULTS.glob("*.png")):
        shutil.copyfile(path, PAGES / path.name)
        shutil.copyfile(path, OUT / path.name)


def setup(app):
    app.connect("builder-inited", copy_results)
    return {"parallel_read_safe": True, "version": "2"}
