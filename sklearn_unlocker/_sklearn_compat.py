"""The scikit-learn internals we use, behind one module.

scikit-learn's parameter validation (``sklearn.utils._param_validation``) and
``_check_sample_weight`` are private: they may move between releases. Every
module of the package imports them from here, so a change in scikit-learn is
met in one place; ``pyproject.toml`` bounds scikit-learn to the releases we
test, and ``tests/test_lint.py`` checks that no other module imports them.
"""

from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params
from sklearn.utils.validation import _check_sample_weight as check_sample_weight

__all__ = ["HasMethods", "Interval", "StrOptions", "check_sample_weight", "validate_params"]
