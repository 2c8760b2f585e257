"""The other systems of our source papers, as estimators: Dynamic Loss and meta label correction.

- :class:`DynamicLossClassifier`: meta-learned label corrector and margin generator.
- :class:`MetaLabelCorrectionClassifier`: MLC, MLC-D and EBOMLC.

Both are thin faces over the package's one training engine with a
meta-learning strategy (:class:`~sklearn_unlocker.strategies.DynamicLossStrategy`,
:class:`~sklearn_unlocker.strategies.MetaLabelStrategy`) and no logit
adjustment; ``UnlockerClassifier(strategy=...)`` runs the same methods inside
Unlocker. Both learn from a trusted set: the user's
(``fit(..., X_trusted=, y_trusted=)``) or one built from the noisy data each epoch.
"""

from ._dynamic_loss import DynamicLossClassifier, LabelCorrector, MarginGenerator
from ._meta_label import MetaLabelCorrectionClassifier, MetaLabelModel

__all__ = [
    "DynamicLossClassifier",
    "LabelCorrector",
    "MarginGenerator",
    "MetaLabelCorrectionClassifier",
    "MetaLabelModel",
]
