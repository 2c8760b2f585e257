"""A validation split and skorch's callbacks: valid_loss, EarlyStopping, Checkpoint, scoring."""

import numpy as np
import pytest
import torch
from conftest import unlocker
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, balanced_accuracy_score, get_scorer, log_loss
from skorch.callbacks import (
    BatchScoring,
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    LRScheduler,
)
from skorch.dataset import Dataset, ValidSplit
from skorch.helper import predefined_split

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)

FAST = dict(max_epochs=5, warmup_epochs=2, random_state=0)
ESTIMATORS = [UnlockerClassifier, DynamicLossClassifier, MetaLabelCorrectionClassifier]


def _split():
    return ValidSplit(0.25, stratified=True, random_state=0)


def _held_out(clf, n):
    return np.setdiff1d(np.arange(n), clf.train_indices_)


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_a_split_holds_samples_out_and_logs_valid_metrics(Estimator, small_noisy_tabular):
    data = small_noisy_tabular
    n = len(data.y_train)
    weights = np.linspace(0.5, 1.5, n)
    clf = Estimator(train_split=_split(), **FAST).fit(data.X_train, data.y_train,
                                                     sample_weight=weights)
    held_out = _held_out(clf, n)
    assert len(held_out) == pytest.approx(0.25 * n, abs=1)
    assert len(clf.train_indices_) + len(held_out) == n
    assert len(clf.label_issues_) == len(clf.train_indices_)
    assert {"valid_loss", "valid_acc", "train_loss"} <= set(clf.history_[-1])
    assert len(clf.history_) == FAST["max_epochs"]
    table = clf.find_label_issues()
    assert np.array_equal(table.index, clf.train_indices_)
    assert np.array_equal(table["given_label"], data.y_train[clf.train_indices_])
    assert set(clf.find_label_issues(return_indices_ranked_by="label_quality")) <= set(
        clf.train_indices_)


@pytest.mark.parametrize("Estimator,params", [
    (UnlockerClassifier, {"logit_adjustment": "none"}),
    (DynamicLossClassifier, {}),
], ids=["unlocker-none", "dynamic-loss"])
def test_valid_loss_and_acc_are_those_of_the_predictions(Estimator, params, small_noisy_tabular):
    """Without a prediction adjustment the final update leaves the predictions as the last
    epoch validated them: valid_loss is their log loss, valid_acc their accuracy."""
    data = small_noisy_tabular
    clf = Estimator(train_split=_split(), **params, **FAST).fit(data.X_train, data.y_train)
    held_out = _held_out(clf, len(data.y_train))
    X_val, y_val = data.X_train[held_out], data.y_train[held_out]
    proba = clf.predict_proba(X_val)
    assert clf.history_[-1, "valid_loss"] == pytest.approx(
        log_loss(y_val, proba, labels=clf.classes_), rel=1e-4)
    assert clf.history_[-1, "valid_acc"] == pytest.approx(
        accuracy_score(y_val, clf.predict(X_val)))


class _AdjustedAccuracy(Callback):
    """At each epoch end, the accuracy of argmax(z - alpha) on a labelled set."""

    def __init__(self, X, y):
        self.X, self.y = torch.as_tensor(X), y
        self.accuracies = []

    def on_epoch_end(self, net, **kwargs):
        z = net.logits(self.X).double() - torch.as_tensor(net.procedure.alpha)
        self.accuracies.append(float(np.mean(z.argmax(1).numpy() == self.y)))


def test_validation_scores_the_adjusted_predictions(small_noisy_tabular):
    data = small_noisy_tabular
    classes = np.unique(data.y_train)
    X_val, y_val = data.X_test.astype(np.float32), np.searchsorted(classes, data.y_test)
    probe = _AdjustedAccuracy(X_val, y_val)
    # the post-hoc row predicts with z - alpha (the "unlocker" row predicts with raw z)
    clf = unlocker(train_split=predefined_split(Dataset(data.X_test, data.y_test)),
                   logit_adjustment="posthoc", callbacks=[probe],
                   **FAST).fit(data.X_train, data.y_train)
    fitted = dict(clf.net_.callbacks_)["_AdjustedAccuracy"]
    assert np.allclose(clf.history_[:, "valid_acc"], fitted.accuracies)
    assert len(clf.train_indices_) == len(data.y_train)  # a set of its own: nothing held out


