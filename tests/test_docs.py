"""The documentation: it builds with warnings as errors, and it covers the public API."""

import importlib
import inspect
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = [
    "sklearn_unlocker", "sklearn_unlocker.meta", "sklearn_unlocker.strategies",
    "sklearn_unlocker.adjustment", "sklearn_unlocker.datasets", "sklearn_unlocker.metrics",
    "sklearn_unlocker.model_selection", "sklearn_unlocker.modules", "sklearn_unlocker.augment",
    "sklearn_unlocker.plotting", "sklearn_unlocker.exceptions",
]
# exported, but for writing a strategy or an augmentation, or for the estimators' own use: they
# belong on the extending page (docs/api_extending.rst), not in the API that users call
EXTENDING = {
    "BaseStrategy", "MetaStrategy", "Split", "DivideMixSplit", "BatchTargets", "TrainingContext",
    "clean_probability_gmm", "resolve_strategy", "STRATEGIES", "LabelCorrector",
    "MarginGenerator", "MetaLabelModel", "BatchAugmentation", "resolve_augment",
}
API_PAGES = ("api.rst", "api_extending.rst")


def _public():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attribute in module.__all__:
            yield name, attribute, getattr(module, attribute)


def _listed(page):
    """The autosummary entries of a reST page."""
    return set(re.findall(r"^\s{3}(\w+)$", page, re.MULTILINE))


def _named(page):
    """The names a reST page mentions in a role or a literal."""
    return set(re.findall(r"(\w+)`", page)) | set(re.findall(r"``(\w+)``", page))


def test_every_public_module_is_in_the_api_reference():
    pages = {name: (ROOT / "docs" / name).read_text() for name in API_PAGES}
    listed = set().union(*map(_listed, pages.values()))
    named = set().union(*map(_named, pages.values()))
    missing = [f"{module}.{name}" for module, name, _ in _public()
               if name not in listed and name not in named]
    assert missing == [], f"add to docs/api.rst or docs/api_extending.rst: {missing}"
    for module in PUBLIC_MODULES[1:]:
        assert f"``{module}``" in pages["api.rst"], module


def test_the_api_page_lists_what_users_call_and_no_internals():
    api = (ROOT / "docs" / "api.rst").read_text()
    extending = (ROOT / "docs" / "api_extending.rst").read_text()
    assert not [name for name in _listed(api) | _named(api) if name.startswith("_")
                and name != "__version__"]
    assert _listed(api) & EXTENDING == set()
    assert _named(api) & (EXTENDING - {"BatchAugmentation"}) == set()  # a pointer to its page
    assert EXTENDING - {"STRATEGIES"} <= _listed(extending)
    exported = {name for _, name, _ in _public()}
    assert EXTENDING <= exported  # the list names what the package exports


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


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """The docs built once for this module's tests, with warnings as errors; their HTML folder."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    tmp_path = tmp_path_factory.mktemp("docs")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
         "-D", "plot_gallery=0", "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"),
         str(tmp_path / "html")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return tmp_path / "html"


def test_the_docs_build_with_warnings_as_errors(built_docs):
    algorithm = (built_docs / "user_guide" / "algorithm.html").read_text()
    assert "outer step" in algorithm.lower() and ".png" in algorithm  # the page, its figure
    api = (built_docs / "generated" / "sklearn_unlocker.UnlockerClassifier.html")
    assert "find_label_issues" in api.read_text()


class _ArticleText(HTMLParser):
    """A page's article as text: the prose, and the inline code apart (code blocks left out)."""

    def __init__(self):
        super().__init__()
        self.open, self.prose, self.code = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("pre", "script", "style", "code"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        if not {"pre", "script", "style"} & set(self.open):
            (self.code if "code" in self.open else self.prose).append(data)


def _raw_markdown(html):
    """Markdown left unrendered in a page: ``**``, a backtick or a MyST role (``{doc}``) in the
    prose, and in inline code a backtick or a ``**bold**`` span (a code span that swallowed the
    text around it)."""
    article = html[html.index("<article"):html.index("</article>")]
    text = _ArticleText()
    text.feed(article)
    prose, code = " ".join(text.prose), " ".join(text.code)
    return (re.findall(r".{0,40}(?:\*\*|`|\{(?:doc|ref|py:\w+)\}).{0,40}", prose)
            + re.findall(r".{0,40}(?:\*\*[^\s*][^*]*?[^\s*]\*\*|`).{0,40}", code))


def test_the_markdown_pages_show_no_raw_markdown(built_docs):
    assert _raw_markdown("<article><p>took <code><span>**0.95x**</span></code></p></article>")
    assert _raw_markdown("<article><p>the `x` parameter</p></article>")
    assert _raw_markdown("<article><p>see {doc}<code>results</code></p></article>")
    assert not _raw_markdown("<article><p><code>loss ** p</code></p><pre>a**b `c`</pre></article>")
    pages = sorted((built_docs / "benchmarks").glob("*.html"))
    pages += sorted((built_docs / "research").glob("*.html"))
    pages += [built_docs / "user_guide" / f"{name}.html"
              for name in ("large_data", "which_method", "data")]
    assert len(pages) > 30  # every results file, the research notes, the Markdown guide pages
    raw = {page.relative_to(built_docs).as_posix(): found for page in pages
           if (found := _raw_markdown(page.read_text()))}
    assert raw == {}
