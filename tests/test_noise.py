import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import truncnorm

from sklearn_unlocker.datasets import (
    CIFAR10_PAIRS,
    head_tail_split,
    long_tailed_counts,
    make_noisy_labels,
    noise_transition_matrix,
)
from sklearn_unlocker.metrics import imbalance_ratio

MATRIX_KINDS = ["sym", "pair", "joint", "t2h"]


def _tolerance(p, n, z=5.0):
    """z standard errors of a binomial proportion, plus one sample of slack."""
    return z * np.sqrt(max(p * (1 - p), 1e-12) / n) + 1.0 / n


def _long_tailed_labels(n_classes, n_max, ir):
    counts = long_tailed_counts(n_max, n_classes, ir)
    return np.repeat(np.arange(n_classes), counts), counts


counts_strategy = st.lists(st.integers(1, 500), min_size=2, max_size=12)


# --- transition matrices ---------------------------------------------------------------


@given(kind=st.sampled_from(MATRIX_KINDS), rate=st.floats(0, 0.99), counts=counts_strategy,
       seed=st.integers(0, 2**31 - 1))
def test_every_transition_matrix_is_row_stochastic(kind, rate, counts, seed):
    T = noise_transition_matrix(kind, rate, class_counts=counts, random_state=seed)
    assert T.shape == (len(counts), len(counts))
    assert np.all(T >= 0)
    np.testing.assert_allclose(T.sum(axis=1), 1.0, atol=1e-12)


def test_sym_matrix_hand_checked():
    T = noise_transition_matrix("sym", 0.4, n_classes=5)
    np.testing.assert_allclose(np.diag(T), 0.6)
    np.testing.assert_allclose(T[0, 1:], 0.1)


def test_joint_matrix_hand_checked():
    # N = 100; T_01 = 0.2 * 30 / (100 - 60) = 0.15, T_02 = 0.2 * 10 / 40 = 0.05
    T = noise_transition_matrix("joint", 0.2, class_counts=[60, 30, 10])
    np.testing.assert_allclose(T[0], [0.8, 0.15, 0.05])
    np.testing.assert_allclose(T[2], [0.2 * 60 / 90, 0.2 * 30 / 90, 0.8])


def test_t2h_matrix_flips_only_the_tail_and_only_to_the_head():
    counts = np.array([10, 300, 40, 100, 5])  # head: 1, 3, 2; tail: 0, 4
    head, tail = head_tail_split(counts)
    assert head.tolist() == [1, 3, 2] and tail.tolist() == [0, 4]
    T = noise_transition_matrix("t2h", 0.3, class_counts=counts)
    np.testing.assert_array_equal(T[head], np.eye(5)[head])
    np.testing.assert_allclose(T[4, [1, 3, 2]], 0.3 * np.array([300, 100, 40]) / 440)
    assert T[4, 0] == 0 and T[4, 4] == pytest.approx(0.7)


def test_pair_maps():
    T = noise_transition_matrix("pair", 0.3, n_classes=10, class_map="cifar10")
    for source, target in CIFAR10_PAIRS.items():
        assert T[source, target] == pytest.approx(0.3)
    untouched = sorted(set(range(10)) - set(CIFAR10_PAIRS))
    np.testing.assert_array_equal(T[untouched], np.eye(10)[untouched])
    T_next = noise_transition_matrix("pair", 0.3, n_classes=4, class_map="next")
    assert [int(np.argmax(T_next[i] * (1 - np.eye(4)[i]))) for i in range(4)] == [1, 2, 3, 0]


@given(n_classes=st.integers(2, 30), seed=st.integers(0, 2**31 - 1))
def test_random_pair_map_is_a_derangement(n_classes, seed):
    T = noise_transition_matrix("pair", 0.5, n_classes=n_classes, random_state=seed)
    off = T - np.diag(np.diag(T))
    targets = off.argmax(axis=1)
    assert np.all(off.max(axis=1) == 0.5)  # every class flips to another one
    assert sorted(targets.tolist()) == list(range(n_classes))  # a permutation