def test_predefined_split_encodes_the_given_labels(small_noisy_tabular):
    data = small_noisy_tabular
    names = np.array(["ant", "bee", "cat", "dog"])
    split = predefined_split(Dataset(data.X_test, names[data.y_test]))
    clf = unlocker(train_split=split, logit_adjustment="none", **FAST)
    clf.fit(data.X_train, names[data.y_train])
    assert clf.history_[-1, "valid_acc"] == pytest.approx(
        accuracy_score(names[data.y_test], clf.predict(data.X_test)))


def test_early_stopping_ends_the_fit_without_an_interruption_warning(small_noisy_tabular):
    data = small_noisy_tabular
    never_better = EarlyStopping(patience=2, threshold=0.99, sink=lambda _: None)
    clf = unlocker(train_split=_split(), callbacks=[never_better],
                             **{**FAST, "max_epochs": 10})
    clf.fit(data.X_train, data.y_train)  # filterwarnings=error: a warning would fail here
    assert len(clf.history_) == 3
    assert clf.label_issues_.shape == clf.train_indices_.shape  # the final update ran


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_checkpoint_restores_the_best_parameters(Estimator, small_noisy_tabular, tmp_path):
    data = small_noisy_tabular
    # the default strategy, DivideMix, trains a second network: the checkpoint saves it too
    second = {"f_module2": "module2.pt"} if Estimator is UnlockerClassifier else {}
    checkpoint = Checkpoint(dirname=str(tmp_path), load_best=True, f_optimizer=None,
                            f_criterion=None, f_history=None, **second)
    clf = Estimator(train_split=_split(), callbacks=[checkpoint], **{**FAST, "max_epochs": 8})
    clf.fit(data.X_train, data.y_train)
    losses = clf.history_[:, "valid_loss"]
    best = int(np.argmin(losses))
    assert clf.history_[best, "event_cp"] is True
    saved_files = [("module_", "params.pt")] + ([("module2_", "module2.pt")] if second else [])
    for module, file in saved_files:
        saved = torch.load(tmp_path / file, weights_only=True)
        for name, value in getattr(clf.net_, module).state_dict().items():
            assert torch.equal(value, saved[name]), name


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_lr_scheduler_steps_the_optimizer(Estimator, small_noisy_tabular):
    data = small_noisy_tabular
    clf = Estimator(callbacks=[LRScheduler("StepLR", step_size=2, gamma=0.1)], lr=0.01,
                    **{**FAST, "max_epochs": 4})
    clf.fit(data.X_train, data.y_train)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.1 ** 2)


def test_epoch_scoring_with_a_sklearn_scorer(small_noisy_tabular):
    data = small_noisy_tabular
    scoring = EpochScoring("balanced_accuracy", lower_is_better=False, name="valid_bacc")
    # a fixed adjustment ("posthoc"), so that the fitted model predicts as its last epoch did
    clf = unlocker(train_split=_split(), callbacks=[scoring], logit_adjustment="posthoc",
                   **FAST)
    clf.fit(data.X_train, data.y_train)
    scores = clf.history_[:, "valid_bacc"]
    assert len(scores) == FAST["max_epochs"]
    # the last epoch's score is the scorer's on the held-out rows, by the final model
    valid = _held_out(clf, len(data.y_train))
    assert scores[-1] == pytest.approx(balanced_accuracy_score(
        data.y_train[valid], clf.predict(data.X_train[valid])))


@pytest.mark.parametrize("callback", [
    EarlyStopping(), Checkpoint(), EpochScoring("accuracy"),
], ids=["EarlyStopping", "Checkpoint", "EpochScoring"])
def test_a_callback_that_needs_a_validation_set_without_a_split_is_an_error(
        callback, small_noisy_tabular):
    data = small_noisy_tabular
    with pytest.raises(ValueError, match="needs a validation set, but there is none"):
        unlocker(callbacks=[callback], **FAST).fit(data.X_train, data.y_train)


def test_scoring_the_training_set_is_an_error(small_noisy_tabular):
    data = small_noisy_tabular
    with pytest.raises(ValueError, match="cannot score the training set"):
        unlocker(callbacks=[EpochScoring("accuracy", on_train=True)],
                           train_split=_split(), **FAST).fit(data.X_train, data.y_train)


