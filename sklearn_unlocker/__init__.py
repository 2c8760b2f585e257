"""sklearn-unlocker: scikit-learn classifiers for long-tailed, label-noisy data.

Submodules: :mod:`sklearn_unlocker.datasets` (long tail + label noise
generators, offline benchmark loaders) and :mod:`sklearn_unlocker.metrics`.
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