def test_matrix_kind_validates_its_matrix():
    T = [[0.9, 0.1], [0.2, 0.8]]
    np.testing.assert_allclose(noise_transition_matrix("matrix", transition_matrix=T), T)
    with pytest.raises(ValueError, match="sum to 1"):
        noise_transition_matrix("matrix", transition_matrix=[[0.5, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match="square"):
        noise_transition_matrix("matrix", transition_matrix=[[1.0, 0.0]])
    with pytest.raises(ValueError, match="non-negative"):
        noise_transition_matrix("matrix", transition_matrix=[[1.5, -0.5], [0.0, 1.0]])


# --- sampled labels --------------------------------------------------------------------


@given(kind=st.sampled_from(["sym", "pair", "joint", "t2h", "idn"]), rate=st.floats(0, 0.9),
       n_classes=st.integers(2, 10), seed=st.integers(0, 2**31 - 1))
def test_noisy_labels_stay_in_the_classes_and_are_deterministic(kind, rate, n_classes, seed):
    rng = np.random.RandomState(seed)
    y = rng.choice([f"c{i}" for i in range(n_classes)], size=300)
    X = rng.normal(size=(300, 4))
    classes = np.array([f"c{i}" for i in range(n_classes)])
    first, T = make_noisy_labels(y, kind=kind, rate=rate, X=X, classes=classes, random_state=seed)
    second, T2 = make_noisy_labels(y, kind=kind, rate=rate, X=X, classes=classes, random_state=seed)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(T, T2)
    assert set(first.tolist()) <= set(classes.tolist())
    assert first.dtype == y.dtype
    np.testing.assert_allclose(T.sum(axis=1), 1.0)


@given(rate=st.floats(0, 0.9), n_classes=st.integers(2, 10), seed=st.integers(0, 2**31 - 1))
def test_sym_and_joint_realise_their_rate_overall(rate, n_classes, seed):
    y, _ = _long_tailed_labels(n_classes, 800, 10)
    for kind in ("sym", "joint"):
        y_noisy, _ = make_noisy_labels(y, kind=kind, rate=rate, random_state=seed)
        assert abs(np.mean(y_noisy != y) - rate) <= _tolerance(rate, len(y))


@given(rate=st.floats(0, 0.9), seed=st.integers(0, 2**31 - 1))
def test_pair_realises_its_rate_within_the_mapped_classes(rate, seed):
    y = np.repeat(np.arange(10), 400)
    y_noisy, _ = make_noisy_labels(y, kind="pair", rate=rate, class_map="cifar10",
                                   random_state=seed)
    mapped = np.isin(y, list(CIFAR10_PAIRS))
    assert np.all(y_noisy[~mapped] == y[~mapped])
    assert abs(np.mean(y_noisy[mapped] != y[mapped]) - rate) <= _tolerance(rate, mapped.sum())
    for source, target in CIFAR10_PAIRS.items():
        flipped = (y == source) & (y_noisy != y)
        assert np.all(y_noisy[flipped] == target)


@given(rate=st.floats(0, 0.9), n_classes=st.integers(2, 10), seed=st.integers(0, 2**31 - 1))
def test_t2h_realises_its_rate_within_the_tail_and_keeps_head_labels(rate, n_classes, seed):
    y, counts = _long_tailed_labels(n_classes, 1000, 20)
    y_noisy, _ = make_noisy_labels(y, kind="t2h", rate=rate, random_state=seed)
    head, tail = head_tail_split(counts)
    in_tail = np.isin(y, tail)
    assert np.all(y_noisy[~in_tail] == y[~in_tail])
    assert np.all(np.isin(y_noisy[in_tail & (y_noisy != y)], head))
    assert abs(np.mean(y_noisy[in_tail] != y[in_tail]) - rate) <= _tolerance(rate, in_tail.sum())


@given(rate=st.floats(0.05, 0.9), seed=st.integers(0, 2**31 - 1))
def test_idn_realises_the_mean_of_its_truncated_rate_distribution(rate, seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 5, size=3000)
    X = rng.normal(size=(3000, 6))
    y_noisy, T = make_noisy_labels(y, kind="idn", rate=rate, X=X, random_state=seed)
    expected = truncnorm.mean(-rate / 0.1, (1 - rate) / 0.1, loc=rate, scale=0.1)
    # the rate is a per-sample draw, then a flip: the flip indicator is Bernoulli(E[q])
    assert abs(np.mean(y_noisy != y) - expected) <= _tolerance(expected, len(y))
    # the returned matrix is the empirical one
    for c in range(5):
        members = y == c
        np.testing.assert_allclose(T[c], np.bincount(y_noisy[members], minlength=5) / members.sum())


def test_idn_flip_targets_depend_on_the_instance():
    # class-conditional noise draws the flip target independently of x; idn draws it from
    # softmax(x W_y), so samples in opposite halves of feature space flip differently
    rng = np.random.RandomState(0)
    y = np.zeros(2000, dtype=int)
    X = rng.normal(size=(2000, 3))
    y_noisy, _ = make_noisy_labels(y, kind="idn", rate=0.5, X=X, classes=[0, 1, 2, 3],
                                   random_state=1)
    flipped = y_noisy != 0
    shares = [np.bincount(y_noisy[flipped & half], minlength=4)[1:] / (flipped & half).sum()
              for half in (X[:, 0] > 0, X[:, 0] <= 0)]
    assert np.abs(shares[0] - shares[1]).max() > 0.2


def test_rate_zero_leaves_labels_untouched():
    y = np.repeat(np.arange(4), 50)
    X = np.random.RandomState(0).normal(size=(200, 3))
    for kind in ("sym", "pair", "joint", "t2h", "idn"):
        y_noisy, _ = make_noisy_labels(y, kind=kind, rate=0.0, X=X, random_state=0)
        np.testing.assert_array_equal(y_noisy, y)


def test_matrix_kind_samples_from_the_given_rows():
    y = np.repeat([0, 1], 5000)
    T = np.array([[0.7, 0.3], [0.0, 1.0]])
    y_noisy, T_out = make_noisy_labels(y, kind="matrix", transition_matrix=T, random_state=0)
    np.testing.assert_array_equal(T_out, T)
    assert abs(np.mean(y_noisy[:5000] == 1) - 0.3) <= _tolerance(0.3, 5000)
    assert np.all(y_noisy[5000:] == 1)


def test_inputs_are_not_modified():
    y = np.repeat(np.arange(3), 30)
    X = np.random.RandomState(0).normal(size=(90, 2))
    y_copy, X_copy = y.copy(), X.copy()
    make_noisy_labels(y, kind="idn", rate=0.4, X=X, random_state=0)
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(X, X_copy)


def test_pair_class_map_in_label_values():
    y = np.repeat(np.array(["cat", "dog", "fish"]), 2000)
    y_noisy, T = make_noisy_labels(y, kind="pair", rate=0.25, class_map={"cat": "dog"},
                                   random_state=0)
    assert T[0, 1] == pytest.approx(0.25)
    assert set(y_noisy[y == "cat"].tolist()) == {"cat", "dog"}
    assert np.all(y_noisy[y != "cat"] == y[y != "cat"])


# --- scenarios (appendix A.4) ----------------------------------------------------------


@given(n_classes=st.integers(2, 20), ir=st.floats(1.5, 200), data=st.data())
def test_expected_counts_symmetric_noise_lowers_and_t2h_raises_the_imbalance_ratio(
    n_classes, ir, data
):
    counts = long_tailed_counts(10_000, n_classes, ir).astype(float)
    true_ir = imbalance_ratio(counts)
    # symmetric noise relieves the long tail for any rate below (C - 1) / C; beyond it
    # the diagonal is no longer the largest entry and the order reverses
    rate = data.draw(st.floats(0.01, (n_classes - 1) / n_classes - 0.01))
    T = noise_transition_matrix("sym", rate, n_classes=n_classes)
    assert imbalance_ratio(counts @ T) < true_ir
    T = noise_transition_matrix("t2h", rate, class_counts=counts)
    assert imbalance_ratio(counts @ T) > true_ir


def test_sampled_counts_show_the_scenarios_on_a_large_sample():
    # 10 classes, 2000 down to 40 samples: large enough that sampling noise is far below
    # the effect (the expected observed IR is 7.6 for sym and 83 for t2h, against 50)
    y, _ = _long_tailed_labels(10, 2000, 50)
    y_sym, _ = make_noisy_labels(y, kind="sym", rate=0.4, random_state=0)
    y_t2h, _ = make_noisy_labels(y, kind="t2h", rate=0.4, random_state=0)
    assert imbalance_ratio(np.bincount(y_sym)) < 50 / 1.25
    assert imbalance_ratio(np.bincount(y_t2h)) > 50 * 1.25


# --- bad arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "sym", "rate": 1.0}, "rate"),
        ({"kind": "sym", "rate": -0.1}, "rate"),
        ({"kind": "sym"}, "noise rate"),
        ({"kind": "gaussian", "rate": 0.2}, "kind"),
        ({"kind": "idn", "rate": 0.2}, "needs the features X"),
        ({"kind": "matrix"}, "transition_matrix"),
        ({"kind": "pair", "rate": 0.2, "class_map": {0: 0}}, "itself"),
        ({"kind": "pair", "rate": 0.2, "class_map": "cifar10"}, "10 classes"),
        ({"kind": "pair", "rate": 0.2, "class_map": {0: 7}}, "not in classes"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(kwargs, message):
    y = np.repeat([0, 1, 2], 10)
    with pytest.raises(ValueError, match=message):
        make_noisy_labels(y, **kwargs)


def test_one_class_is_rejected():
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_noisy_labels(np.zeros(10), kind="sym", rate=0.2)
