"""warm_start=True continues the fitted model, as in skorch, with Unlocker's own state."""

import pickle

import numpy as np
import pytest
import torch
from conftest import unlocker
from skorch.callbacks import Callback

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)
from sklearn_unlocker.exceptions import UnlockerWarning

FAST = dict(max_epochs=3, warmup_epochs=2, random_state=0)


class _StartState(Callback):
    """Every network's parameters (and the strategy's meta models') when training begins."""

    def __init__(self):
        self.states = []

    def on_train_begin(self, net, **kwargs):
        strategy = net.procedure.strategy
        meta = [getattr(strategy, f"{name}_") for name in getattr(strategy, "meta_modules_", [])]
        self.states.append([{k: v.clone() for k, v in m.state_dict().items()}
                            for m in [*net.networks(), *meta]])


def _states(clf):
    strategy = clf.strategy_
    meta = [getattr(strategy, f"{name}_") for name in getattr(strategy, "meta_modules_", [])]
    return [m.state_dict() for m in [*clf.net_.networks(), *meta]]


def _equal(a, b):
    return all(torch.equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)


@pytest.mark.parametrize("Estimator,params", [
    (UnlockerClassifier, {}),
    (UnlockerClassifier, {"strategy": "dividemix"}),
    (UnlockerClassifier, {"strategy": "ebomlc"}),
    (DynamicLossClassifier, {}),
    (MetaLabelCorrectionClassifier, {}),
], ids=["unlocker", "dividemix", "unlocker-ebomlc", "dynamic-loss", "mlc"])
def test_warm_start_continues_every_network_from_the_fitted_state(Estimator, params,
                                                                  small_noisy_tabular):
    data = small_noisy_tabular
    probe = _StartState()
    clf = Estimator(warm_start=True, callbacks=[probe], **params, **FAST)
    clf.fit(data.X_train, data.y_train)
    fitted = [{k: v.clone() for k, v in s.items()} for s in _states(clf)]
    momentum = clf.net_.optimizer_.state_dict()["state"]
    assert momentum  # the optimizer has state to carry
    clf.fit(data.X_train, data.y_train)
    second = dict(clf.net_.callbacks_)["_StartState"]  # each fit copies the user's callbacks
    assert probe.states == [] and len(second.states) == 1
    assert _equal(second.states[0], fitted)  # training went on from there: nothing rebuilt
    assert not _equal(_states(clf), fitted)
    assert len(clf.history_) == 2 * FAST["max_epochs"]
    assert [row["epoch"] for row in clf.history_] == list(range(1, 7))


class _EngineStart(Callback):
    """The engine's tau, prior and alpha when training begins."""

    def __init__(self):
        self.seen = []

    def on_train_begin(self, net, **kwargs):
        engine = net.procedure
        self.seen.append((engine.tau, engine.prior.copy(), engine.alpha.copy()))


def test_warm_start_continues_tau_prior_and_adjustment(small_noisy_tabular):
    data = small_noisy_tabular
    probe = _EngineStart()
    clf = unlocker(warm_start=True, callbacks=[probe], **{**FAST, "warmup_epochs": 1})
    clf.fit(data.X_train, data.y_train)
    tau, prior, alpha = clf.tau_, clf.prior_.copy(), clf.adjustment_.copy()
    (_, _, first_alpha), = dict(clf.net_.callbacks_)["_EngineStart"].seen
    assert not np.allclose(alpha, first_alpha)  # the first fit moved them
    clf.fit(data.X_train, data.y_train)
    (start_tau, start_prior, start_alpha), = dict(clf.net_.callbacks_)["_EngineStart"].seen
    assert start_tau == tau
    assert np.array_equal(start_prior, prior) and np.array_equal(start_alpha, alpha)
    assert len(clf.tau_history_) == len(clf.imbalance_ratio_history_) == 6
    assert clf.tau_history_[3] == tau  # no outer step on the unchanged model
    assert clf.clean_fraction_history_[3] < 1.0  # and no second warm-up


def test_warm_start_false_refits_from_scratch(small_noisy_tabular):
    data = small_noisy_tabular
    clf = unlocker(**FAST).fit(data.X_train, data.y_train)
    first = clf.predict_proba(data.X_test)
    clf.fit(data.X_train, data.y_train)
    assert len(clf.history_) == FAST["max_epochs"]
    assert np.array_equal(clf.predict_proba(data.X_test), first)


