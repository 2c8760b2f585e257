"""sklearn-unlocker: scikit-learn classifiers for long-tailed, label-noisy data.

- :class:`UnlockerClassifier`: Unlocker (NeurIPS 2025) around any torch module.
- :mod:`sklearn_unlocker.strategies`: the noisy-label methods it wraps.
- :class:`DynamicLossClassifier`, :class:`MetaLabelCorrectionClassifier` (MLC, MLC-D,
  EBOMLC): the other systems of our source papers (:mod:`sklearn_unlocker.meta`).
- :mod:`sklearn_unlocker.adjustment`: the math (tau objective, solvers, EMA, prior).
- :mod:`sklearn_unlocker.datasets`: long tail + label noise generators, offline loaders.
- :mod:`sklearn_unlocker.metrics`: balanced / many-medium-few accuracy and more.
"""

from ._unlocker import UnlockerClassifier
from .exceptions import UnlockerWarning
from .meta import DynamicLossClassifier, MetaLabelCorrectionClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "DynamicLossClassifier",
    "MetaLabelCorrectionClassifier",
    "UnlockerClassifier",
    "UnlockerWarning",
    "__version__",
]
