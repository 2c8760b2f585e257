"""UnlockerClassifier inside scikit-learn's tools: clone, Pipeline, GridSearchCV."""

import numpy as np
import pytest
from conftest import unlocker
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_unlocker.datasets import make_noisy_tabular
from sklearn_unlocker.strategies import SmallLossStrategy

FAST = dict(max_epochs=5, warmup_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_noisy_tabular(n_samples_per_class=80, n_classes=3, n_features=5,
                              n_informative=3, n_test_per_class=20, imbalance_ratio=5,
                              noise_rate=0.2, random_state=0)


def test_routed_parameters_are_parameters():
    clf = unlocker(module__hidden_units=(8,), optimizer__weight_decay=0.1)
    params = clf.get_params()
    assert params["module__hidden_units"] == (8,) and params["optimizer__weight_decay"] == 0.1
    clf.set_params(module__hidden_units=(4,), ema_beta=0.3)
    assert clf.module__hidden_units == (4,) and clf.ema_beta == 0.3
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and copy is not clf
    assert "module__hidden_units=(4,)" in repr(clf)


def test_nested_strategy_parameters_are_tunable():
    clf = unlocker(strategy=SmallLossStrategy())
    assert clf.get_params()["strategy__p_threshold"] == 0.5
    clf.set_params(strategy__p_threshold=0.7)
    assert clf.strategy.p_threshold == 0.7


def test_pipeline_with_a_scaler(data):
    pipe = make_pipeline(StandardScaler(), unlocker(**FAST))
    pipe.fit(data.X_train * 10 + 3, data.y_train)
    assert pipe.predict(data.X_test * 10 + 3).shape == (len(data.X_test),)
    # the estimator saw the scaled data: the same fit on the scaler's output, bit for bit
    scaler = StandardScaler().fit(data.X_train * 10 + 3)
    alone = unlocker(**FAST).fit(scaler.transform(data.X_train * 10 + 3), data.y_train)
    np.testing.assert_array_equal(pipe.predict_proba(data.X_test * 10 + 3),
                                  alone.predict_proba(scaler.transform(data.X_test * 10 + 3)))
    assert pipe.score(data.X_test * 10 + 3, data.y_test) == alone.score(
        scaler.transform(data.X_test * 10 + 3), data.y_test)


def test_grid_search_in_parallel_with_balanced_accuracy(data):
    grid = GridSearchCV(
        unlocker(classes=[0, 1, 2], **FAST),
        {
            "ema_beta": [0.5, 1.0],
            "tau_lr": [0.1, 0.5],
            "strategy": ["small_loss", "none"],
            "module__hidden_units": [(16,), (32, 32)],
        },
        scoring="balanced_accuracy",
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        n_jobs=2,
        error_score="raise",
    )
    grid.fit(data.X_train, data.y_train)
    assert len(grid.cv_results_["params"]) == 16
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.module__hidden_units in [(16,), (32, 32)]
    assert grid.predict(data.X_test).shape == (len(data.X_test),)


def test_a_torchvision_transform_is_an_opaque_parameter():
    # torchvision transforms have a static get_params(...) that sklearn would mistake for an
    # estimator's: get_params(deep=True), set_params and clone must still work
    from torchvision.transforms import v2

    clf = unlocker(augment=v2.RandomAffine(degrees=10), max_epochs=2)
    assert "augment__degrees" not in clf.get_params(deep=True)
    clf.set_params(max_epochs=3)
    copy = clone(clf)
    assert isinstance(copy.augment, v2.RandomAffine) and copy.augment is not clf.augment
    assert copy.max_epochs == 3


def test_a_named_strategy_is_tunable_in_a_grid_search(data):
    clf = unlocker(**FAST)  # strategy="small_loss", a name
    assert clf.get_params()["strategy__p_threshold"] == 0.5
    assert "strategy__lambda_u" in unlocker(strategy="dividemix").get_params()
    grid = GridSearchCV(clf, {"strategy__p_threshold": [0.3, 0.7]}, cv=2,
                        scoring="balanced_accuracy").fit(data.X_train, data.y_train)
    assert grid.best_estimator_.strategy.p_threshold in (0.3, 0.7)
    assert isinstance(grid.best_estimator_.strategy, SmallLossStrategy)
    assert clf.strategy == "small_loss"  # the searched estimator itself is left alone


def test_metadata_routing_survives_clone(data):
    import sklearn
    from sklearn.metrics import balanced_accuracy_score, make_scorer

    with sklearn.config_context(enable_metadata_routing=True):
        clf = unlocker(**FAST).set_fit_request(sample_weight=True)
        assert clone(clf).get_metadata_routing().fit.requests["sample_weight"] is True
        weights = np.ones(len(data.y_train))
        scorer = make_scorer(balanced_accuracy_score).set_score_request(sample_weight=False)
        grid = GridSearchCV(clf, {"ema_beta": [0.5]}, cv=2, scoring=scorer)
        grid.fit(data.X_train, data.y_train, sample_weight=weights)
        assert grid.best_estimator_.get_metadata_routing().fit.requests["sample_weight"]
