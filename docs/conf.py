"""Sphinx configuration: numpydoc, autosummary, sphinx-gallery and the PyData theme.

Build: ``python -m sphinx -b html -W docs docs/_build/html`` (executes the gallery);
``-D plot_gallery=0`` renders the examples without running them (what the test suite does).
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's package, also when it is not installed
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

import sklearn_unlocker  # noqa: E402

project = "sklearn-unlocker"
author = "sklearn-unlocker developers"
copyright = "2026, sklearn-unlocker developers"
release = sklearn_unlocker.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "myst_parser",
    "results_pages",
]
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
# reST pages and Markdown ones (MyST): the benchmark results and the research notes
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# the research notes link to sections of the results pages
myst_heading_anchors = 3
default_role = "literal"

autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
# numpydoc writes the member tables; the class template lists the members themselves
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-unlocker {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # CIFAR-10 downloads its data: rendered, never executed in a docs build
    "filename_pattern": r"/plot_(?!cifar)",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}

# the examples read these: a smaller run when SKLEARN_UNLOCKER_DOCS_SMOKE=1
if os.environ.get("SKLEARN_UNLOCKER_DOCS_SMOKE") == "1":
    os.environ["SKLEARN_UNLOCKER_SMOKE"] = "1"


def _skip_metadata_routing(app, what, name, obj, skip, options):
    """scikit-learn's generated metadata-routing methods (``set_fit_request`` and friends)
    are the same on every estimator and point into scikit-learn's own docs: not listed."""
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    return None


def _clear_generated(app):
    """autosummary's stub pages are rewritten at every build, but never deleted: a name that left
    the API pages would leave an orphan page behind (a warning, so an error with ``-W``)."""
    shutil.rmtree(Path(app.srcdir) / "generated", ignore_errors=True)


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
    app.connect("builder-inited", _clear_generated, priority=100)  # before autosummary writes
