"""The label-issue table: what label_quality is, that it ranks, and that every estimator flags."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)

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


def test_label_quality_is_the_given_labels_probability_on_the_selection_logits(fitted, data):
    name, clf = fitted
    table = clf.find_label_issues()
    given = np.searchsorted(clf.classes_, data.y_train)
    if name == "dividemix_la":  # "loss": selection on z - alpha, prediction on raw z
        logits = clf.decision_function(data.X_train) - clf.adjustment_
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
    else:  # the other rows select on the logits they predict with
        proba = clf.predict_proba(data.X_train)
    np.testing.assert_allclose(table["label_quality"], proba[np.arange(len(given)), given],
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(table["clean_proba"], clf.clean_proba_)


def test_every_estimator_flags_and_ranks_wrong_labels(fitted, data):
    name, clf = fitted
    table = clf.find_label_issues()
    wrong = data.noise_mask
    if name == "none":  # every given label is trusted: nothing to flag
        assert not table["is_label_issue"].any()
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
