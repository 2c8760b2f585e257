"""The bad-input and fault matrix: every case against every estimator.

Each case either raises a clear error whose message names the problem, or has
a documented safe result (checked here). Strategy-specific faults (a method
that needs a trusted set, a prior mode) are tested beside their strategy.
"""

import copy
import functools
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import sklearn
import sklearn.linear_model
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, EarlyStopping
from torch import nn

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
    UnlockerWarning,
)
from sklearn_unlocker.modules import MLP
from sklearn_unlocker.strategies import SmallLossStrategy

FAST = dict(max_epochs=3, warmup_epochs=1, random_state=0)
ESTIMATORS = [UnlockerClassifier, DynamicLossClassifier, MetaLabelCorrectionClassifier]
ESTIMATOR_IDS = ["unlocker", "dynamic_loss", "mlc"]
_META_STRATEGIES = ("mlc", "mlc_d", "ebomlc", "dynamic_loss")
#: every strategy of UnlockerClassifier and every method of the faces: the fit-error matrix
SETUPS = {
    **dict(zip(ESTIMATOR_IDS, ESTIMATORS, strict=True)),
    **{f"unlocker-{strategy}": functools.partial(UnlockerClassifier, strategy=strategy)
       for strategy in ("small_loss", "none", *_META_STRATEGIES)},
    "unlocker-dividemix-unlocker": functools.partial(UnlockerClassifier,
                                                     logit_adjustment="unlocker"),
    **{f"mlc-{method}": functools.partial(MetaLabelCorrectionClassifier, method=method)
       for method in ("mlc", "mlc_d")},
}


@pytest.fixture(scope="module")
def data(small_noisy_tabular):
    """X (n, 6), y in 4 classes, long-tailed and noisy."""
    return small_noisy_tabular


def _nan_at_3(X):
    X = X.copy()
    X.flat[3] = np.nan
    return X


def _inf_at_3(X):
    X = X.copy()
    X.flat[3] = np.inf
    return X


class _NaNModule(nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, X):
        return self.linear(X) * float("nan")


class _Linear(nn.Module):
    """A linear model whose forward a subclass bends out of shape."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, X):
        return self.linear(X)


class _Softmax(_Linear):
    def forward(self, X):
        return torch.softmax(self.linear(X), dim=1)


class _Pair(_Linear):
    def forward(self, X):
        return self.linear(X), X


class _Dict(_Linear):
    def forward(self, X):
        return {"logits": self.linear(X)}


class _Detached(_Linear):
    def forward(self, X):
        return self.linear(X).detach()


class _Integer(_Linear):
    def forward(self, X):
        return self.linear(X).long()


class _Lazy(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.linear = nn.LazyLinear(n_classes)

    def forward(self, X):
        return self.linear(X)


class _OtherNames(nn.Module):
    """Its sizes under names the estimator does not fill."""

    def __init__(self, input_dim, num_classes):
        super().__init__()
        self.linear = nn.Linear(input_dim, num_classes)

    def forward(self, X):
        return self.linear(X)


class _Dicts(torch.utils.data.Dataset):
    """Yields dicts, not (x, y) pairs."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return {"x": torch.as_tensor(self.X[i]), "y": int(self.y[i])}


def _mixed(y):
    return np.array([str(v) if i % 2 else int(v) for i, v in enumerate(y)], dtype=object)


