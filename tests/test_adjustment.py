"""The math of Unlocker on small hand-checked cases (adjustment.py)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sklearn_unlocker.adjustment import (
    appendix_gradient,
    balanced_clean_subset,
    balanced_weights,
    closed_form_tau,
    ema_update,
    estimate_prior,
    initial_prior,
    limit_prior_change,
    noise_direction,
    outer_gradient,
    outer_objective,
    prior_counts,
    smoothed_prior,
    solve_tau,
)


def _case(seed, n=40, n_classes=4, scale=2.0):
    rng = np.random.RandomState(seed)
    logits = scale * rng.standard_normal((n, n_classes))
    prior = rng.rand(n_classes) + 0.05
    groups = rng.randint(0, n_classes, n)
    return logits, np.log(prior / prior.sum()), groups


def _finite_difference(tau, logits, log_prior, groups, h=1e-6):
    return (outer_objective(tau + h, logits, log_prior, groups)
            - outer_objective(tau - h, logits, log_prior, groups)) / (2 * h)


def _torch_objective(tau, logits, log_prior, groups):
    """J written again from its definition, in torch, for autograd."""
    logits, log_prior = torch.as_tensor(logits), torch.as_tensor(log_prior)
    proba = torch.softmax(logits - tau * log_prior, dim=1)
    if groups is None:
        mean = proba.mean(dim=0)
    else:
        groups = torch.as_tensor(groups)
        present = torch.unique(groups)
        mean = torch.stack([proba[groups == g].mean(dim=0) for g in present]).mean(dim=0)
    return math.log(logits.shape[1]) + (mean * torch.log(mean)).sum()


# --- the objective J(tau) ----------------------------------------------------------------


def test_objective_hand_checked():
    # one sample per class; at tau = 0 the per-class means are softmax([2, 0]) and
    # softmax([0, 2]); their balanced mean is exactly uniform, so J = 0
    z = np.array([[2.0, 0.0], [0.0, 2.0]])
    log_prior = np.log([0.8, 0.2])
    assert outer_objective(0.0, z, log_prior, [0, 1]) == pytest.approx(0.0)
    # at tau = 1 the adjusted logits are z - log pi; compute J = log C - H by hand
    p = np.exp(np.array([[2 - np.log(0.8), -np.log(0.2)], [-np.log(0.8), 2 - np.log(0.2)]]))
    p /= p.sum(axis=1, keepdims=True)
    mean = p.mean(axis=0)
    expected = np.log(2) + np.sum(mean * np.log(mean))
    assert outer_objective(1.0, z, log_prior) == pytest.approx(expected)


def test_objective_takes_the_class_balanced_mean():
    # three head samples predicting class 0, one tail sample predicting class 1: the plain
    # mean is far from uniform, the mean of per-class means is uniform
    z = np.array([[9.0, -9.0]] * 3 + [[-9.0, 9.0]])
    log_prior = np.zeros(2)
    groups = np.array([0, 0, 0, 1])
    assert outer_objective(0.0, z, log_prior, groups) == pytest.approx(0.0, abs=1e-6)
    assert outer_objective(0.0, z, log_prior) > 0.1
    np.testing.assert_allclose(balanced_weights(groups), [1 / 6, 1 / 6, 1 / 6, 1 / 2])


@given(seed=st.integers(0, 10_000), tau=st.floats(-3, 3))
def test_objective_lies_between_zero_and_log_c(seed, tau):
    logits, log_prior, groups = _case(seed)
    J = outer_objective(tau, logits, log_prior, groups)
    assert -1e-12 <= J <= math.log(logits.shape[1]) + 1e-12


# --- its gradient, and the erratum ---------------------------------------------------


@given(seed=st.integers(0, 10_000), tau=st.floats(-2, 3), balanced=st.booleans())
def test_gradient_matches_finite_differences_and_autograd(seed, tau, balanced):
    logits, log_prior, groups = _case(seed)
    groups = groups if balanced else None
    analytic = outer_gradient(tau, logits, log_prior, groups)
    assert analytic == pytest.approx(_finite_difference(tau, logits, log_prior, groups),
                                     rel=1e-5, abs=1e-8)
    t = torch.tensor(tau, dtype=torch.float64, requires_grad=True)
    J = _torch_objective(t, logits, log_prior, groups)
    assert float(J.detach()) == pytest.approx(outer_objective(tau, logits, log_prior, groups),
                                              abs=1e-12)
    J.backward()
    assert analytic == pytest.approx(float(t.grad), rel=1e-9, abs=1e-12)


def test_appendix_eq14_is_not_the_gradient_of_j():
    # Eq. 14 differentiates the mean per-sample negative entropy (Eq. 10), not J; on this
    # case it does not even have the sign of the true derivative
    logits, log_prior, groups = _case(0, n=30)
    tau = -0.5
    true = _finite_difference(tau, logits, log_prior, groups)
    assert outer_gradient(tau, logits, log_prior, groups) == pytest.approx(true, rel=1e-5)
    paper = appendix_gradient(tau, logits, log_prior, groups)
    assert abs(paper - true) > 0.5 * abs(true)
    # ... and it is exactly the derivative of E[sum_c P_c log P_c]
    weights = balanced_weights(groups, 4)

    def mean_negative_entropy(t):
        p = np.exp(logits - t * log_prior)
        p /= p.sum(axis=1, keepdims=True)
        return float(weights @ (p * np.log(p)).sum(axis=1))

    h = 1e-6
    assert paper == pytest.approx(
        (mean_negative_entropy(tau + h) - mean_negative_entropy(tau - h)) / (2 * h), rel=1e-5
    )


def test_appendix_sgd_steps_with_eq14_as_printed():
    # the doctest's case: at tau = 0, Eq. 14 reads -0.227 where dJ/dtau reads -0.261, so one
    # step of rate 0.5 from 0 lands at 0.5 * 0.227, not 0.5 * 0.261
    log_prior = np.log([0.8, 0.2])
    z = np.array([[2.0, 0.0], [1.0, 0.5]])
    paper, true = appendix_gradient(0.0, z, log_prior), outer_gradient(0.0, z, log_prior)
    tau, clipped = solve_tau(0.0, z, log_prior, solver="appendix_sgd", lr=0.5)
    assert tau == pytest.approx(-0.5 * paper, rel=1e-12) and not clipped
    assert solve_tau(0.0, z, log_prior, lr=0.5)[0] == pytest.approx(-0.5 * true, rel=1e-12)
    # mini-batches and balanced weights as "sgd" has them: the same steps, another gradient
    logits, log_prior, groups = _case(1, n=30)
    steps = [solve_tau(0.3, logits, log_prior, groups, solver=solver, batch_size=8, steps=2,
                       random_state=0)[0] for solver in ("sgd", "appendix_sgd")]
    assert steps[0] != pytest.approx(steps[1], abs=1e-6)
    with pytest.raises(ValueError, match="appendix_sgd"):
        solve_tau(0.0, z, log_prior, solver="eq14")


# --- closed-form tau ------------------------------------------------------------------


def test_closed_form_recovers_the_bias_of_a_hand_made_case():
    # logits biased by exactly 0.7 * log pi (plus per-sample offsets common to all classes)
    log_prior = np.log([0.6, 0.3, 0.08, 0.02])
    offsets = np.arange(5.0)[:, None]
    logits = 0.7 * log_prior + offsets
    assert closed_form_tau(logits, log_prior) == pytest.approx(0.7)
    for reference in range(4):
        assert closed_form_tau(logits, log_prior, reference=reference) == pytest.approx(0.7)


def test_centred_closed_form_is_invariant_to_the_reference_class_and_class_order():
    logits, log_prior, groups = _case(3)
    by_reference = [closed_form_tau(logits, log_prior, groups, reference=r) for r in range(4)]
    assert max(by_reference) - min(by_reference) > 0.05  # Eq. 33 depends on the reference
    centred = closed_form_tau(logits, log_prior, groups)
    permutation = np.array([2, 0, 3, 1])
    inverse = np.argsort(permutation)
    permuted = closed_form_tau(logits[:, permutation], log_prior[permutation],
                               inverse[groups])
    assert permuted == pytest.approx(centred, rel=1e-12)


def test_closed_form_is_undefined_for_a_uniform_prior_and_the_solver_keeps_tau():
    logits, _, groups = _case(1)
    uniform = np.log(np.full(4, 0.25))
    assert closed_form_tau(logits, uniform, groups) is None
    assert solve_tau(0.8, logits, uniform, groups, solver="closed_form") == (0.8, False)


# --- the solvers ------------------------------------------------------------------------


def test_exact_solver_finds_the_minimum_of_j():
    logits, log_prior, groups = _case(5)
    tau, clipped = solve_tau(1.0, logits, log_prior, groups, solver="exact", bounds=(-1, 3))
    grid = np.linspace(-1, 3, 4001)
    values = [outer_objective(t, logits, log_prior, groups) for t in grid]
    assert not clipped
    assert outer_objective(tau, logits, log_prior, groups) <= min(values) + 1e-9
    assert tau == pytest.approx(grid[int(np.argmin(values))], abs=2e-3)


def test_sgd_solver_descends_and_converges_to_the_exact_minimum():
    logits, log_prior, groups = _case(5)
    exact, _ = solve_tau(1.0, logits, log_prior, groups, solver="exact")
    one_step, _ = solve_tau(1.0, logits, log_prior, groups, solver="sgd", lr=0.5)
    assert (outer_objective(one_step, logits, log_prior, groups)
            < outer_objective(1.0, logits, log_prior, groups))
    many, _ = solve_tau(1.0, logits, log_prior, groups, solver="sgd", lr=0.5, steps=500)
    assert many == pytest.approx(exact, abs=1e-4)


def test_sgd_solver_takes_one_step_per_mini_batch():
    logits, log_prior, groups = _case(7, n=40)
    tau, _ = solve_tau(1.0, logits, log_prior, groups, solver="sgd", lr=0.3, batch_size=10,
                       random_state=0)
    # replay by hand: four mini-batches of a permutation drawn from the same seed
    order = np.random.RandomState(0).permutation(40)
    expected = 1.0
    for start in range(0, 40, 10):
        rows = order[start:start + 10]
        expected -= 0.3 * outer_gradient(expected, logits[rows], log_prior, groups[rows])
    assert tau == pytest.approx(expected, rel=1e-12)


def test_solvers_keep_tau_within_bounds_and_say_so():
    # a model that already over-favours the tail wants a negative tau
    log_prior = np.log([0.9, 0.1])
    logits = np.tile(-1.0 * log_prior, (6, 1))  # uniform at tau = -1
    assert solve_tau(0.5, logits, log_prior, solver="exact", bounds=(-2.0, 2.0))[0] == \
        pytest.approx(-1.0, abs=1e-4)
    for solver in ("sgd", "exact", "closed_form"):
        tau, clipped = solve_tau(0.5, logits, log_prior, solver=solver, lr=1.0, steps=100,
                                 bounds=(0.0, 2.0))
        assert tau == 0.0 and clipped, solver


# --- EMA and the prior ---------------------------------------------------------------------


def test_ema_weights_the_new_value_by_beta():
    previous, target = np.array([0.0, -2.0]), np.array([-1.0, -1.0])
    np.testing.assert_allclose(ema_update(previous, target, 0.25), [-0.25, -1.75])
    np.testing.assert_allclose(ema_update(previous, target, 1.0), target)  # beta=1: no EMA
    alpha = np.zeros(2)
    for _ in range(200):
        alpha = ema_update(alpha, target, 0.1)
    np.testing.assert_allclose(alpha, target, atol=1e-8)


def test_prior_counts_per_mode_hand_checked():
    y = np.array([0, 0, 0, 1, 1, 2])
    clean = np.array([True, True, False, True, False, False])
    corrected = np.array([0, 0, 1, 1, 0, 0])
    proba = np.array([[1, 0, 0], [1, 0, 0], [0.2, 0.8, 0], [0, 1, 0], [0.5, 0.5, 0],
                      [0.9, 0, 0.1]])
    kwargs = dict(clean_mask=clean, corrected_labels=corrected, corrected_proba=proba)
    assert prior_counts("observed", y, 3).tolist() == [3, 2, 1]
    assert prior_counts("clean", y, 3, **kwargs).tolist() == [2, 1, 0]
    assert prior_counts("corrected", y, 3, **kwargs).tolist() == [4, 2, 0]
    np.testing.assert_allclose(prior_counts("ir_aware", y, 3, **kwargs), [3.6, 2.3, 0.1])
    weights = np.array([1, 1, 1, 2, 1, 1.0])
    assert prior_counts("clean", y, 3, sample_weight=weights, **kwargs).tolist() == [2, 2, 0]


def test_a_class_with_no_clean_sample_keeps_a_finite_log_prior():
    counts = prior_counts("clean", np.array([0, 0, 1]), 3,
                          clean_mask=np.array([True, True, False]))
    assert counts.tolist() == [2, 0, 0]
    for pseudo in (0.0, 1.0):
        prior, empty = smoothed_prior(counts, pseudo)
        assert np.all(np.isfinite(np.log(prior))) and prior.sum() == pytest.approx(1)
        assert empty.tolist() == [False, True, True]
    np.testing.assert_allclose(smoothed_prior(counts, 0.0)[0], [2 / 3, 1 / 6, 1 / 6])
    np.testing.assert_allclose(smoothed_prior(counts, 1.0)[0], [3 / 5, 1 / 5, 1 / 5])


def test_limit_prior_change_bounds_every_class_and_the_imbalance_ratio():
    previous = np.array([0.5, 0.3, 0.2])
    new = np.array([0.001, 0.009, 0.99])  # the head swinging to the tail in one step
    limited, flag = limit_prior_change(new, previous, 1.5)
    assert flag
    ratio = limited / previous
    assert ratio.max() / ratio.min() <= 1.5**2 + 1e-9
    old_ir, new_ir = previous.max() / previous.min(), limited.max() / limited.min()
    assert new_ir / old_ir <= 1.5**2 + 1e-9
    _, flag = limit_prior_change(previous * [1.1, 1, 1] / 1.05, previous, 1.5)
    assert not flag


# --- D_bc ---------------------------------------------------------------------------------


def test_balanced_clean_subset_takes_the_top_share_of_each_class():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [100, 20, 4])
    w = rng.rand(124)
    clean = w > 0.3
    chosen = balanced_clean_subset(w, clean, y, 4, fraction=0.1, min_per_class=3)
    for c, expected in [(0, 10), (1, 3)]:
        members = np.flatnonzero(y == c)
        picked = np.intersect1d(chosen, members)
        assert len(picked) == expected
        clean_members = members[clean[members]]
        top = clean_members[np.argsort(-w[clean_members])][:expected]
        assert set(picked) == set(top)  # the most probably clean, among the clean
    # the 4-sample class has fewer clean samples than the minimum: filled up with its most
    # probably clean others, so it is still represented
    tail = np.flatnonzero(y == 2)
    assert len(np.intersect1d(chosen, tail)) == 3
    assert np.all(np.diff(chosen) > 0)


def test_balanced_clean_subset_with_a_class_left_without_clean_samples():
    y = np.array([0, 0, 0, 0, 1, 1])
    w = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    clean = np.array([True, True, True, True, False, False])
    assert balanced_clean_subset(w, clean, y, 2, fraction=0.5, min_per_class=1).tolist() == \
        [0, 1, 4]


def test_ir_aware_prior_recipe_hand_checked():
    # two clean samples of class 0, one of class 1; the noisy one counted by its posterior
    y = np.array([0, 0, 1, 1])
    clean = np.array([True, True, True, False])
    logits = np.log(np.array([[1, 1], [1, 1], [1, 1], [0.25, 0.75]]))
    prior, empty = estimate_prior("ir_aware", y, 2, clean_mask=clean, selection_logits=logits)
    # counts 2 + 0.25 and 1 + 0.75, plus one pseudo-sample each
    np.testing.assert_allclose(prior, [3.25 / 6, 2.75 / 6])
    assert not empty.any()
    # a torch tensor gives the same (through the fast row softmax)
    same, _ = estimate_prior("ir_aware", y, 2, clean_mask=clean,
                             selection_logits=torch.as_tensor(logits, dtype=torch.float32))
    np.testing.assert_allclose(same, prior, rtol=1e-6)
    # from a previous prior of (0.9, 0.1) each class may move at most 2-fold: class 1 to 0.2
    limited, _ = estimate_prior("ir_aware", y, 2, clean_mask=clean, selection_logits=logits,
                                previous=np.array([0.9, 0.1]), max_change=2.0)
    np.testing.assert_allclose(limited[1] / limited[0], 0.2 / (3.25 / 6))
    # hard counts floor an empty class at half a sample
    hard, empty = estimate_prior("clean", y, 3, clean_mask=clean)
    np.testing.assert_allclose(hard, np.array([2, 1, 0.5]) / 3.5)
    assert empty.tolist() == [False, False, True]


def test_initial_prior():
    y = np.array([0, 0, 0, 1])
    np.testing.assert_allclose(initial_prior("ir_aware", y, 2), [4 / 6, 2 / 6])
    np.testing.assert_allclose(initial_prior("corrected", y, 2), [0.75, 0.25])
    np.testing.assert_allclose(initial_prior([0.5, 0.5], y, 2), [0.5, 0.5])
    np.testing.assert_allclose(initial_prior("observed", y, 2, sample_weight=[1, 1, 1, 3]),
                               [0.5, 0.5])


def _predicted_as(pred):
    return np.eye(int(max(pred)) + 1)[pred]


def test_noise_direction_is_the_mean_log_size_step_of_the_disagreements():
    y = np.array([0] * 8 + [1] * 4 + [2] * 2)
    pred = y.copy()
    assert noise_direction(_predicted_as(pred), y, 3) == 0.0  # nothing disagrees
    pred[[12, 13]] = 0  # two tail labels the model sends to the head: log(8/2) each
    assert noise_direction(_predicted_as(pred), y, 3) == pytest.approx(math.log(4))
    pred[[0, 1]] = 2  # two head labels it sends to the tail: log(2/8) each
    assert noise_direction(_predicted_as(pred), y, 3) == pytest.approx(0.0)
    pred[2] = 1  # and one more from the head to the middle: log(4/8)
    assert noise_direction(_predicted_as(pred), y, 3) == pytest.approx(math.log(0.5) / 5)
    assert noise_direction(torch.as_tensor(_predicted_as(pred)), y, 3) == pytest.approx(
        math.log(0.5) / 5)  # a tensor, as the engine passes it


def test_noise_direction_weights_counts_and_mean_and_sizes_an_empty_class_as_the_smallest():
    y = np.array([0, 0, 0, 0, 1, 1])
    pred = np.array([0, 0, 0, 1, 1, 0])
    # class sizes 4 and 2; one step down (log 1/2), one up (log 2)
    assert noise_direction(_predicted_as(pred), y, 2) == pytest.approx(0.0)
    weight = np.array([1, 1, 1, 3, 1, 1.0])  # the step down counts three times, sizes 6 and 2
    assert noise_direction(_predicted_as(pred), y, 2, sample_weight=weight) == pytest.approx(
        (3 * math.log(2 / 6) + math.log(6 / 2)) / 4)
    # a predicted class with no given label is as small as the smallest present one
    logits = np.eye(3)[[0, 0, 0, 2, 1, 1]]
    assert noise_direction(logits, y, 3) == pytest.approx(math.log(2 / 4))


def test_noise_direction_tells_noise_that_hides_the_tail_from_noise_that_deepens_it():
    # true classes 100 / 30 / 10; the model predicts the true class of every sample
    rng = np.random.RandomState(0)
    true = np.repeat([0, 1, 2], [100, 30, 10])
    sym = np.where(rng.rand(140) < 0.4, rng.randint(0, 3, 140), true)  # uniform flips
    t2h = np.where((true > 0) & (rng.rand(140) < 0.4), 0, true)  # the tail flipped to the head
    logits = np.eye(3)[true]
    assert noise_direction(logits, sym, 3) > 0.3
    assert noise_direction(logits, t2h, 3) < -0.3
