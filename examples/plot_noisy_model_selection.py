"""
Choosing a model when every label you can score on is noisy
===========================================================

A grid search scores its candidates on held-out labels; on label-noisy data those labels
are noisy too, so the scores measure agreement with the noise. Every fit of this package
estimates the noise it found (``noise_matrix_``, ``true_prior_``). Fit one reference, build a
scorer from its estimate with
:func:`~sklearn_unlocker.model_selection.make_noise_aware_scorer`, and score every candidate
with it: the same estimate of the noise for all, so the ranking is fair. See
:ref:`model-selection` for how the scorer works and what it measured on the development grid.
"""

# %%
import os

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import make_noisy_tabular
from sklearn_unlocker.model_selection import make_noise_aware_scorer

SMOKE = os.environ.get("SKLEARN_UNLOCKER_SMOKE") == "1"  # the test suite runs a tiny version
EPOCHS = dict(max_epochs=4, warmup_epochs=2) if SMOKE else dict(max_epochs=40, warmup_epochs=5)

# %%
# Long-tailed (IR 20) synthetic data with 40% tail-to-head noise: wrong labels move samples
# of the rare classes into the frequent ones, the case where noisy labels mislead a search most.
data = make_noisy_tabular(n_samples_per_class=40 if SMOKE else 400,
                          n_test_per_class=10 if SMOKE else 100, imbalance_ratio=20,
                          noise="t2h", noise_rate=0.4, random_state=0)
X, y = data.X_train, data.y_train

# %%
# The reference: the defaults, fitted once on all the training data. Its noise estimate is
# what the scorer undoes on each validation fold.
reference = UnlockerClassifier(classes=data.classes, random_state=1, **EPOCHS).fit(X, y)
print("estimated transition matrix, rows = true class (first 4 classes):")
print(np.round(reference.noise_matrix_[:4, :4], 2))
prior = reference.true_prior_
print(f"estimated imbalance ratio {prior.max() / prior.min():.1f} "
      f"(given labels {data.observed_imbalance_ratio:.1f}, truth {data.true_imbalance_ratio:.1f})")

# %%
# One search, two ways of scoring: the noisy labels' balanced accuracy, and the noise-aware
# estimate of the clean balanced accuracy (``refit`` picks by the latter).
scorer = make_noise_aware_scorer(reference)
search = GridSearchCV(
    UnlockerClassifier(classes=data.classes, random_state=0, **EPOCHS),
    {"strategy": ["dividemix", "small_loss", "none"], "logit_adjustment": ["loss", "none"]},
    scoring={"noisy": "balanced_accuracy", "noise_aware": scorer},
    refit="noise_aware",
    cv=StratifiedKFold(2 if SMOKE else 3, shuffle=True, random_state=0),
    n_jobs=2,
).fit(X, y)

# %%
# What each candidate really scores on the clean, balanced test split, beside both estimates.
results = search.cv_results_
print(f"{'strategy':>10} {'adjust':>6} {'noisy':>6} {'aware':>6} {'clean test':>10}")
for i, params in enumerate(results["params"]):
    clean = balanced_accuracy_score(
        data.y_test, UnlockerClassifier(classes=data.classes, random_state=0, **EPOCHS,
                                        **params).fit(X, y).predict(data.X_test))
    print(f"{params['strategy']:>10} {params['logit_adjustment']:>6} "
          f"{results['mean_test_noisy'][i]:6.3f} {results['mean_test_noise_aware'][i]:6.3f} "
          f"{clean:10.3f}")
print("picked:", search.best_params_)
