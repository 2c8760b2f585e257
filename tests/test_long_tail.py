import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sklearn_unlocker.datasets import long_tailed_counts, make_long_tailed


def test_exponential_counts_match_the_formula_on_a_hand_checked_case():
    # n_i = floor(500 * 100 ** (-i / 4)): 500, 158.1, 50, 15.8, 5
    assert long_tailed_counts(500, 5, 100).tolist() == [500, 158, 50, 15, 5]


def test_step_counts_split_head_and_tail():
    assert long_tailed_counts(90, 5, 10, profile="step").tolist() == [90, 90, 90, 9, 9]


@given(
    n_max=st.integers(1, 5000),
    n_classes=st.integers(2, 50),
    imbalance_ratio=st.floats(1, 200),
    profile=st.sampled_from(["exponential", "step"]),
)
def test_counts_are_non_increasing_from_n_max_to_n_max_over_ir(
    n_max, n_classes, imbalance_ratio, profile
):
    if n_max / imbalance_ratio < 1:
        with pytest.raises(ValueError, match="too large"):
            long_tailed_counts(n_max, n_classes, imbalance_ratio, profile=profile)
        return
    counts = long_tailed_counts(n_max, n_classes, imbalance_ratio, profile=profile)
    assert counts[0] == n_max
    assert counts[-1] == int(np.floor(n_max / imbalance_ratio + 1e-9))
    assert np.all(np.diff(counts) <= 0)


def test_make_long_tailed_keeps_the_profile_in_class_order(rng):
    y = np.repeat(np.array(["a", "b", "c", "d"]), 200)
    X = rng.normal(size=(800, 2, 3))
    X_lt, y_lt, idx = make_long_tailed(
        X, y, imbalance_ratio=8, class_order=["c", "a", "d", "b"], return_indices=True,
        random_state=0,
    )
    expected = dict(zip("cadb", long_tailed_counts(200, 4, 8).tolist(), strict=True))
    labels, counts = np.unique(y_lt, return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist(), strict=True)) == expected
    np.testing.assert_array_equal(X_lt, X[idx])
    np.testing.assert_array_equal(y_lt, y[idx])
    assert np.all(np.diff(idx) > 0)  # original order, no repeats


def test_make_long_tailed_is_deterministic_and_does_not_modify_inputs():
    y = np.repeat([0, 1, 2], [50, 70, 60])
    X = np.arange(180.0)[:, None]
    X_copy, y_copy = X.copy(), y.copy()
    first = make_long_tailed(X, y, imbalance_ratio=5, class_order="random", random_state=3)
    second = make_long_tailed(X, y, imbalance_ratio=5, class_order="random", random_state=3)
    other = make_long_tailed(X, y, imbalance_ratio=5, class_order="random", random_state=4)
    np.testing.assert_array_equal(first[0], second[0])
    assert not np.array_equal(first[0], other[0])
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    assert np.bincount(first[1]).max() == 50  # n_max defaults to the smallest class


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"imbalance_ratio": 0.5}, "imbalance_ratio"),
        ({"imbalance_ratio": 10, "profile": "linear"}, "profile"),
        ({"imbalance_ratio": 10, "class_order": [0, 1]}, "class_order"),
        ({"imbalance_ratio": 10, "n_max": 80}, "fewer than"),
        ({"imbalance_ratio": 100}, "too large"),
    ],
)
def test_make_long_tailed_rejects_bad_arguments(kwargs, message):
    y = np.repeat([0, 1, 2], 50)
    with pytest.raises(ValueError, match=message):
        make_long_tailed(None, y, **kwargs)


def test_a_dataframe_stays_a_dataframe():
    import pandas as pd

    y = np.repeat([0, 1, 2], 50)
    X = pd.DataFrame({"a": np.arange(150.0), "b": -np.arange(150.0)}, index=np.arange(150) * 2)
    X_lt, _, rows = make_long_tailed(X, y, imbalance_ratio=5, random_state=0,
                                     return_indices=True)
    assert isinstance(X_lt, pd.DataFrame) and list(X_lt.columns) == ["a", "b"]
    np.testing.assert_array_equal(X_lt.index, X.index[rows])
    np.testing.assert_array_equal(X_lt["a"], rows)
