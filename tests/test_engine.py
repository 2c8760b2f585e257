"""The one training engine: every method a strategy, the seams between net, engine and face."""

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import unlocker
from skorch.callbacks import Callback

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
)
from sklearn_unlocker._engine import TrustedSet
from sklearn_unlocker.datasets import make_noisy_tabular
from sklearn_unlocker.strategies import (
    STRATEGIES,
    DynamicLossStrategy,
    MetaLabelStrategy,
    MetaStrategy,
    SmallLossStrategy,
    resolve_strategy,
)

FAST = dict(max_epochs=6, warmup_epochs=2, random_state=0)
META = ["mlc", "mlc_d", "ebomlc", "dynamic_loss"]


@pytest.fixture(scope="module")
def data():
    return make_noisy_tabular(n_samples_per_class=80, n_classes=4, n_features=6,
                              n_informative=4, n_test_per_class=20, imbalance_ratio=5,
                              noise_rate=0.3, random_state=0)


@pytest.mark.parametrize("name", META)
def test_meta_strategies_run_inside_unlocker(name, data):
    clf = unlocker(strategy=name, **FAST).fit(data.X_train, data.y_train)
    proba = clf.predict_proba(data.X_test)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert isinstance(clf.strategy_, MetaStrategy) and clf.timings_["meta"] > 0
    # Unlocker worked around the method: tau learned, the prior re-estimated from its verdict
    assert len(set(clf.tau_history_.round(6))) > 1
    assert clf.prior_history_.shape == (6, 4)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(data.X_test), proba)


def test_named_meta_strategies_are_configured_objects():
    assert {"mlc", "mlc_d", "ebomlc", "dynamic_loss"} <= set(STRATEGIES)
    assert resolve_strategy("mlc_d").method == "mlc_d"
    assert isinstance(resolve_strategy("dynamic_loss"), DynamicLossStrategy)
    assert resolve_strategy("dynamic_loss").meta_set == "balanced_clean"


def test_inside_unlocker_the_trusted_batches_come_from_d_bc(data, monkeypatch):
    drawn = []
    original = TrustedSet.batch

    def spy(self, size):
        X, y = original(self, size)
        drawn.append((self.source, set(self.indices.tolist()), X))
        return X, y

    monkeypatch.setattr(TrustedSet, "batch", spy)
    X = data.X_train.astype(np.float32)
    unlocker(strategy="ebomlc", **FAST).fit(X, data.y_train)
    assert drawn and all(source == "auto" for source, _, _ in drawn)
    # every trusted row is a training row of the current D_bc
    for _, members, batch in drawn[:5]:
        rows = {int(np.flatnonzero((X == row.numpy()).all(axis=1))[0]) for row in batch}
        assert rows <= members


def test_user_trusted_set_reaches_the_meta_strategy_and_is_refused_elsewhere(data):
    clean = ~data.noise_mask
    rows = np.concatenate([np.flatnonzero(clean & (data.y_train_true == c))[:3]
                           for c in range(4)])
    trusted = dict(X_trusted=data.X_train[rows], y_trusted=data.y_train[rows])
    clf = unlocker(strategy="mlc", **FAST).fit(data.X_train, data.y_train, **trusted)
    assert np.all(np.isfinite(clf.predict_proba(data.X_test)))
    with pytest.raises(ValueError, match="meta-learning strategies only"):
        unlocker(**FAST).fit(data.X_train, data.y_train, **trusted)


def test_trusted_batches_are_class_balanced_on_an_unbalanced_set():
    y = np.repeat([0, 1, 2], [60, 10, 5])
    X = torch.arange(len(y), dtype=torch.float32)[:, None]
    trusted = TrustedSet(X, y, generator=torch.Generator().manual_seed(0))
    trusted.refresh(np.arange(len(y)))
    counts = np.zeros(3)
    for _ in range(400):
        _, labels = trusted.batch(3)
        counts += np.bincount(labels.numpy(), minlength=3)
    # uniform draws would give about 80% class 0; balanced ones a third each
    np.testing.assert_allclose(counts / counts.sum(), [1 / 3] * 3, atol=0.08)
    assert trusted.contains(torch.tensor([0, 74])).tolist() == [True, True]
    balanced = TrustedSet(X, y, generator=torch.Generator().manual_seed(0))
    balanced.refresh([0, 1, 60, 61, 70, 71])
    assert sorted(balanced.batch(10)[1].tolist()) == [0, 0, 1, 1, 2, 2]
    assert balanced._weights is None  # as many per class: plain uniform draws


class _LossProbe(Callback):
    """At the start of epoch 1 (warm-up), the net's get_loss on the first samples."""

    def __init__(self, X):
        self.X = torch.as_tensor(X)
        self.seen = None

    def on_epoch_begin(self, net, **kwargs):
        if self.seen is None:
            indices = torch.arange(8)
            with torch.no_grad():
                logits = net.module_(self.X[:8])
                self.seen = (logits, float(net.get_loss(logits, indices, training=True)),
                             net.procedure.alpha.copy())


