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


def _stores_its_parameters_only(node):
    """A scikit-learn constructor: ``self.name = name`` for each parameter, then at most
    one call (the faces' ``self._store_skorch_kwargs(kwargs)``). Its length is the
    estimator's parameter list; there are no steps to name."""
    if node.name != "__init__":
        return False
    body = node.body[1:] if ast.get_docstring(node) else node.body
    stores = [s for s in body if isinstance(s, ast.Assign) and len(s.targets) == 1
              and isinstance(s.targets[0], ast.Attribute)
              and isinstance(s.targets[0].value, ast.Name) and s.targets[0].value.id == "self"
              and isinstance(s.value, ast.Name) and s.value.id == s.targets[0].attr]
    calls = [s for s in body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]
    return len(stores) + len(calls) == len(body) and len(calls) <= 1


def _long_functions():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and not _stores_its_parameters_only(node)):
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


def test_a_constructor_is_exempt_only_while_it_just_stores_its_parameters():
    stores = ast.parse("def __init__(self, a, b):\n    self.a = a\n    self.b = b\n"
                       "    self._store_skorch_kwargs(b)\n").body[0]
    assert _stores_its_parameters_only(stores)
    for extra in ("    self.c = a + 1\n", "    if a:\n        b = 1\n", "    f(a)\n    g(b)\n"):
        source = "def __init__(self, a, b):\n    self.a = a\n" + extra
        assert not _stores_its_parameters_only(ast.parse(source).body[0]), extra
    assert not _stores_its_parameters_only(ast.parse("def fit(self, a):\n    self.a = a\n")
                                           .body[0])
