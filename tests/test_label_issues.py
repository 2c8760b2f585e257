"""The label-issue table: what label_quality is, that it ranks, and that every estimator flags."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)
from sklearn_unlocker._engine import TrainingEngine

FAST = dict(max_epochs=12, warmup_epochs=3, random_state=0)

ESTIMATORS = {
    "small_loss": lambda: UnlockerClassifier(strategy="small_loss", logit_adjustment="unlocker",
                                             **FAST),
    "dividemix": lambda: UnlockerClassifier(strategy="dividemix", logit_adjustment="unlocker",
                                            **FAST),
    "dividemix_la": lambda: UnlockerClassifier(**FAST),  # the defaults
    "none": lambda: UnlockerClassifier(strategy="none", logit_adjustment="none", **FAST),
    "ebomlc": lambda: MetaLabelCorrectionClassifier(**FAST),
    "mlc": lambda: MetaLabelCorrectionClassifier(method="mlc", **FAST),
    "dynamic_loss": lambda: DynamicLossClassifier(**FAST),
}


@pytest.fixture(scope="module")
def data(small_noisy_tabular):
    return small_noisy_tabular


@pytest.fixture(scope="module", params=sorted(ESTIMATORS))
def fitted(request, data):
    return request.param, ESTIMATORS[request.param]().fit(data.X_train, data.y_train)


def _softmax(logits):
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    return proba / proba.sum(axis=1, keepdims=True)


@pytest.fixture
def score_passes(monkeypatch):
    """The raw logits of every score pass of the fits made while it is in use."""
    passes = []
    update = TrainingEngine._update

    def spy(self, net):
        logits = update(self, net)
        passes.append(logits.double().numpy().copy())
        return logits

    monkeypatch.setattr(TrainingEngine, "_update", spy)
    return passes


def _mean_given_proba(passes, given):
    return np.mean([_softmax(z)[np.arange(len(given)), given] for z in passes], axis=0)


def test_label_quality_is_the_given_labels_mean_probability_over_the_score_passes(
        data, score_passes):
    # each epoch's score pass (and the final one) adds the probability of the given label on
    # the raw logits; label_quality is the mean (Dataset Cartography's confidence)
    clf = UnlockerClassifier(**FAST).fit(data.X_train, data.y_train)
    given = np.searchsorted(clf.classes_, data.y_train)
    assert len(score_passes) == FAST["max_epochs"] - FAST["warmup_epochs"] + 1
    expected = _mean_given_proba(score_passes, given)
    np.testing.assert_allclose(clf.label_quality_, expected, rtol=1e-10)
    np.testing.assert_array_equal(clf.find_label_issues()["label_quality"], clf.label_quality_)
    # the raw logits, not the adjusted ones the selection reads: the last pass is the model
    assert np.any(clf.adjustment_ != 0)
    np.testing.assert_allclose(score_passes[-1], clf.decision_function(data.X_train),
                               rtol=1e-4, atol=1e-5)


def test_a_warm_start_on_the_same_labels_goes_on_with_the_mean(data, score_passes):
    params = dict(FAST, max_epochs=4, warmup_epochs=2)
    given = np.searchsorted(np.unique(data.y_train), data.y_train)
    clf = UnlockerClassifier(**params).fit(data.X_train, data.y_train)
    clf.set_params(warm_start=True, max_epochs=2).fit(data.X_train, data.y_train)
    assert len(score_passes) == 6  # epochs 3, 4 and the end, then 5, 6 and the end
    # the first fit's final pass scored the weights epoch 5's pass scores again: once only
    np.testing.assert_allclose(clf.label_quality_, _mean_given_proba(
        score_passes[:2] + score_passes[3:], given), rtol=1e-10)
    # other labels: the mean of this fit's passes only
    flipped = data.y_train.copy()
    flipped[:5] = flipped[5:10]
    del score_passes[:]
    clf.fit(data.X_train, flipped)
    assert len(score_passes) == 3
    np.testing.assert_allclose(clf.label_quality_, _mean_given_proba(
        score_passes, np.searchsorted(clf.classes_, flipped)), rtol=1e-10)


def test_every_estimator_flags_and_ranks_wrong_labels(fitted, data):
    name, clf = fitted
    table = clf.find_label_issues()
    wrong = data.noise_mask
    if name == "none":  # every label trained on: it flags what the fitted model overrules
        overruled = (table["predicted_label"] != table["given_label"]).to_numpy()
        np.testing.assert_array_equal(table["is_label_issue"].to_numpy(), overruled)
        assert (table["corrected_label"][overruled] == table["predicted_label"][overruled]).all()
        assert overruled.any()
    else:
        assert table["is_label_issue"].sum() >= 0.25 * wrong.sum()
    # most of what it flags is wrong
    assert wrong[table["is_label_issue"].to_numpy()].mean() > 0.5
    # label_quality ranks: far better than chance, and it does not saturate into ties
    assert roc_auc_score(wrong, -table["label_quality"]) > 0.8
    assert table["label_quality"].nunique() > 0.9 * len(table)
    ranked = clf.find_label_issues(return_indices_ranked_by="label_quality")
    np.testing.assert_array_equal(
        np.sort(ranked), np.flatnonzero(table["is_label_issue"]))
    assert np.all(np.diff(table["label_quality"].to_numpy()[ranked]) >= 0)


def test_meta_faces_flag_where_their_model_overrules_a_label(data):
    clf = MetaLabelCorrectionClassifier(**FAST).fit(data.X_train, data.y_train)
    table = clf.find_label_issues()
    overruled = table["predicted_label"] != table["given_label"]
    # every sample the trained model predicts another class for is an issue, corrected to
    # that prediction unless the meta model corrected it
    assert table["is_label_issue"][overruled].all()
    flagged = table["is_label_issue"].to_numpy()
    np.testing.assert_array_equal(table["corrected_label"][~flagged],
                                  table["given_label"][~flagged])
