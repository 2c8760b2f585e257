"""The estimator's save_params/load_params keep what prediction reads beside the networks."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_unlocker import DynamicLossClassifier, UnlockerClassifier

FAST = dict(max_epochs=6, warmup_epochs=2, batch_size=64, device="cpu")
#: a one-epoch fit: it builds the networks that saved parameters go into
ONE = {**FAST, "max_epochs": 1, "warmup_epochs": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    counts = [90, 30, 10]
    y = np.repeat(np.arange(3), counts)
    X = (rng.normal(size=(len(y), 4)) + y[:, None]).astype(np.float32)
    flip = rng.rand(len(y)) < 0.2
    return X, np.where(flip, rng.randint(3, size=len(y)), y)


@pytest.mark.parametrize("params", [
    dict(strategy="small_loss", logit_adjustment="unlocker"),  # learned tau, re-estimated prior
    dict(strategy="dividemix", logit_adjustment="posthoc", tau=1.5),  # two networks
], ids=["unlocker", "dividemix-posthoc"])
def test_round_trip_gives_the_same_predict_proba(data, params, tmp_path):
    X, y = data
    fitted = UnlockerClassifier(**params, **FAST, random_state=0).fit(X, y)
    assert np.ptp(fitted.adjustment_) > 0  # a learned or fixed adjustment to restore
    if params["logit_adjustment"] == "posthoc":
        assert np.ptp(fitted._prediction_adjustment()) > 0  # and it shapes predictions
    fitted.save_params(f_params=tmp_path / "params.pt", f_history=tmp_path / "history.json")
    fresh = UnlockerClassifier(**params, **ONE, random_state=1).fit(X, y)
    assert not np.allclose(fresh.predict_proba(X), fitted.predict_proba(X))
    fresh.load_params(f_params=tmp_path / "params.pt", f_history=tmp_path / "history.json")
    np.testing.assert_array_equal(fresh.predict_proba(X), fitted.predict_proba(X))
    assert fresh.tau_ == fitted.tau_
    np.testing.assert_array_equal(fresh.prior_, fitted.prior_)
    np.testing.assert_array_equal(fresh.adjustment_, fitted.adjustment_)
    assert len(fresh.history_) == len(fitted.history_) == FAST["max_epochs"]


def test_the_skorch_net_alone_would_lose_the_adjustment(data, tmp_path):
    """Why the estimator's own methods exist: net_'s save_params holds no tau or prior."""
    X, y = data
    params = dict(strategy="small_loss", logit_adjustment="posthoc", **FAST)
    fitted = UnlockerClassifier(**params, tau=1.5, random_state=0).fit(X, y)
    fitted.net_.save_params(f_params=tmp_path / "net.pt")
    fresh = UnlockerClassifier(**params, tau=0.5, random_state=1).fit(X, y)
    fresh.net_.load_params(f_params=tmp_path / "net.pt")
    assert not np.array_equal(fresh._prediction_adjustment(), fitted._prediction_adjustment())
    assert not np.allclose(fresh.predict_proba(X), fitted.predict_proba(X))


def test_meta_faces_round_trip(data, tmp_path):
    X, y = data
    params = dict(max_epochs=3, warmup_epochs=1, batch_size=64, device="cpu")
    fitted = DynamicLossClassifier(**params, random_state=0).fit(X, y)
    fitted.save_params(f_params=tmp_path / "params.pt")
    fresh = DynamicLossClassifier(**{**params, "max_epochs": 1, "warmup_epochs": 0},
                                  random_state=1).fit(X, y)
    fresh.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(fresh.predict_proba(X), fitted.predict_proba(X))


def test_unfitted_and_mismatched_estimators_are_errors(data, tmp_path):
    X, y = data
    with pytest.raises(NotFittedError, match="save_params works on a fitted estimator"):
        UnlockerClassifier().save_params(f_params=tmp_path / "p.pt")
    with pytest.raises(NotFittedError, match="fit it first"):
        UnlockerClassifier().load_params(f_params=tmp_path / "p.pt")
    one_network = UnlockerClassifier(strategy="small_loss", **FAST, random_state=0).fit(X, y)
    one_network.save_params(f_params=tmp_path / "p.pt")
    two_networks = UnlockerClassifier(strategy="dividemix", **ONE, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"hold the networks \['module'\]"):
        two_networks.load_params(f_params=tmp_path / "p.pt")
    named = np.asarray(["a", "b", "c"])[y]
    other_classes = UnlockerClassifier(strategy="small_loss", **ONE, random_state=0).fit(X, named)
    with pytest.raises(ValueError, match="classes_ are"):
        other_classes.load_params(f_params=tmp_path / "p.pt")
