"""
Diagnostics: what Unlocker learned about the data
=================================================

A fitted :class:`~sklearn_unlocker.UnlockerClassifier` keeps its per-epoch history
(tau, estimated prior and imbalance ratio), the label issues it found and its
prediction. :mod:`sklearn_unlocker.plotting` draws them (it needs matplotlib:
``pip install 'sklearn-unlocker[plots]'``). Set ``SKLEARN_UNLOCKER_PLOT_PATH`` to also write the
figure to that file.
"""

# %%
import os

import matplotlib.pyplot as plt

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import load_noisy_digits
from sklearn_unlocker.plotting import plot_diagnostics

SMOKE = os.environ.get("SKLEARN_UNLOCKER_SMOKE") == "1"

data = load_noisy_digits(imbalance_ratio=50, noise="t2h", noise_rate=0.4, random_state=0)
clf = UnlockerClassifier(classes=data.classes, max_epochs=8 if SMOKE else 60, random_state=0)
clf.fit(data.X_train, data.y_train)

# %%
fig = plot_diagnostics(clf, data)
if path := os.environ.get("SKLEARN_UNLOCKER_PLOT_PATH"):
    fig.savefig(path, dpi=80)
print(f"tau {clf.tau_:.2f}, estimated IR {clf.imbalance_ratio_:.1f} "
      f"(true {data.true_imbalance_ratio:.0f}); {clf.label_issues_.sum()} labels flagged, "
      f"{data.noise_mask.sum()} wrong")
plt.show()