class _Interrupt(Callback):
    """Ctrl+C after the second epoch."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            raise KeyboardInterrupt


def _with(**changes):
    """A change of the fit arguments: each value maps the old argument to the new one."""
    def change(args):
        return {**args, **{name: fn(args) for name, fn in changes.items()}}
    return change


def _META(Estimator):
    """A trusted set needs a meta-learning strategy: the faces have one, Unlocker gets mlc."""
    if Estimator is UnlockerClassifier:
        return {"strategy": "mlc"}
    if getattr(Estimator, "func", None) is UnlockerClassifier and \
            Estimator.keywords.get("strategy") not in _META_STRATEGIES:
        return {"strategy": "mlc"}
    return {}


# (id, estimator parameters (or a function of the estimator class giving them), change of the
# fit arguments, error, what the message names)
FIT_ERRORS = [
    # input
    ("X-nan", {}, _with(X=lambda a: _nan_at_3(a["X"])), ValueError, "NaN"),
    ("X-inf", {}, _with(X=lambda a: _inf_at_3(a["X"])), ValueError, "infinity"),
    ("X-1d", {}, _with(X=lambda a: a["X"][:, 0]), ValueError, "Expected 2D array"),
    ("X-strings", {}, _with(X=lambda a: np.full(a["X"].shape, "a")), ValueError,
     "could not convert string to float"),
    ("X-complex", {}, _with(X=lambda a: a["X"] + 1j), ValueError, "Complex data"),
    ("X-sparse", {}, _with(X=lambda a: scipy.sparse.csr_matrix(a["X"])), TypeError,
     "dense data is required"),
    ("X-empty", {}, _with(X=lambda a: a["X"][:0], y=lambda a: a["y"][:0]), ValueError,
     "0 sample"),
    ("X-one-sample", {}, _with(X=lambda a: a["X"][:1], y=lambda a: a["y"][:1]), ValueError,
     "minimum of 2"),
    # labels
    ("y-none", {}, _with(y=lambda a: None), ValueError, "requires y to be passed"),
    ("y-one-class", {}, _with(y=lambda a: np.zeros_like(a["y"])), ValueError,
     "at least two classes"),
    ("y-length", {}, _with(y=lambda a: a["y"][:-1]), ValueError,
     "inconsistent numbers of samples"),
    ("y-continuous", {}, _with(y=lambda a: a["y"] + 0.5), ValueError, "Unknown label type"),
    ("y-2d", {}, _with(y=lambda a: np.c_[a["y"], a["y"]]), ValueError, "1d array"),
    ("y-nan", {}, _with(y=lambda a: np.where(a["y"] == 0, np.nan, a["y"])), ValueError,
     "y contains NaN"),
    ("y-strings-and-numbers", {}, _with(y=lambda a: _mixed(a["y"])), ValueError,
     "y mixes strings and numbers"),
    ("dataset-of-dicts", {}, _with(X=lambda a: _Dicts(a["X"], a["y"]), y=lambda a: None),
     ValueError, r"must yield \(x, y\) pairs.*yields a dict"),
    ("y-outside-classes", {"classes": [0, 1, 2]}, _with(), ValueError,
     r"labels not in classes: \[3\]"),
    # sample weights
    ("weight-negative", {}, _with(sample_weight=lambda a: -np.ones(len(a["y"]))), ValueError,
     "Negative values"),
    ("weight-length", {}, _with(sample_weight=lambda a: np.ones(3)), ValueError,
     "sample_weight.shape"),
    ("weight-one-class", {}, _with(sample_weight=lambda a: (a["y"] == 0).astype(float)),
     ValueError, "two classes with positive sample_weight"),
    # keywords and parameters
    ("keyword-typo", {"max_epoch": 1}, _with(), TypeError,
     r"'max_epoch' \(did you mean 'max_epochs'\?\)"),
    ("class-weight", {"class_weight": "balanced"}, _with(), TypeError,
     "class_weight.*logit_adjustment"),
    ("routed-unknown", {"foo__bar": 1}, _with(), ValueError, "unknown routed parameter"),
    ("max-epochs-0", {"max_epochs": 0}, _with(), ValueError, "'max_epochs' parameter"),
    ("batch-size-0", {"batch_size": 0}, _with(), ValueError, "'batch_size' parameter"),
    ("lr-negative", {"lr": -1.0}, _with(), ValueError, "'lr' parameter"),
    ("lr-nan", {"lr": float("nan")}, _with(), ValueError, "'lr' parameter"),
    ("lr-inf", {"lr": float("inf")}, _with(), ValueError, "'lr' parameter"),
    ("warmup-negative", {"warmup_epochs": -1}, _with(), ValueError, "'warmup_epochs'"),
    ("optimizer-string", {"optimizer": "adam"}, _with(), ValueError, "'optimizer' parameter"),
    ("random-state-string", {"random_state": "x"}, _with(), ValueError, "'random_state'"),
    ("verbose-negative", {"verbose": -1}, _with(), ValueError, "'verbose' parameter"),
    ("callbacks-not-a-list", {"callbacks": EarlyStopping()}, _with(), ValueError,
     "'callbacks' parameter"),
    ("train-split-not-callable", {"train_split": 0.2}, _with(), ValueError,
     "'train_split' parameter"),
    ("device-tpu", {"device": "tpu"}, _with(), ValueError, "not a torch device"),
    # modules
    ("module-string", {"module": "mlp"}, _with(), ValueError, "'module' parameter"),
    ("module-width", {"module__n_classes": 3}, _with(), ValueError,
     r"expected \(2, 4\).*4 classes"),
    ("module-fails", {"module": nn.Linear(5, 4)}, _with(), ValueError,
     "module failed on a batch"),
    ("module-instance-with-params", {"module": MLP(6, 4), "module__hidden_units": (3,)},
     _with(), ValueError, "module__hidden_units cannot apply"),
    ("module-returns-a-tuple", {"module": _Pair}, _with(), ValueError,
     "must return a tensor of logits.*returned a tuple"),
    ("module-returns-a-dict", {"module": _Dict}, _with(), ValueError, "returned a dict"),
    ("module-detached", {"module": _Detached}, _with(), ValueError,
     "does not depend on its trainable parameters"),
    ("module-integer-logits", {"module": _Integer}, _with(), ValueError,
     "dtype torch.int64; logits must be floating point"),
    ("module-lazy", {"module": _Lazy}, _with(), ValueError, "lazy layers.*would never train"),
    ("module-frozen", {"module": _Linear(6, 4).requires_grad_(False)}, _with(), ValueError,
     "no parameter that requires grad"),
    ("module-sklearn", {"module": sklearn.linear_model.LogisticRegression}, _with(), TypeError,
     "module must be a torch.nn.Module"),
    ("module-other-argument-names", {"module": _OtherNames}, _with(), TypeError,
     r"needs \['input_dim', 'num_classes'\].*module__input_dim=\.\.\."),
    ("keyword-criterion", {"criterion": nn.CrossEntropyLoss}, _with(), TypeError,
     "'criterion' \\(the loss is the method's own"),
    # keywords shaped like attributes
    ("keyword-trailing-underscore", {"random_state_": 0}, _with(), TypeError,
     "'random_state_'.*leading or trailing underscore"),
    ("keyword-leading-underscore", {"_seed": 0}, _with(), TypeError, "'_seed'"),
    ("valid-batch-size-0", {"iterator_valid__batch_size": 0}, _with(), ValueError,
     "iterator_valid__batch_size must be a positive integer; got 0"),
    ("train-batch-size-negative", {"iterator_train__batch_size": -1}, _with(), ValueError,
     "iterator_train__batch_size must be a positive integer"),
    # callbacks
    ("early-stopping-without-split", {"callbacks": [EarlyStopping()]}, _with(), ValueError,
     "needs a validation set"),
    ("callbacks-routed-unknown", {"callbacks__foo__patience": 3}, _with(), ValueError,
     r"callbacks__foo__\.\.\. names no callback"),
    ("callbacks-a-string", {"callbacks": ["foo"]}, _with(), TypeError,
     "callbacks must be skorch callbacks.*'foo'"),
    # divergence
    ("module-nan", {"module": _NaNModule}, _with(), FloatingPointError,
     r"epoch 1 .*learning rate.*unscaled"),
    ("lr-huge-unscaled", {"lr": 1e9}, _with(X=lambda a: a["X"] * 1e6), FloatingPointError,
     r"lr=1000000000.0.*largest \|x\|"),
    # trusted sets (inside Unlocker, for a meta-learning strategy)
    ("trusted-half", _META, _with(X_trusted=lambda a: a["X"][:8]), ValueError,
     "X_trusted and y_trusted"),
    ("trusted-labels-unseen", _META, _with(X_trusted=lambda a: a["X"][:2],
                                        y_trusted=lambda a: np.array([9, 9])),
     ValueError, "y_trusted has labels not among the classes"),
    ("trusted-shape", _META, _with(X_trusted=lambda a: a["X"][:2, :3],
                                y_trusted=lambda a: a["y"][:2]),
     ValueError, "X_trusted has samples of shape"),
]
if not torch.cuda.is_available():
    FIT_ERRORS.append(("device-cuda-missing", {"device": "cuda"}, _with(), ValueError,
                       "no CUDA device"))
if not torch.backends.mps.is_available():
    FIT_ERRORS.append(("device-mps-missing", {"device": "mps"}, _with(), ValueError,
                       "device='mps' is not available here"))


def _args(data):
    return {"X": data.X_train.copy(), "y": data.y_train.copy()}


@pytest.mark.parametrize("Estimator", list(SETUPS.values()), ids=list(SETUPS))
@pytest.mark.parametrize("case,params,change,error,match", FIT_ERRORS,
                         ids=[case[0] for case in FIT_ERRORS])
def test_fit_error(Estimator, case, params, change, error, match, data):
    args = change(_args(data))
    params = params(Estimator) if callable(params) else params
    with pytest.raises(error, match=match):
        Estimator(**{**FAST, **params}).fit(**args)


def test_a_trusted_set_for_a_selection_strategy_is_an_error(data):
    with pytest.raises(ValueError, match="used by the meta-learning strategies only"):
        UnlockerClassifier(**FAST).fit(data.X_train, data.y_train, X_trusted=data.X_train[:4],
                                       y_trusted=data.y_train[:4])


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_a_typo_is_an_error_in_clone_too(Estimator):
    with pytest.raises(TypeError, match="max_epoch"):  # a clone would drop it silently
        clone(Estimator(max_epoch=1))


@pytest.fixture(scope="module", params=ESTIMATORS, ids=ESTIMATOR_IDS)
def fitted(request, data):
    return request.param(**FAST).fit(data.X_train, data.y_train)


# (id, call on a fitted estimator, error, what the message names)
PREDICT_ERRORS = [
    ("features", lambda clf, d: clf.predict(d.X_test[:, :5]), ValueError, "features"),
    ("nd-shape", lambda clf, d: clf.predict(d.X_test.reshape(-1, 2, 3)), ValueError,
     "features"),
    ("nan", lambda clf, d: clf.predict_proba(_nan_at_3(d.X_test)), ValueError, "NaN"),
    ("score-unseen-labels", lambda clf, d: clf.score(d.X_test[:3], [0, 1, 7]), ValueError,
     r"unseen at fit: \[7\]"),
    ("ranking", lambda clf, d: clf.find_label_issues(return_indices_ranked_by="margin"),
     ValueError, "return_indices_ranked_by"),
    ("warm-start-new-class",
     lambda clf, d: clone(clf).set_params(warm_start=True).fit(d.X_train, d.y_train)
     .fit(d.X_train, np.where(d.y_train == 0, 9, d.y_train)), ValueError, r"y has others: \[9\]"),
]


@pytest.mark.parametrize("case,call,error,match", PREDICT_ERRORS,
                         ids=[case[0] for case in PREDICT_ERRORS])
def test_prediction_error(fitted, case, call, error, match, data):
    with pytest.raises(error, match=match):
        call(fitted, data)


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=ESTIMATOR_IDS)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function",
                                    "find_label_issues"])
def test_use_before_fit_is_a_not_fitted_error(Estimator, method, data):
    with pytest.raises(NotFittedError):
        getattr(Estimator(), method)(*([data.X_test] if method != "find_label_issues" else []))


def _assert_sane(clf, X):
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= set(clf.classes_)
    return proba


def _SELECTION_WARNS(Estimator):
    """Unlocker's per-class small-loss split may keep no sample of a tiny class: it says so."""
    return "had no sample judged clean" if Estimator is UnlockerClassifier else None


