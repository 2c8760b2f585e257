"""
Quick start: tabular data in a Pipeline, tuned by GridSearchCV
==============================================================

:class:`~sklearn_unlocker.UnlockerClassifier` is a scikit-learn classifier: it
goes in a :class:`~sklearn.pipeline.Pipeline` and a
:class:`~sklearn.model_selection.GridSearchCV` like any other. On long-tailed data,
select models on balanced accuracy (``scoring="balanced_accuracy"``); pass
``classes=`` so that a fold missing a rare class still gets the full output width.
"""

# %%
import os
from tempfile import mkdtemp

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Checkpoint, EarlyStopping
from skorch.dataset import ValidSplit

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import make_noisy_tabular

SMOKE = os.environ.get("SKLEARN_UNLOCKER_SMOKE") == "1"  # the test suite runs a tiny version

# %%
# Long-tailed (IR 50) synthetic data with 40% symmetric label noise.
data = make_noisy_tabular(n_samples_per_class=150 if SMOKE else 600,
                          n_test_per_class=20 if SMOKE else 100, imbalance_ratio=50,
                          noise="sym", noise_rate=0.4, random_state=0)
print(data.DESCR.splitlines()[2])

# %%
# A scaler and the classifier in one pipeline. The defaults are DivideMix with logit
# adjustment (a fixed tau of 1); tune whether Unlocker learns tau and re-estimates the
# prior instead, and DivideMix's clean-probability threshold.
pipe = make_pipeline(StandardScaler(),
                     UnlockerClassifier(classes=data.classes, max_epochs=5 if SMOKE else 60,
                                        warmup_epochs=2 if SMOKE else 5, random_state=0))
grid = GridSearchCV(
    pipe,
    {"unlockerclassifier__logit_adjustment": ["loss", "unlocker"],
     "unlockerclassifier__strategy__p_threshold": [0.5, 0.7]},
    scoring="balanced_accuracy",
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    n_jobs=2,
)
grid.fit(data.X_train, data.y_train)
print("best parameters:", grid.best_params_)
print(f"cross-validated balanced accuracy (on noisy labels): {grid.best_score_:.3f}")

# %%
# The test split is clean and balanced: what we really care about.
y_pred = grid.predict(data.X_test)
print(f"test balanced accuracy: {balanced_accuracy_score(data.y_test, y_pred):.3f}")
clf = grid.best_estimator_[-1]
print(f"tau {clf.tau_:.2f}; imbalance ratio of the prior it adjusts with "
      f"{clf.imbalance_ratio_:.1f} (true {data.true_imbalance_ratio:.0f}, observed "
      f"{data.observed_imbalance_ratio:.1f})")

# %%
# Early stopping, as with any skorch net: hold out a validation split and stop when its
# loss no longer improves. These labels are noisy, so the split measures *noisy* loss and
# accuracy: here (full run) it stops after 21 epochs, keeps epoch 6 and tests at 0.670, below
# the 60-epoch fit above (0.719). A noisy validation set is a weak stopping signal; with a
# small clean set, pass it as ``skorch.helper.predefined_split(Dataset(X, y))``.
# DivideMix trains two networks, so the best epoch comes back through a ``Checkpoint`` that
# saves both (``EarlyStopping(load_best=True)`` restores the first one only, and refuses).
early = make_pipeline(StandardScaler(), UnlockerClassifier(
    classes=data.classes, max_epochs=8 if SMOKE else 200, random_state=0,
    train_split=ValidSplit(0.2, stratified=True, random_state=0),
    callbacks=[EarlyStopping(patience=2 if SMOKE else 15, sink=lambda _: None),
               Checkpoint(load_best=True, dirname=mkdtemp(), f_module2="module2.pt",
                          f_optimizer=None, f_criterion=None, f_history=None,
                          sink=lambda _: None)],
))
early.fit(data.X_train, data.y_train)
losses = early[-1].history_[:, "valid_loss"]
print(f"stopped after {len(losses)} epochs (best noisy valid_loss {min(losses):.3f} at epoch "
      f"{int(np.argmin(losses)) + 1}); test balanced accuracy "
      f"{balanced_accuracy_score(data.y_test, early.predict(data.X_test)):.3f}")