def test_get_loss_is_the_training_loss(data):
    probe = _LossProbe(data.X_train.astype(np.float32))
    clf = unlocker(callbacks=[probe], **FAST).fit(data.X_train, data.y_train)
    assert probe.seen is None  # the user's callback is copied, the fitted one is the net's
    logits, loss, alpha = dict(clf.net_.callbacks_)["_LossProbe"].seen
    # warm-up: every sample clean, alpha = tau log(prior) added for the adjusted loss
    expected = F.cross_entropy(logits + torch.as_tensor(alpha, dtype=torch.float32),
                               torch.as_tensor(np.searchsorted(np.unique(data.y_train),
                                                               data.y_train[:8])))
    assert loss == pytest.approx(float(expected), rel=1e-5)
    assert np.all(alpha < 0) and np.ptp(alpha) > 0


def test_faces_are_the_engine_with_their_strategy(data):
    mlc = MetaLabelCorrectionClassifier(method="mlc_d", rho=0.3, **FAST)
    mlc.fit(data.X_train, data.y_train)
    assert isinstance(mlc.strategy_, MetaLabelStrategy)
    assert (mlc.strategy_.method, mlc.strategy_.rho) == ("mlc_d", 0.3)
    dl = DynamicLossClassifier(m0=0.4, **FAST).fit(data.X_train, data.y_train)
    assert dl.strategy_.meta_set == "hierarchical" and dl.strategy_.m0 == 0.4
    for clf in (mlc, dl):  # one table for every estimator
        table = clf.find_label_issues()
        assert list(table.columns) == ["is_label_issue", "label_quality", "clean_proba",
                                       "given_label", "predicted_label", "corrected_label"]
        assert table["label_quality"].between(0, 1).all()
        np.testing.assert_array_equal(table["predicted_label"], clf.predict(data.X_train))
    # the faces do not adjust: predictions are the raw logits' softmax
    logits = dl.net_.logits(torch.as_tensor(data.X_test[:5], dtype=torch.float32))
    np.testing.assert_allclose(dl.predict_proba(data.X_test[:5]),
                               torch.softmax(logits.double(), dim=1).numpy(), rtol=1e-6)


def test_inside_unlocker_the_meta_losses_take_alpha():
    from sklearn_unlocker.strategies import BatchTargets

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    alpha = torch.tensor([-0.1, -1.0, -2.5])
    epoch = {"labels": torch.tensor([0, 2]), "sample_weight": torch.tensor([1.0, 2.0])}
    targets = BatchTargets(torch.tensor([0, 1]), epoch, alpha)
    fixed = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    strategy = MetaLabelStrategy()
    strategy.meta_model_ = lambda features, labels: fixed
    per_sample = -(fixed * torch.log_softmax(logits + alpha, dim=1)).sum(dim=1)
    expected = (per_sample * epoch["sample_weight"]).mean()
    torch.testing.assert_close(strategy._lower_loss(logits, None, targets), expected)
    # the face's row has no alpha: the plain soft cross-entropy
    plain = BatchTargets(torch.tensor([0, 1]), epoch, None)
    per_sample = -(fixed * torch.log_softmax(logits, dim=1)).sum(dim=1)
    torch.testing.assert_close(strategy._lower_loss(logits, None, plain),
                               (per_sample * epoch["sample_weight"]).mean())
    # Dynamic Loss: alpha beside the margins
    torch.testing.assert_close(DynamicLossStrategy._adjusted(logits, targets), logits + alpha)
    assert DynamicLossStrategy._adjusted(logits, plain) is logits


@pytest.mark.parametrize(("noise", "sign"), [("sym", 1), ("t2h", -1)])
def test_the_engine_reads_the_noise_direction_on_balanced_logits(noise, sign):
    # the engine passes its context to a split that takes one; the direction is read once, at
    # the first selection, on z + alpha - log(given prior), so that a model's bias toward the
    # head does not count as noise
    data = make_noisy_tabular(n_samples_per_class=150, n_classes=6, n_features=8,
                              n_informative=6, n_test_per_class=5, imbalance_ratio=30,
                              noise=noise, noise_rate=0.4, random_state=0)
    seen = []

    class Recording(SmallLossStrategy):
        def split(self, logits, y, *, sample_weight=None, random_state=None, context=None):
            seen.append(context.noise_direction)
            return super().split(logits, y, sample_weight=sample_weight,
                                 random_state=random_state, context=context)

    clf = unlocker(strategy=Recording(loss_power="auto"), **FAST)
    clf.fit(data.X_train, data.y_train)
    assert len(seen) == 5 and len(set(seen)) == 1 and np.sign(seen[0]) == sign
    assert clf.strategy_.noise_direction_ == seen[0]
    assert clf.strategy_.loss_power_ == (0.5 if sign > 0 else 1.0)


@pytest.mark.parametrize("loss_power,calls", [(1.0, 0), ("auto", 1)])
def test_the_noise_direction_is_computed_only_for_a_strategy_that_reads_it(loss_power, calls,
                                                                          data, monkeypatch):
    import sklearn_unlocker._engine as engine

    seen = []
    real = engine.noise_direction
    monkeypatch.setattr(engine, "noise_direction",
                        lambda *args, **kwargs: seen.append(1) or real(*args, **kwargs))
    clf = unlocker(strategy=SmallLossStrategy(loss_power=loss_power), **FAST)
    clf.fit(data.X_train, data.y_train)
    assert len(seen) == calls  # once a fit, at the first selection, when it is read
    if loss_power == "auto":
        assert clf.strategy_.loss_power_ in (0.5, 1.0)