# (id, estimator parameters, change of the fit arguments, the UnlockerWarning expected (or a
# function of the estimator class giving it), a check of the fitted estimator)
SAFE = [
    ("labels-all-random", {}, _with(y=lambda a: np.random.RandomState(1).permutation(a["y"])),
     None, None),
    ("X-constant", {}, _with(X=lambda a: np.zeros_like(a["X"])), None, None),
    ("X-duplicated-with-other-labels", {},
     _with(X=lambda a: np.repeat(a["X"][:1], len(a["y"]), axis=0)), None, None),
    ("two-per-class", {}, _with(X=lambda a: a["X"][_two_per_class(a["y"])],
                                y=lambda a: a["y"][_two_per_class(a["y"])]),
     _SELECTION_WARNS, None),
    ("one-sample-in-a-class", {}, _with(X=lambda a: a["X"][_one_of_class_3(a["y"])],
                                        y=lambda a: a["y"][_one_of_class_3(a["y"])]),
     _SELECTION_WARNS, None),
    ("X-float64-int", {}, _with(X=lambda a: np.round(a["X"] * 10).astype(int)), None, None),
    ("X-3d-flattened-by-mlp", {}, _with(X=lambda a: a["X"].reshape(-1, 2, 3)), None,
     lambda clf, d: clf.input_shape_ == (2, 3)),
    ("y-strings", {}, _with(y=lambda a: np.array(["ant", "bee", "cat", "dog"])[a["y"]]),
     None, lambda clf, d: clf.classes_.tolist() == ["ant", "bee", "cat", "dog"]),
    ("pandas", {}, _with(X=lambda a: pd.DataFrame(a["X"], columns=list("abcdef")),
                         y=lambda a: pd.Series(a["y"])), None,
     lambda clf, d: clf.feature_names_in_.tolist() == list("abcdef")),
    ("weight-zeros-for-some", {}, _with(sample_weight=lambda a: (np.arange(len(a["y"])) % 3 > 0)
                                        .astype(float)), None, None),
    ("warmup-whole-fit", {"warmup_epochs": 3}, _with(), "every epoch is a warm-up epoch", None),
    ("ctrl-c", {"callbacks": [_Interrupt()]}, _with(), "stopped at epoch 2 of 3",
     lambda clf, d: len(clf.history_) == 2),
    ("module-ends-in-softmax", {"module": _Softmax}, _with(), "look like probabilities", None),
]


