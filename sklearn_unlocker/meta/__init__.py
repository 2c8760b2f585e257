"""The other systems of our source papers, as estimators: Dynamic Loss and meta label correction.

- :class:`DynamicLossClassifier`: meta-learned label corrector and margin generator.
- :class:`MetaLabelCorrectionClassifier`: MLC, MLC-D and EBOMLC.

Both learn from a trusted set: the user's (``fit(..., X_trusted=, y_trusted=)``) or
one built from the noisy data each epoch.
"""

from ._dynamic_loss import DynamicLossClassifier, LabelCorrector, MarginGenerator
from ._mlc import MetaLabelCorrectionClassifier, MetaLabelModel

__all__ = [
    "DynamicLossClassifier",
    "LabelCorrector",
    "MarginGenerator",
    "MetaLabelCorrectionClassifier",
    "MetaLabelModel",
]