def test_warm_start_applies_new_epochs_and_learning_rate(small_noisy_tabular):
    data = small_noisy_tabular
    clf = unlocker(warm_start=True, **FAST).fit(data.X_train, data.y_train)
    clf.set_params(max_epochs=2, lr=1e-4)
    clf.fit(data.X_train, data.y_train)
    assert len(clf.history_) == FAST["max_epochs"] + 2
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 1e-4


def test_warm_start_is_reproducible(small_noisy_tabular):
    data = small_noisy_tabular

    def twice():
        clf = unlocker(warm_start=True, **FAST)
        return clf.fit(data.X_train, data.y_train).fit(data.X_train, data.y_train)

    assert np.array_equal(twice().predict_proba(data.X_test), twice().predict_proba(data.X_test))


@pytest.mark.parametrize("change,match", [
    ({"module__hidden_units": (8,)}, "module__hidden_units changed"),
    ({"optimizer": torch.optim.SGD}, "optimizer changed"),
    ({"strategy": "dividemix"}, "strategy"),
], ids=["module", "optimizer", "strategy"])
def test_warm_start_refuses_a_changed_network(change, match, small_noisy_tabular):
    data = small_noisy_tabular
    clf = unlocker(warm_start=True, **FAST).fit(data.X_train, data.y_train)
    clf.set_params(**change)
    with pytest.raises(ValueError, match=match):
        clf.fit(data.X_train, data.y_train)


def test_warm_start_refuses_new_classes_and_shapes(small_noisy_tabular):
    data = small_noisy_tabular
    clf = unlocker(warm_start=True, **FAST).fit(data.X_train, data.y_train)
    with pytest.raises(ValueError, match="y has others: \\[99\\]"):
        clf.fit(data.X_train, np.where(data.y_train == 0, 99, data.y_train))
    clf = unlocker(warm_start=True, **FAST).fit(data.X_train, data.y_train)
    with pytest.raises(ValueError, match="samples of shape"):
        clf.fit(data.X_train[:, :3], data.y_train)


def test_warm_start_on_a_subset_of_the_classes_keeps_them_all(small_noisy_tabular):
    data = small_noisy_tabular
    clf = unlocker(warm_start=True, **FAST).fit(data.X_train, data.y_train)
    keep = data.y_train != 0
    with pytest.warns(UnlockerWarning, match="no training sample"):
        clf.fit(data.X_train[keep], data.y_train[keep])
    assert clf.classes_.tolist() == np.unique(data.y_train).tolist()
    assert clf.predict_proba(data.X_test).shape[1] == len(clf.classes_)


@pytest.mark.parametrize("bad", ["shape", "class", "module"])
def test_a_refused_warm_start_leaves_the_fitted_model_as_it_was(bad, small_noisy_tabular):
    data = small_noisy_tabular
    clf = unlocker(warm_start=True, **FAST).fit(data.X_train, data.y_train)
    before = clf.predict_proba(data.X_test)
    X, y = data.X_train, data.y_train
    if bad == "shape":
        X = X[:, :3]
    elif bad == "class":
        y = np.where(y == 0, 99, y)
    else:
        clf.set_params(module__hidden_units=(8,))
    with pytest.raises(ValueError, match="warm_start=True continues the fitted model"):
        clf.fit(X[y > 0] if bad == "module" else X, y[y > 0] if bad == "module" else y)
    assert clf.classes_.tolist() == [0, 1, 2, 3] and clf.n_features_in_ == 6
    assert np.array_equal(clf.predict_proba(data.X_test), before)


def test_warm_start_compares_functions_by_name_and_sees_new_classes(small_noisy_tabular):
    from sklearn_unlocker._warm_start import fingerprint as _fingerprint

    # a function's repr holds its address, which differs in another process
    assert _fingerprint(np.mean) == "numpy.mean" and "0x" not in _fingerprint(torch.relu)
    assert _fingerprint(np.arange(3)) == _fingerprint([0, 1, 2]) != _fingerprint([0, 1, 3])
    data = small_noisy_tabular
    clf = unlocker(warm_start=True, **FAST).fit(data.X_train, data.y_train)
    pickle.loads(pickle.dumps(clf)).fit(data.X_train, data.y_train)  # an unpickled copy goes on
    clf.set_params(classes=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="classes changed"):
        clf.fit(data.X_train, data.y_train)