def _two_per_class(y):
    return np.concatenate([np.flatnonzero(y == label)[:2] for label in np.unique(y)])


def _one_of_class_3(y):
    return np.concatenate([np.flatnonzero(y != 3), np.flatnonzero(y == 3)[:1]])


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=ESTIMATOR_IDS)
@pytest.mark.parametrize("case,params,change,warning,check", SAFE, ids=[c[0] for c in SAFE])
def test_safe_result(Estimator, case, params, change, warning, check, data):
    args = change(_args(data))
    clf = Estimator(**{**FAST, **params})
    warning = warning(Estimator) if callable(warning) else warning
    if warning is None:
        clf.fit(**args)  # filterwarnings=error: any warning fails here
    else:
        with pytest.warns(UnlockerWarning, match=warning):
            clf.fit(**args)
    X_test = data.X_test.reshape((-1, *clf.input_shape_))
    _assert_sane(clf, pd.DataFrame(X_test, columns=clf.feature_names_in_)
                 if hasattr(clf, "feature_names_in_") else X_test)
    if check is not None:
        assert check(clf, data)


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_nothing_the_user_passed_is_modified(Estimator, data):
    X, y = data.X_train.copy(), data.y_train.copy()
    weights = np.linspace(0.5, 1.5, len(y))
    module = MLP(6, 4)
    before = copy.deepcopy((X, y, weights, module.state_dict()))
    clf = Estimator(module, **FAST)
    params = clf.get_params(deep=False)
    clf.fit(X, y, sample_weight=weights)
    for now, then in zip((X, y, weights), before[:3], strict=True):
        assert np.array_equal(now, then)
    assert all(torch.equal(module.state_dict()[k], before[3][k]) for k in before[3])
    assert clf.get_params(deep=False) == params


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_a_class_in_classes_without_samples(Estimator, data):
    """An extra class gets a column: Unlocker floors its prior and says so."""
    clf = Estimator(classes=[0, 1, 2, 3, 4], **FAST)
    if Estimator is UnlockerClassifier:
        with pytest.warns(UnlockerWarning, match=r"\[4\] of `classes` have no training sample"):
            clf.fit(data.X_train, data.y_train)
    else:
        clf.fit(data.X_train, data.y_train)
    assert _assert_sane(clf, data.X_test).shape == (len(data.X_test), 5)


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=ESTIMATOR_IDS)
@pytest.mark.parametrize("case,params,scale", [
    ("lr-1e3", {"lr": 1e3}, 1.0), ("X-1e10", {}, 1e10), ("X-1e20", {}, 1e20),
    ("X-1e30", {}, 1e30),
], ids=["lr-1e3", "X-1e10", "X-1e20", "X-1e30"])
def test_a_fit_far_off_scale_stops_clearly_or_stays_finite(Estimator, case, params, scale,
                                                           data):
    """Where such a fit diverges it stops with the clear error; where it survives, its
    predictions are finite (never NaN probabilities and classes_[0] everywhere)."""
    clf = Estimator(**{**FAST, **params})
    try:
        if scale > 1e8:  # it says the inputs are unscaled
            with pytest.warns(UnlockerWarning, match="unscaled inputs"):
                clf.fit(data.X_train * scale, data.y_train)
        else:
            clf.fit(data.X_train * scale, data.y_train)
    except FloatingPointError as error:
        assert re.search(r"in epoch \d+ \(training stopped\).*lr=.*largest \|x\|", str(error))
    else:
        _assert_sane(clf, data.X_test * scale)


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_metadata_routing_survives_clone_in_a_search(Estimator, data):
    with sklearn.config_context(enable_metadata_routing=True):
        clf = Estimator(**FAST).set_fit_request(sample_weight=True)
        assert clone(clf).get_metadata_routing().fit.requests["sample_weight"] is True
        scorer = make_scorer(balanced_accuracy_score).set_score_request(sample_weight=False)
        grid = GridSearchCV(clf, {"max_epochs": [2]}, cv=2, scoring=scorer)
        grid.fit(data.X_train, data.y_train, sample_weight=np.ones(len(data.y_train)))
        assert grid.best_estimator_.get_metadata_routing().fit.requests["sample_weight"]


