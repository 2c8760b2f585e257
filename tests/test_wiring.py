"""Every knob a user tunes reaches the code it sets: the estimators' parameters, followed into
the engine and the strategies. Each test fails when its knob stops arriving (a parameter
ignored, two arguments swapped, a value hard-coded)."""

import warnings

import numpy as np
import pytest
from skorch.callbacks import Callback

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
    _engine,
)
from sklearn_unlocker._net import TrainingNet
from sklearn_unlocker.exceptions import UnlockerWarning

FAST = dict(strategy="small_loss", logit_adjustment="unlocker", max_epochs=4, warmup_epochs=1,
            random_state=0)


def _spy(monkeypatch, name, module=_engine):
    """Record the arguments of every call of ``module.name`` (still calling it)."""
    calls = []
    function = getattr(module, name)

    def recording(*args, **kwargs):
        calls.append((args, kwargs))
        return function(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def test_the_outer_step_gets_tau_and_its_solver_knobs(monkeypatch, small_noisy_tabular):
    data = small_noisy_tabular
    calls = _spy(monkeypatch, "solve_tau")
    UnlockerClassifier(**{**FAST, "tau": 0.8, "tau_solver": "sgd", "tau_lr": 0.37,
                          "tau_steps": 3, "tau_bounds": (-0.5, 1.25)}).fit(
        data.X_train, data.y_train)
    assert calls
    (tau, *_), kwargs = calls[0]
    assert tau == 0.8  # the first outer step starts from the given tau
    assert {k: kwargs[k] for k in ("solver", "lr", "steps", "bounds")} == {
        "solver": "sgd", "lr": 0.37, "steps": 3, "bounds": (-0.5, 1.25)}
    assert all(kw["batch_size"] == 128 for _, kw in calls)
    calls.clear()
    UnlockerClassifier(**{**FAST, "tau_solver": "closed_form"}).fit(data.X_train, data.y_train)
    assert {kw["solver"] for _, kw in calls} == {"closed_form"}
    calls.clear()
    UnlockerClassifier(**{**FAST, "tau_solver": "appendix_sgd"}).fit(data.X_train, data.y_train)
    assert {kw["solver"] for _, kw in calls} == {"appendix_sgd"}


def test_the_ema_weighs_the_new_value_by_ema_beta(monkeypatch, small_noisy_tabular):
    data = small_noisy_tabular
    calls = _spy(monkeypatch, "ema_update")
    UnlockerClassifier(**{**FAST, "ema_beta": 0.3}).fit(data.X_train, data.y_train)
    assert calls and all(args[2] == 0.3 for args, _ in calls)
    # beta weighs the new value: at 1 the adjustment is the last target, tau log(prior) with
    # the prior the final outer step read (the last epoch's, before the final re-estimate)
    clf = UnlockerClassifier(**{**FAST, "ema_beta": 1.0}).fit(data.X_train, data.y_train)
    target = clf.tau_ * np.log(clf.prior_history_[-1])
    np.testing.assert_allclose(clf.adjustment_, target, rtol=1e-12)
    # and below 1 it lags behind the target
    clf = UnlockerClassifier(**{**FAST, "ema_beta": 0.2}).fit(data.X_train, data.y_train)
    assert not np.allclose(clf.adjustment_, clf.tau_ * np.log(clf.prior_history_[-1]))


def test_the_prior_estimate_gets_its_mode_and_max_change(monkeypatch, small_noisy_tabular):
    data = small_noisy_tabular
    calls = _spy(monkeypatch, "estimate_prior")
    UnlockerClassifier(**{**FAST, "prior": "corrected", "max_prior_change": 1.7}).fit(
        data.X_train, data.y_train)
    assert calls
    assert {args[0] for args, _ in calls} == {"corrected"}
    assert {kw["max_change"] for _, kw in calls} == {1.7}


def test_the_balanced_clean_subset_gets_its_size_knobs(monkeypatch, small_noisy_tabular):
    data = small_noisy_tabular
    calls = _spy(monkeypatch, "balanced_clean_subset")
    UnlockerClassifier(**{**FAST, "bc_fraction": 0.3, "bc_min_per_class": 5}).fit(
        data.X_train, data.y_train)
    assert calls
    assert {(kw["fraction"], kw["min_per_class"]) for _, kw in calls} == {(0.3, 5)}


class _Seen(Callback):
    """What the engine holds when training begins."""

    def __deepcopy__(self, memo):  # the estimator copies its callbacks: record here
        return self

    def on_train_begin(self, net, **kwargs):
        engine = net.procedure
        self.config = engine.config
        self.context = engine.context


@pytest.mark.parametrize("knob,value,field", [
    ("warmup_epochs", 2, "warmup_epochs"),
    ("max_epochs", 5, "max_epochs"),
    ("batch_size", 32, "batch_size"),
    ("mixup_alpha", 0.7, "mixup_alpha"),
    ("refresh_batchnorm", False, "refresh_batchnorm"),
    ("tau", 0.6, "tau"),
])
def test_a_training_knob_reaches_the_engine(knob, value, field, small_noisy_tabular):
    data = small_noisy_tabular
    seen = _Seen()
    UnlockerClassifier(**{**FAST, knob: value, "callbacks": [seen]}).fit(
        data.X_train, data.y_train)
    assert getattr(seen.config, field) == value
    if knob in ("warmup_epochs", "max_epochs", "mixup_alpha"):
        assert getattr(seen.context, field) == value


def test_the_score_pass_refreshes_batch_norm_as_told(monkeypatch, small_noisy_tabular):
    data = small_noisy_tabular
    enabled = []
    original = TrainingNet.batch_statistics

    def recording(self, enabled_=True):
        enabled.append(enabled_)
        return original(self, enabled_)

    monkeypatch.setattr(TrainingNet, "batch_statistics", recording)
    UnlockerClassifier(**{**FAST, "refresh_batchnorm": False}).fit(data.X_train, data.y_train)
    assert enabled and not any(enabled)
    enabled.clear()
    UnlockerClassifier(**FAST).fit(data.X_train, data.y_train)
    assert enabled and all(enabled)


def test_warmup_sets_when_selection_begins(monkeypatch, small_noisy_tabular):
    data = small_noisy_tabular
    updates = _spy(monkeypatch, "_update", _engine.TrainingEngine)
    UnlockerClassifier(**{**FAST, "max_epochs": 5, "warmup_epochs": 3}).fit(
        data.X_train, data.y_train)
    assert len(updates) == 5 - 3 + 1  # epochs 4 and 5, and the final model


def test_a_strategys_own_parameters_reach_it(small_noisy_tabular):
    data = small_noisy_tabular
    clf = UnlockerClassifier(**FAST).set_params(strategy__p_threshold=0.7,
                                                strategy__loss_power=0.5)
    clf.fit(data.X_train, data.y_train)
    assert clf.strategy_.p_threshold == 0.7 and clf.strategy_.loss_power == 0.5


@pytest.mark.parametrize("Face,params,strategy_params", [
    (MetaLabelCorrectionClassifier,
     dict(method="mlc_d", rho=0.3, delta=0.2, xi=0.7, meta_lr=0.02, inner_lr=0.05,
          meta_hidden_units=16, features="live", q_gradient="difference", label_skip=1.0,
          feature_extractor=None, train_on_trusted=False, step_gradient="recomputed",
          inner_steps=3),
     dict(method="mlc_d", rho=0.3, delta=0.2, xi=0.7, meta_lr=0.02, inner_lr=0.05,
          meta_hidden_units=16, features="live", q_gradient="difference", label_skip=1.0,
          feature_extractor=None, train_on_trusted=False, step_gradient="recomputed",
          inner_steps=3)),
    (DynamicLossClassifier,
     dict(max_bins=7, meta_lr=0.02, inner_lr=0.05, meta_hidden_units=16, m0=0.3, m1=0.6,
          label_corrector="shared", margins="balanced_softmax"),
     dict(max_bins=7, meta_lr=0.02, inner_lr=0.05, meta_hidden_units=16, m0=0.3, m1=0.6,
          label_corrector="shared", margins="balanced_softmax")),
])
def test_the_meta_faces_pass_their_parameters_to_their_strategy(Face, params, strategy_params,
                                                                small_noisy_tabular):
    data = small_noisy_tabular
    with warnings.catch_warnings():  # some of these apply to another method, and say so
        warnings.simplefilter("ignore", UnlockerWarning)
        clf = Face(max_epochs=3, warmup_epochs=1, random_state=0, **params).fit(
            data.X_train, data.y_train)
    assert {k: getattr(clf.strategy_, k) for k in strategy_params} == strategy_params
    # every forwarded parameter is checked here, and gets the strategy's own constraints
    assert set(Face._strategy_class_params) == set(strategy_params)
    for name in Face._strategy_class_params:
        assert (Face._parameter_constraints[name]
                is Face._strategy_class._parameter_constraints[name])
