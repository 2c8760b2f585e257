"""The code keeps a shape a reader can follow: short functions, a one-screen face."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_unlocker"

#: the most lines a function may span, from its ``def`` to its last line, docstring included
MAX_FUNCTION_LINES = 60
#: the most lines of ``_base.py``, the scikit-learn face every estimator shares
MAX_BASE_LINES = 450

#: functions known to be over the limit; any other function over it, or a new one, fails:
KNOWN_LONG = {
    # a public function whose numpydoc docstring alone (the Bunch's keys, a doctest) is
    # 57 lines; its body is 16
    "datasets/_loaders.py::make_long_tailed_noisy",
}


def _long_functions():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    name = f"{path.relative_to(PACKAGE).as_posix()}::{node.name}"
                    found[name] = f"{name} (line {node.lineno}, {lines} lines)"
    return found


def test_no_function_is_longer_than_a_screen():
    found = _long_functions()
    new = sorted(text for name, text in found.items() if name not in KNOWN_LONG)
    assert not new, (f"functions over {MAX_FUNCTION_LINES} lines: {'; '.join(new)}; name their "
                     f"steps in functions of their own")


def test_the_known_long_functions_are_still_long():
    """A known entry that got short is dropped from the list, so the list stays honest."""
    fixed = sorted(KNOWN_LONG - set(_long_functions()))
    assert not fixed, f"no longer over {MAX_FUNCTION_LINES} lines, drop from KNOWN_LONG: {fixed}"


def test_the_estimator_face_fits_on_a_screen():
    lines = len((PACKAGE / "_base.py").read_text().splitlines())
    assert lines < MAX_BASE_LINES, (f"_base.py has {lines} lines; move a concern to a module of "
                                    f"its own (see its docstring)")