@pytest.mark.parametrize("split,error,match", [
    (lambda dataset, y: dataset, TypeError, "must return \\(dataset_train, dataset_valid\\)"),
    (lambda dataset, y: (Dataset(dataset.X, y), None), TypeError, "Subset of it"),
    (lambda dataset, y: (dataset, Dataset(dataset.X[:3], np.array([9, 9, 9]))), ValueError,
     "labels not among the classes"),
    (lambda dataset, y: (dataset, Dataset(dataset.X[:3, :2], y[:3])), ValueError,
     "samples of shape"),
    (lambda dataset, y: (torch.utils.data.Subset(dataset, [0]), None), ValueError,
     "at least two classes"),
], ids=["not-a-pair", "foreign-train", "unseen-labels", "wrong-shape", "one-sample"])
def test_a_bad_train_split_is_named(split, error, match, small_noisy_tabular):
    data = small_noisy_tabular
    with pytest.raises(error, match=match):
        unlocker(train_split=split, **FAST).fit(data.X_train, data.y_train)


def test_checkpoint_load_best_keeps_the_log_of_every_epoch(small_noisy_tabular, tmp_path):
    """skorch's Checkpoint also restores the history file; the fit's log stays whole."""
    data = small_noisy_tabular
    clf = unlocker(train_split=_split(), **{**FAST, "max_epochs": 8},
                             callbacks=[Checkpoint(dirname=str(tmp_path), load_best=True)])
    clf.fit(data.X_train, data.y_train)  # no "interrupted" warning (filterwarnings=error)
    assert len(clf.history_) == len(clf.tau_history_) == 8


def test_restoring_the_best_epoch_restores_every_network(small_noisy_tabular, tmp_path):
    data = small_noisy_tabular
    with pytest.raises(ValueError, match="EarlyStopping\\(load_best=True\\) restores the main"):
        unlocker(strategy="dividemix", train_split=_split(), **FAST,
                           callbacks=[EarlyStopping(load_best=True)]).fit(data.X_train,
                                                                          data.y_train)
    with pytest.raises(ValueError, match=r"pass f_module2='module2\.pt'"):
        unlocker(strategy="dividemix", train_split=_split(), **FAST,
                           callbacks=[Checkpoint(dirname=str(tmp_path), load_best=True)]
                           ).fit(data.X_train, data.y_train)
    checkpoint = Checkpoint(dirname=str(tmp_path), load_best=True, f_module2="module2.pt")
    clf = unlocker(strategy="dividemix", train_split=_split(), callbacks=[checkpoint],
                             **{**FAST, "max_epochs": 8}).fit(data.X_train, data.y_train)
    for network, file in zip(clf.net_.networks(), ["params.pt", "module2.pt"], strict=True):
        saved = torch.load(tmp_path / file, weights_only=True)
        assert all(torch.equal(v, saved[k]) for k, v in network.state_dict().items())


def test_the_users_callbacks_are_not_modified(small_noisy_tabular):
    data = small_noisy_tabular
    stopping = EarlyStopping(patience=2, threshold=0.99, sink=lambda _: None)
    before = dict(vars(stopping))
    clf = unlocker(train_split=_split(), callbacks=[stopping], **FAST)
    clf.fit(data.X_train, data.y_train)
    assert vars(stopping).keys() == before.keys()  # no fitted state (best_epoch_ etc.)
    assert dict(clf.net_.callbacks_)["EarlyStopping"].misses_ >= 2  # the fitted copy


@pytest.mark.parametrize("scoring", ["roc_auc", "average_precision", "neg_log_loss"])
def test_epoch_scoring_with_probability_scorers_on_two_classes(scoring, small_noisy_tabular):
    data = small_noisy_tabular
    y = (data.y_train > 1).astype(int)
    clf = unlocker(train_split=_split(), logit_adjustment="posthoc", **FAST, callbacks=[
        EpochScoring(scoring, lower_is_better=False, name="score"),
        EpochScoring("accuracy", use_caching=False, name="acc_uncached")])
    clf.fit(data.X_train, y)
    valid = _held_out(clf, len(y))  # the scorer's value on the held-out rows, final model
    assert clf.history_[-1, "score"] == pytest.approx(
        get_scorer(scoring)(clf, data.X_train[valid], y[valid]))
    assert clf.history_[-1, "acc_uncached"] == pytest.approx(clf.history_[-1, "valid_acc"])


