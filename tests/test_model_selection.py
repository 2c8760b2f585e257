"""The noise a fit found, and scoring candidates on noisy labels by the clean score."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import load_noisy_digits
from sklearn_unlocker.model_selection import (
    estimate_noise,
    make_noise_aware_scorer,
    noise_from_labels,
)


def test_estimate_noise_is_cleanlabs_estimate_transposed():
    cleanlab_count = pytest.importorskip("cleanlab.count")
    rng = np.random.RandomState(0)
    y = rng.randint(0, 4, size=400)
    proba = rng.dirichlet(np.ones(4), size=400)
    proba[np.arange(400), y] += 1.0  # the given label usually the most probable
    proba /= proba.sum(axis=1, keepdims=True)
    T, prior = estimate_noise(y, proba)
    joint = cleanlab_count.estimate_joint(y, proba)  # [given, true]
    np.testing.assert_allclose(prior, joint.sum(axis=0), atol=1e-12)
    np.testing.assert_allclose(T, (joint / joint.sum(axis=0, keepdims=True)).T, atol=1e-12)


def test_estimate_noise_recovers_a_known_noise_from_true_probabilities():
    rng = np.random.RandomState(0)
    y_true = np.repeat(np.arange(3), 2000)
    T = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.0, 0.3, 0.7]])
    given = np.array([rng.choice(3, p=T[t]) for t in y_true])
    proba = np.full((len(y_true), 3), 0.05)
    proba[np.arange(len(y_true)), y_true] = 0.9  # a model that knows the true class
    T_hat, prior = estimate_noise(given, proba)
    np.testing.assert_allclose(T_hat, T, atol=0.03)
    np.testing.assert_allclose(prior, [1 / 3] * 3, atol=0.01)


def test_noise_from_labels_counts_and_keeps_empty_rows_identity():
    T, prior = noise_from_labels(["a", "b", "b"], ["a", "a", "b"], classes=["a", "b", "c"])
    np.testing.assert_allclose(T, [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(prior, [2 / 3, 1 / 3, 0.0])


@pytest.mark.parametrize("noise", ["sym", "joint"])
def test_the_fitted_noise_matrix_is_near_the_generators(noise):
    data = load_noisy_digits(imbalance_ratio=10, noise=noise, noise_rate=0.4, random_state=0)
    clf = UnlockerClassifier(random_state=0).fit(data.X_train, data.y_train)
    assert clf.noise_matrix_.shape == (10, 10)
    np.testing.assert_allclose(clf.noise_matrix_.sum(axis=1), 1.0)
    assert np.abs(clf.noise_matrix_ - data.transition_matrix).mean() < 0.05
    assert clf.true_prior_.sum() == pytest.approx(1.0)
    # the prior of the corrected labels: its classes in the true order of size
    assert np.argmax(clf.true_prior_) == np.argmax(data.true_counts)


def test_the_scorer_undoes_known_noise():
    rng = np.random.RandomState(0)
    y_true = np.repeat(np.arange(3), [8000, 4000, 2000])  # the inverse is noisy on few samples
    y_pred = np.where(rng.rand(len(y_true)) < 0.8, y_true, rng.randint(0, 3, len(y_true)))
    T = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.25, 0.25, 0.5]])
    y_noisy = np.array([rng.choice(3, p=T[t]) for t in y_true])
    clean = balanced_accuracy_score(y_true, y_pred)
    assert abs(balanced_accuracy_score(y_noisy, y_pred) - clean) > 0.2  # what it corrects
    # the noise these labels drew: the estimate is exact up to the prediction's own draws
    realised = np.array([np.bincount(y_noisy[y_true == i], minlength=3) for i in range(3)])
    realised = realised / realised.sum(axis=1, keepdims=True)
    scorer = make_noise_aware_scorer(realised, method="invert", classes=[0, 1, 2])
    assert abs(scorer.estimate(y_noisy, y_pred) - clean) < 0.005
    accuracy = make_noise_aware_scorer(realised, method="invert", classes=[0, 1, 2],
                                       metric="accuracy")
    assert abs(accuracy.estimate(y_noisy, y_pred) - np.mean(y_pred == y_true)) < 0.005
    # the generator's matrix, off the realised one by sampling, costs a few points
    assert abs(make_noise_aware_scorer(T, method="invert", classes=[0, 1, 2]).estimate(
        y_noisy, y_pred) - clean) < 0.05


def test_the_scorers_in_a_grid_search(small_noisy_tabular):
    data = small_noisy_tabular
    fast = dict(max_epochs=3, warmup_epochs=1, random_state=0)
    reference = UnlockerClassifier(**fast).fit(data.X_train, data.y_train)
    for method in ("agreed", "invert"):
        scorer = make_noise_aware_scorer(reference, method=method)
        search = GridSearchCV(UnlockerClassifier(**fast), {"strategy": ["small_loss", "none"]},
                              scoring=scorer, cv=2).fit(data.X_train, data.y_train)
        assert 0.0 <= search.best_score_ <= 1.0


def test_agreed_scores_on_the_labels_the_reference_believes(small_noisy_tabular):
    data = small_noisy_tabular
    fast = dict(max_epochs=3, warmup_epochs=1, random_state=0)
    reference = UnlockerClassifier(**fast).fit(data.X_train, data.y_train)
    candidate = UnlockerClassifier(strategy="none", **fast).fit(data.X_train, data.y_train)
    believed = reference.predict(data.X_test) == data.y_test
    expected = balanced_accuracy_score(data.y_test[believed],
                                       candidate.predict(data.X_test)[believed])
    scorer = make_noise_aware_scorer(reference, method="agreed")
    assert scorer(candidate, data.X_test, data.y_test) == pytest.approx(expected)
    assert 0 < believed.sum() < len(believed)


@pytest.mark.parametrize("matrix,match", [
    (np.ones((2, 3)) / 3, "square"),
    ([[0.5, 0.4], [0.5, 0.5]], "sum to 1"),
    ([[0.5, 0.5], [0.5, 0.5]], "singular"),
])
def test_a_matrix_that_cannot_be_undone_is_an_error(matrix, match):
    with pytest.raises(ValueError, match=match):
        make_noise_aware_scorer(matrix, method="invert")
    with pytest.raises(ValueError, match="needs a fitted reference estimator"):
        make_noise_aware_scorer(np.eye(2), method="agreed")


def test_classes_in_any_order_and_labels_outside_them():
    T, prior = noise_from_labels(["b", "a", "a"], ["b", "b", "a"], classes=["b", "a"])
    np.testing.assert_allclose(T, [[0.5, 0.5], [0.0, 1.0]])  # rows: "b", then "a"
    np.testing.assert_allclose(prior, [2 / 3, 1 / 3])
    with pytest.raises(ValueError, match=r"given has labels that are not in classes: \['c'\]"):
        noise_from_labels(["c", "a"], ["a", "a"], classes=["b", "a"])
    with pytest.raises(ValueError, match=r"y has labels that are not in classes: \[5\]"):
        estimate_noise([0, 5], np.full((2, 2), 0.5), classes=[0, 1])


def test_every_estimator_has_the_noise_it_found(small_noisy_tabular):
    from sklearn_unlocker import DynamicLossClassifier, MetaLabelCorrectionClassifier

    data = small_noisy_tabular
    for Estimator in (DynamicLossClassifier, MetaLabelCorrectionClassifier):
        clf = Estimator(max_epochs=3, warmup_epochs=1, random_state=0).fit(data.X_train,
                                                                           data.y_train)
        T, prior = noise_from_labels(data.y_train, clf.corrected_labels_, clf.classes_)
        np.testing.assert_array_equal(clf.noise_matrix_, T)
        np.testing.assert_array_equal(clf.true_prior_, prior)
