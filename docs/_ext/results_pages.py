"""Put the committed benchmark results (``benchmarks/results``) into the docs at build time.

The results live in ``benchmarks/results/*.md``, written by the benchmark commands and by us;
the docs render those very files with MyST (``myst_parser``), so the benchmark pages cannot
drift from what is committed. This extension only copies them: each ``*.md`` file to
``docs/benchmarks/<name>.md`` (a page of the docs; their links to one another stay relative)
and each plot to ``docs/benchmarks/`` and ``docs/_generated/`` (for ``.. image::``). The copies
are build outputs, not committed (``.gitignore``).

The Markdown pages under ``docs/`` link to a result file by its place in the repository
(``../../benchmarks/results/<name>.md``), so that the link works where the page is read as a
file; in the built docs the same link points to the copy, ``docs/benchmarks/<name>.md``.
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


def repository_links(app, docname, source):
    """Point a Markdown page's links to result files at their copies in the docs."""
    if app.env.doc2path(docname).suffix == ".md" and not docname.startswith("benchmarks/"):
        depth = docname.count("/")
        repository = "../" * (depth + 1) + "benchmarks/results/"
        source[0] = source[0].replace(f"]({repository}", "](" + "../" * depth + "benchmarks/")


def setup(app):
    app.connect("builder-inited", copy_results)
    app.connect("source-read", repository_links)
    return {"parallel_read_safe": True, "version": "2"}
