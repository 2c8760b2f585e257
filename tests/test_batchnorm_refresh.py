"""The score pass re-estimates batch norm's running statistics ("precise BN")."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn
from torch.utils.data import TensorDataset

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker._inputs import DatasetInputs
from sklearn_unlocker.datasets import make_noisy_tabular
from sklearn_unlocker.modules import MLP

FAST = dict(max_epochs=4, warmup_epochs=1, batch_size=32, random_state=0)


class Normed(nn.Module):
    """Batch norm alone: its outputs are the normalised inputs, easy to check by hand."""

    def __init__(self, n_features):
        super().__init__()
        self.norm = nn.BatchNorm1d(n_features, affine=False)
        self.norm.running_mean.fill_(0.5)  # "stale" statistics
        self.norm.running_var.fill_(2.0)
        self.eval()

    def forward(self, X):
        return self.norm(X)


class NormedNet(nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                 nn.Linear(16, n_classes))

    def forward(self, X):
        return self.net(X)


@pytest.fixture(scope="module")
def data():
    return make_noisy_tabular(n_samples_per_class=60, n_classes=3, n_features=4,
                              n_informative=3, n_test_per_class=10, imbalance_ratio=4,
                              noise_rate=0.2, random_state=0)


def fitted_net(data, module=None):
    """A fitted net whose module is ``module`` or, by default, :class:`Normed` alone."""
    clf = UnlockerClassifier(module or NormedNet, strategy="none", logit_adjustment="none",
                             **{**FAST, "max_epochs": 2, "warmup_epochs": 1})
    net = clf.fit(data.X_train, data.y_train).net_
    if module is None:
        net.module_ = Normed(data.X_train.shape[1])
    return net


def by_hand(X, batch_size):
    """The refresh worked out directly: the pass's order, batches and statistics."""
    n = len(X)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    k = -(-n // batch_size)
    size = -(-n // k)
    out, means, variances = torch.empty_like(X), [], []
    for start in range(0, n, size):
        rows = order[start:start + size]
        batch = X[rows]
        mean, biased = batch.mean(0), batch.var(0, unbiased=False)
        out[rows] = (batch - mean) / torch.sqrt(biased + 1e-5)
        means.append(mean)
        variances.append(batch.var(0, unbiased=True))
    return out, torch.stack(means).mean(0), torch.stack(variances).mean(0)


def test_a_refreshing_pass_normalises_by_batch_and_keeps_the_batches_average(data):
    net = fitted_net(data)
    X = torch.as_tensor(data.X_train[:50], dtype=torch.float32)
    norm = net.module_.norm
    before = (norm.running_mean.clone(), norm.running_var.clone(), norm.momentum)
    plain = net.logits(X)  # outside: evaluation mode, the stored statistics, unchanged
    torch.testing.assert_close(plain, (X - before[0]) / torch.sqrt(before[1] + 1e-5))
    assert torch.equal(norm.running_mean, before[0])

    with net.batch_statistics():
        refreshed = net.logits(X, batch_size=16)  # 50 rows: 4 batches of 13, 13, 13, 11
    expected, mean, var = by_hand(X, 16)
    torch.testing.assert_close(refreshed, expected)  # rows back in their own order
    torch.testing.assert_close(norm.running_mean, mean)
    torch.testing.assert_close(norm.running_var, var)
    assert norm.momentum == before[2] and not norm.training and not net.module_.training
    # equal batches: the running mean is the mean of the rows
    with net.batch_statistics():
        net.logits(X[:48], batch_size=16)
    torch.testing.assert_close(norm.running_mean, X[:48].mean(0))
    with net.batch_statistics(enabled=False):  # off: a plain evaluation pass
        torch.testing.assert_close(net.logits(X), (X - norm.running_mean)
                                   / torch.sqrt(norm.running_var + 1e-5))


def test_data_sorted_by_class_gives_each_batch_a_mix(data):
    # sorted rows in order would give every batch one class's statistics; the fixed random
    # order keeps each row's output close to that of the whole set's statistics
    net = fitted_net(data, NormedNet)
    order = np.argsort(data.y_train, kind="stable")
    X = torch.as_tensor(data.X_train[order], dtype=torch.float32)
    with net.batch_statistics():
        refreshed = net.logits(X, batch_size=32)
    evaluated = net.logits(X)  # the refreshed statistics, evaluation mode
    assert (refreshed - evaluated).abs().max() < 0.5 * evaluated.abs().max()
    module = copy.deepcopy(net.module_).train()
    with torch.no_grad():  # batch statistics in the given order, for comparison
        in_order = torch.cat([module(X[i:i + 32]) for i in range(0, len(X), 32)])
    assert (in_order - evaluated).abs().max() > (refreshed - evaluated).abs().max()


def test_a_dataset_whose_loader_leaves_a_single_row(data):
    net = fitted_net(data)
    X = torch.as_tensor(data.X_train[:9], dtype=torch.float32)
    inputs = DatasetInputs(TensorDataset(X, torch.zeros(9)), loader={"batch_size": 4})
    with net.batch_statistics():  # batches of 4, 4 and 1: the last one after, evaluated
        out = net.logits(inputs)
    norm = net.module_.norm
    order = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    first, second = X[order[:4]], X[order[4:8]]
    torch.testing.assert_close(norm.running_mean, (first.mean(0) + second.mean(0)) / 2)
    last = X[order[8]]
    torch.testing.assert_close(out[order[8]], (last - norm.running_mean)
                               / torch.sqrt(norm.running_var + 1e-5))
    with net.batch_statistics():  # a single row: nothing to estimate, evaluation mode
        torch.testing.assert_close(net.logits(X[:1]), (X[:1] - norm.running_mean)
                                   / torch.sqrt(norm.running_var + 1e-5))


def test_the_fitted_statistics_are_those_of_the_final_weights(data):
    X = torch.as_tensor(data.X_train, dtype=torch.float32)
    for refresh in (True, False):
        clf = UnlockerClassifier(NormedNet, refresh_batchnorm=refresh, **FAST)
        net = clf.fit(data.X_train, data.y_train).net_
        norm = net.module_.net[1]
        kept = norm.running_mean.clone(), norm.running_var.clone()
        with net.batch_statistics():  # the weights have not moved since the final pass
            net.logits(X)
        same = torch.allclose(norm.running_mean, kept[0]) and torch.allclose(
            norm.running_var, kept[1])
        assert same == refresh


def test_modules_without_batch_norm_train_as_before(data):
    fits = [UnlockerClassifier(MLP, refresh_batchnorm=refresh, **FAST)
            .fit(data.X_train, data.y_train) for refresh in (True, False)]
    np.testing.assert_array_equal(fits[0].predict_proba(data.X_test),
                                  fits[1].predict_proba(data.X_test))
    np.testing.assert_array_equal(fits[0].label_issues_, fits[1].label_issues_)


def test_a_value_that_is_not_a_bool_is_refused(data):
    with pytest.raises(InvalidParameterError, match="refresh_batchnorm"):
        UnlockerClassifier(NormedNet, refresh_batchnorm="yes").fit(data.X_train, data.y_train)


def test_a_net_pickled_before_the_refresh_existed_still_warm_starts(data):
    clf = UnlockerClassifier(NormedNet, warm_start=True, **FAST).fit(data.X_train, data.y_train)
    del clf.net_._refreshing  # the attribute a net pickled by an older version lacks
    clf = pickle.loads(pickle.dumps(clf))
    clf.fit(data.X_train, data.y_train)  # the score passes refresh as in a new net
    assert len(clf.history_) == 2 * FAST["max_epochs"]
    assert clf.net_._refreshing is False