def test_a_strategy_parameter_in_the_constructor_names_set_params(small_noisy_tabular):
    data = small_noisy_tabular
    clf = UnlockerClassifier(strategy="dividemix", strategy__alpha=0.1, max_epochs=2)
    with pytest.raises(ValueError, match=r"strategy__alpha\) are set with set_params"):
        clf.fit(data.X_train, data.y_train)
    clf = UnlockerClassifier(strategy="dividemix", max_epochs=2).set_params(strategy__alpha=0.1)
    assert clf.strategy.alpha == 0.1  # the way that works


def test_set_params_after_fit_changes_no_prediction_until_a_refit(data):
    clf = UnlockerClassifier(strategy="small_loss", logit_adjustment="unlocker", **FAST)
    proba = clf.fit(data.X_train, data.y_train).predict_proba(data.X_test)
    clf.set_params(logit_adjustment="none")  # what the next fit will do
    np.testing.assert_array_equal(clf.predict_proba(data.X_test), proba)
    refit = clf.fit(data.X_train, data.y_train)
    np.testing.assert_array_equal(refit._prediction_adjustment(), np.zeros(4))


# the parameters only UnlockerClassifier has, and its strategies' own
UNLOCKER_ERRORS = [
    ("tau-bounds-strings", {"tau_bounds": ("a", "b")}, ValueError,
     r"tau_bounds must be two numbers"),
    ("prior-strings", {"prior": ["a", "b", "c", "d"]}, ValueError,
     "prior must be a mode name or 4 positive class frequencies"),
    ("strategy-parameter", {"strategy": SmallLossStrategy(loss_power="sqrt")},
     ValueError, "'loss_power' parameter of SmallLossStrategy"),
    ("augment-changes-shape", {"augment": lambda x: x[:3]}, ValueError,
     r"augment changed a batch of shape \(2, 6\) into \(2, 3\)"),
    ("augment-fails", {"augment": lambda x: x[:, 0]}, ValueError,
     "augment failed on a batch of shape"),
    ("accelerator-class", {"accelerator": type("Accelerator", (), {
        name: lambda self: None for name in ("prepare", "backward", "gather", "unwrap_model")})},
     TypeError, r"accelerator=Accelerator is a class; pass an instance"),
]


@pytest.mark.parametrize("case,params,error,match", UNLOCKER_ERRORS,
                         ids=[case[0] for case in UNLOCKER_ERRORS])
def test_unlocker_fit_error(case, params, error, match, data):
    with pytest.raises(error, match=match):
        UnlockerClassifier(**{**FAST, "logit_adjustment": "unlocker", **params}).fit(
            data.X_train, data.y_train)


def test_a_trusted_dataset_is_named(data):
    trusted = torch.utils.data.TensorDataset(torch.as_tensor(data.X_train[:8]),
                                             torch.as_tensor(data.y_train[:8]))
    with pytest.raises(TypeError, match="X_trusted must be an array or tensor"):
        UnlockerClassifier(strategy="mlc", **FAST).fit(data.X_train, data.y_train,
                                                        X_trusted=trusted,
                                                        y_trusted=data.y_train[:8])
