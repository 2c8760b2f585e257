"""mixed_precision="bfloat16": forward passes under torch.autocast, parameters in float32."""

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)

FAST = dict(max_epochs=3, warmup_epochs=1, random_state=0)
SEEN = set()


class DtypeProbe(nn.Module):
    """A linear model that records the dtype its layer computes in."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.hidden = nn.Linear(n_features, 16)
        self.out = nn.Linear(16, n_classes)

    def forward(self, X):
        hidden = self.hidden(X)
        SEEN.add(hidden.dtype)
        return self.out(torch.relu(hidden))


@pytest.mark.parametrize("Estimator,params", [
    (UnlockerClassifier, {}), (UnlockerClassifier, {"strategy": "dividemix"}),
    (DynamicLossClassifier, {}), (MetaLabelCorrectionClassifier, {"method": "ebomlc"}),
], ids=["unlocker", "dividemix", "dynamic-loss", "ebomlc"])
@pytest.mark.parametrize("precision", [None, "bfloat16"])
def test_bfloat16_runs_the_forward_passes_under_autocast(Estimator, params, precision,
                                                         small_noisy_tabular):
    data = small_noisy_tabular
    SEEN.clear()
    clf = Estimator(DtypeProbe, mixed_precision=precision, **params, **FAST)
    clf.fit(data.X_train, data.y_train)
    expected = {torch.bfloat16} if precision else {torch.float32}
    assert SEEN == expected
    assert all(p.dtype == torch.float32 for p in clf.net_.module_.parameters())
    proba = clf.predict_proba(data.X_test)
    assert proba.dtype == np.float64 and np.allclose(proba.sum(axis=1), 1.0)
    assert np.all(np.isfinite(proba))


def test_float16_is_not_offered():
    with pytest.raises(ValueError, match="mixed_precision"):
        UnlockerClassifier(mixed_precision="float16", **FAST).fit(np.zeros((4, 2)), [0, 1, 0, 1])
