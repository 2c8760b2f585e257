import numpy as np
import pytest

from sklearn_unlocker.metrics import (
    class_counts,
    head_to_tail_ratio,
    imbalance_ratio,
    prior_kl_divergence,
    scenario,
    selection_precision_recall,
    shot_accuracy,
)


def test_class_counts_with_weights_and_absent_classes():
    assert class_counts([2, 0, 2], classes=[0, 1, 2]).tolist() == [1, 0, 2]
    np.testing.assert_allclose(
        class_counts(["a", "b", "a"], sample_weight=[0.5, 2.0, 1.0]), [1.5, 2.0]
    )
    with pytest.raises(ValueError, match="not in classes"):
        class_counts([0, 3], classes=[0, 1])


def test_imbalance_ratio_and_head_to_tail_ratio():
    assert imbalance_ratio([400, 40, 4]) == 100.0
    assert imbalance_ratio([0.5, 0.25, 0.25]) == 2.0
    assert imbalance_ratio([3, 0]) == float("inf")
    # a reversed tail: the true head is now the smallest observed class
    assert head_to_tail_ratio([10, 30, 40], true_counts=[100, 20, 5]) == 0.25
    assert imbalance_ratio([10, 30, 40]) == 4.0


def test_scenario_thresholds():
    assert scenario(100, 79.9) == "relieve"
    assert scenario(100, 80.0) == "consistent"
    assert scenario(100, 125.0) == "consistent"
    assert scenario(100, 125.1) == "aggravate"
    assert scenario(10, 12, tolerance=1.1) == "aggravate"


def test_shot_accuracy_hand_checked():
    y_true = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    y_pred = np.array([0, 0, 1, 0, 2, 0, 0, 0])
    # class 0: 150 train samples (many), 1: 100 (medium, bound included), 2: 20 (medium),
    # 3: 19 (few). Recalls: 1, .5, .5, 0
    scores = shot_accuracy(y_true, y_pred, [150, 100, 20, 19])
    assert scores == {"many": 1.0, "medium": 0.5, "few": 0.0}
    scores = shot_accuracy(y_true, y_pred, [150, 100, 20, 19], many_threshold=120,
                           few_threshold=50)
    assert scores == {"many": 1.0, "medium": 0.5, "few": 0.25}


def test_shot_accuracy_uses_labels_order_and_reports_empty_groups_as_nan():
    scores = shot_accuracy(["b", "a"], ["b", "b"], [5, 500], labels=["a", "b"])
    assert scores["many"] == 1.0 and scores["few"] == 0.0 and np.isnan(scores["medium"])
    with pytest.raises(ValueError, match="entries"):
        shot_accuracy([0, 1], [0, 1], [10])


def test_selection_precision_recall_hand_checked():
    clean = np.array([1, 1, 1, 0, 0], dtype=bool)
    selected = np.array([1, 1, 0, 1, 0], dtype=bool)
    assert selection_precision_recall(clean, selected) == (2 / 3, 2 / 3)
    precision, recall = selection_precision_recall(clean, np.zeros(5, dtype=bool))
    assert np.isnan(precision) and recall == 0.0
    precision, recall = selection_precision_recall(np.zeros(5, dtype=bool), selected)
    assert precision == 0.0 and np.isnan(recall)


def test_prior_kl_divergence_hand_checked():
    p, q = np.array([0.5, 0.5]), np.array([0.75, 0.25])
    expected = 0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25)
    assert prior_kl_divergence(p, q) == pytest.approx(expected)
    assert prior_kl_divergence([10, 10], [30, 10]) == pytest.approx(expected)  # counts work
    assert prior_kl_divergence(p, p) == 0.0
    assert prior_kl_divergence([1, 1], [1, 0]) == float("inf")
    assert prior_kl_divergence([1, 0], [1, 1]) == pytest.approx(np.log(2))
