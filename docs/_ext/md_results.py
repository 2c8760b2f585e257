"""Render the committed benchmark results (Markdown) as pages of the docs, at build time.

The results live in ``benchmarks/results/*.md`` and in README's "Results" section,
written by the benchmark commands and by us; the docs render those very files, so
the benchmark pages cannot drift from what is committed. The Markdown used there is
small (headings, paragraphs, bullets, pipe tables, code spans, bold, links), and so
is this converter. Output (not committed): ``docs/benchmarks/<name>.rst`` for each
results file and ``docs/_generated/`` for the README's sections and the plots.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = Path(__file__).resolve().parents[1]
OUT = DOCS / "_generated"
PAGES = DOCS / "benchmarks"
UNDERLINES = {1: "=", 2: "-", 3: "~", 4: "^"}


def _link(text, target, here):
    """A Markdown link as reST: results pages and examples become cross-references."""
    name = target.split("#")[0]
    if name.startswith(("http://", "https://")):
        return f"`{text} <{target}>`__"
    path = (here / name).resolve() if not name.startswith("/") else Path(name)
    if path.suffix == ".md" and path.parent == RESULTS:
        return f":doc:`{text} </benchmarks/{path.stem}>`"
    if path.suffix == ".png" and path.parent == RESULTS:
        return f":download:`{text} </_generated/{path.name}>`"
    if path.suffix == ".py" and path.parent.name == "examples":
        return f":doc:`{text} </auto_examples/{path.stem}>`"
    return f"{text} (``{path.relative_to(ROOT) if path.is_relative_to(ROOT) else name}``)"


def _escape(text):
    """Escape what reST would read as markup: lone ``*``, trailing ``_``, ``|``."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"(?<!\*)\*(?!\*)", r"\\*", text)
    text = re.sub(r"(\w)_(?=\W|$)", r"\1\\_", text)
    text = text.replace("|", "\\|")
    return text


def inline(text, here):
    """One line of Markdown inline markup as reST."""
    pieces = re.split(r"(`[^`]+`|\[[^\]]+\]\([^)]+\)|\*\*[^*]+\*\*)", text)
    out = []
    for k, piece in enumerate(pieces):
        if k % 2 == 0:  # plain text between markup
            out.append(_escape(piece))
            continue
        if piece.startswith("`"):
            markup = f"``{piece[1:-1]}``"
        elif piece.startswith("**"):
            # reST does not nest markup: the bold text keeps its words only
            words = re.sub(r"`([^`]+)`|\[([^\]]+)\]\([^)]+\)", r"\1\2", piece[2:-2])
            markup = f"**{_escape(words).strip()}**"
        else:
            label, target = re.match(r"\[([^\]]+)\]\(([^)]+)\)", piece).groups()
            markup = _link(inline(label, here).replace("``", ""), target, here)
        # reST wants inline markup between spaces or punctuation
        if out and out[-1] and out[-1][-1].isalnum():
            markup = "\\ " + markup
        after = pieces[k + 1] if k + 1 < len(pieces) else ""
        if after and after[0].isalnum():
            markup += "\\ "
        out.append(markup)
    return "".join(out)


def _table(rows, here):
    cells = [[inline(c.strip(), here) or "\\ " for c in row.strip().strip("|").split("|")]
             for row in rows if not re.match(r"^\|\s*:?-", row)]
    width = max(len(r) for r in cells)
    lines = [".. list-table::", "   :header-rows: 1", "   :class: results-table", ""]
    for row in cells:
        row = row + ["\\ "] * (width - len(row))
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return [*lines, ""]


def convert(markdown, here, *, top=1):
    """Markdown text as reST; headings shifted so that the first level is ``top``."""
    lines, out, i = markdown.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("<!--"):
            i += 1
            continue
        heading = re.match(r"^(#+)\s+(.*)", line)
        if heading:
            level = len(heading.group(1)) - 1 + top
            # links in a title break Sphinx's page tables of contents: keep their text
            text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", heading.group(2))
            title = inline(text, here)
            out += [title, UNDERLINES[min(level, 4)] * max(len(title), 4), ""]
        elif line.startswith("```"):
            language = line[3:].strip() or "text"
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append("   " + lines[i])
                i += 1
            out += [f".. code-block:: {language}", "", *block, ""]
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            out += ["", *_table(rows, here)]
            continue
        else:
            out.append(inline(line, here))
        i += 1
    return "\n".join(out) + "\n"


def readme_section(title):
    """One ``## title`` section of README.md (without its heading)."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)
    return match.group(1)


def write_pages(app=None):
    OUT.mkdir(exist_ok=True)
    listed = (PAGES / "index.rst").read_text().split()
    for path in sorted(RESULTS.glob("*.md")):
        if path.stem not in listed:
            raise ValueError(f"{path.name} is not in the toctree of docs/benchmarks/index.rst")
        (PAGES / f"{path.stem}.rst").write_text(convert(path.read_text(), RESULTS))
    for path in sorted(RESULTS.glob("*.png")):
        (OUT / path.name).write_bytes(path.read_bytes())
    results = readme_section("Results")
    (OUT / "readme_results.rst").write_text(convert(results, ROOT, top=2))
    large = readme_section("Large data and GPUs")
    (OUT / "readme_large_data.rst").write_text(convert(large, ROOT, top=2))
    meta = readme_section("Dynamic Loss and meta label correction")
    (OUT / "readme_meta.rst").write_text(convert(meta, ROOT, top=2))
    which = re.search(r"\*\*Which method when\*\*.*?\n\n(\|.*?)\n\n", results, re.S).group(1)
    (OUT / "which_method.rst").write_text(convert(which, ROOT))


def setup(app):
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True, "version": "1"}
