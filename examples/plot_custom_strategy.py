"""
Bring your own noisy-label strategy
===================================

:class:`~sklearn_unlocker.UnlockerClassifier` wraps a noisy-label method: each
epoch the method looks at the (logit-adjusted) predictions for every training
sample and says which labels look clean and what the others should be; Unlocker
does the rest (the adjustment, the class prior, the balanced clean subset and tau).

Here we write such a method from scratch: *per-class confidence thresholds*, the
rule behind cleanlab's confident learning. A label is kept when the adjusted
probability the model gives it reaches the average probability the model gives
to the samples of that class. It takes one method, ``split``; everything else
(the loss, the adjustment, mixing it into the paper's rows) comes from
:class:`~sklearn_unlocker.strategies.BaseStrategy`.
"""

# %%
# The strategy
# ------------
import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import load_noisy_digits
from sklearn_unlocker.strategies import BaseStrategy, Split


class ConfidentThreshold(BaseStrategy):
    """Clean when p(given label) reaches its class's mean self-confidence, minus a margin."""

    def __init__(self, margin=0.0):
        self.margin = margin

    def split(self, logits, y, *, sample_weight=None, random_state=None):
        proba = torch.softmax(logits.double(), dim=1).numpy()  # logits are z - alpha
        given = proba[np.arange(len(y)), y]
        sums = np.bincount(y, weights=given, minlength=proba.shape[1])
        counts = np.maximum(np.bincount(y, minlength=proba.shape[1]), 1)
        clean = given >= sums[y] / counts[y] - self.margin
        return Split(
            clean_proba=given,  # ranks the samples of each class for Unlocker's clean subset
            clean_mask=clean,
            corrected_labels=np.where(clean, y, proba.argmax(axis=1)),
            confidence=np.where(clean, 1.0, proba.max(axis=1)),
        )

    def training_weights(self, split):
        return split.clean_mask.astype(float)  # train on the kept labels only


# %%
# Long-tailed, noisy digits
# -------------------------
data = load_noisy_digits(imbalance_ratio=50, noise="sym", noise_rate=0.4, random_state=0)
print(data.DESCR.splitlines()[2])

# %%
# Compare it with plain cross-entropy and the built-in small-loss strategy
# ------------------------------------------------------------------------
# Strategies are scikit-learn estimators: ``strategy__margin`` is tunable in a grid search.
models = {
    "plain cross-entropy": UnlockerClassifier(strategy="none", logit_adjustment="none",
                                              random_state=0),
    "Unlocker + small loss": UnlockerClassifier(random_state=0),
    "Unlocker + ConfidentThreshold": UnlockerClassifier(strategy=ConfidentThreshold(margin=0.05),
                                                        random_state=0),
}
for name, model in models.items():
    model.fit(data.X_train, data.y_train)
    score = balanced_accuracy_score(data.y_test, model.predict(data.X_test))
    kept = ~model.label_issues_
    print(f"{name:32s} balanced accuracy {score:.3f}; trained on {kept.mean():.0%} of the "
          f"labels, {data.noise_mask[kept].mean():.0%} of them wrong")

# %%
# What the fitted strategy saw: the label-issue table of the last model.
print(models["Unlocker + ConfidentThreshold"].find_label_issues().head())