@pytest.mark.parametrize("callback", [
    BatchScoring("accuracy", on_train=True, name="b"), EarlyStopping,
], ids=["BatchScoring-on-train", "a-class"])
def test_every_scoring_callback_and_callback_classes_are_checked(callback, small_noisy_tabular):
    data = small_noisy_tabular
    with pytest.raises(ValueError, match=r"cannot score the training set|needs a validation set"):
        unlocker(callbacks=[callback], **FAST).fit(data.X_train, data.y_train)


def test_a_split_left_to_global_random_state_is_drawn_from_random_state(small_noisy_tabular):
    data = small_noisy_tabular
    before = np.random.get_state()[1].copy()
    models = [unlocker(train_split=ValidSplit(0.2), **FAST).fit(data.X_train,
                                                                          data.y_train)
              for _ in range(2)]
    assert np.array_equal(models[0].train_indices_, models[1].train_indices_)
    probas = [model.predict_proba(data.X_test) for model in models]
    assert np.array_equal(*probas)
    assert np.array_equal(np.random.get_state()[1], before)


def test_the_trusted_set_is_given_in_rows_of_X_with_a_split(small_noisy_tabular):
    data = small_noisy_tabular
    clf = MetaLabelCorrectionClassifier(train_split=_split(), **FAST)
    clf.fit(data.X_train, data.y_train)
    assert set(clf.trusted_indices_) <= set(clf.train_indices_)


def test_the_fitted_net_predicts_without_labels(small_noisy_tabular):
    data = small_noisy_tabular
    clf = unlocker(**FAST).fit(data.X_train, data.y_train)
    assert clf.net_.predict_proba(data.X_test.astype(np.float32)).shape == (len(data.X_test), 4)


class _FailsInEpoch(Callback):
    """Raises when an epoch begins: a fit that fails during training."""

    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise RuntimeError("the training failed")


@pytest.mark.parametrize("make", [
    lambda **kw: UnlockerClassifier(strategy="small_loss", **kw),
    lambda **kw: UnlockerClassifier(**kw),
    lambda **kw: UnlockerClassifier(strategy="mlc", **kw),
    lambda **kw: UnlockerClassifier(strategy="dynamic_loss", **kw),
    lambda **kw: DynamicLossClassifier(**kw),
    lambda **kw: MetaLabelCorrectionClassifier(**kw),
    lambda **kw: MetaLabelCorrectionClassifier(method="mlc_d", **kw),
], ids=["small_loss", "dividemix", "mlc", "dynamic_loss", "DynamicLossClassifier",
        "MetaLabelCorrectionClassifier", "mlc_d"])
def test_a_failed_refit_leaves_the_previous_model(make, small_noisy_tabular):
    data = small_noisy_tabular
    clf = make(max_epochs=3, warmup_epochs=1, random_state=0)
    clf.fit(data.X_train, data.y_train)
    before = {k: v for k, v in vars(clf).items() if k.endswith("_")}
    proba = clf.predict_proba(data.X_test)
    # other labels, a fifth class among them, and training fails: nothing of it is kept
    y = data.y_train.copy()
    y[:10] = 7
    clf.set_params(callbacks=[_FailsInEpoch()])
    with pytest.raises(RuntimeError, match="the training failed"):
        clf.fit(data.X_train[:, :4], y)
    after = {k: v for k, v in vars(clf).items() if k.endswith("_")}
    assert after.keys() == before.keys() and all(after[k] is v for k, v in before.items())
    assert clf.classes_.tolist() == [0, 1, 2, 3] and clf.n_features_in_ == 6
    np.testing.assert_array_equal(clf.predict_proba(data.X_test), proba)


def test_a_failed_first_fit_leaves_an_unfitted_estimator(small_noisy_tabular):
    data = small_noisy_tabular
    clf = UnlockerClassifier(max_epochs=3, warmup_epochs=1, callbacks=[_FailsInEpoch()])
    with pytest.raises(RuntimeError, match="the training failed"):
        clf.fit(data.X_train, data.y_train)
    assert not [k for k in vars(clf) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        clf.predict(data.X_test)
