"""Built-in strategies and the strategy interface."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_unlocker.strategies import (
    BaseStrategy,
    BatchTargets,
    NoSelection,
    SmallLossStrategy,
    Split,
    TrainingContext,
    clean_probability_gmm,
    resolve_strategy,
)
from sklearn_unlocker.strategies._gmm import split_clean_probability


def _noisy_logits(seed, n=300, n_classes=3, noise=0.3):
    """Logits of a model that learned the true classes; labels with injected noise."""
    rng = np.random.RandomState(seed)
    true = rng.randint(0, n_classes, n)
    logits = rng.normal(0, 1, (n, n_classes))
    logits[np.arange(n), true] += 3.0
    flipped = rng.rand(n) < noise
    given = np.where(flipped, (true + rng.randint(1, n_classes, n)) % n_classes, true)
    return torch.as_tensor(logits), given, true, flipped


@pytest.mark.parametrize("per_class", [False, True])
def test_small_loss_marks_injected_noise_as_noisy_far_more_often_than_clean(per_class):
    logits, given, true, flipped = _noisy_logits(0)
    split = SmallLossStrategy(per_class=per_class).split(logits, given, random_state=0)
    noisy_flagged = np.mean(~split.clean_mask[flipped])
    clean_flagged = np.mean(~split.clean_mask[~flipped])
    assert noisy_flagged > 0.8 and clean_flagged < 0.2
    # the corrections of the flagged samples are mostly the true classes
    fixed = ~split.clean_mask & flipped
    assert np.mean(split.corrected_labels[fixed] == true[fixed]) > 0.8
    # clean samples keep their given label at full confidence
    np.testing.assert_array_equal(split.corrected_labels[split.clean_mask],
                                  given[split.clean_mask])
    assert np.all(split.confidence[split.clean_mask] == 1.0)


def test_per_class_split_keeps_a_clean_class_that_a_global_split_drops():
    # class 1 is clean but all its losses are high (a biased model): a global mixture puts
    # it in the noisy mode, one mixture per class cannot
    rng = np.random.RandomState(0)
    head = np.c_[rng.normal(4, 0.3, 200), np.zeros(200)]
    tail = np.c_[rng.normal(1.0, 0.3, 40), np.zeros(40)]
    logits = torch.as_tensor(np.r_[head, tail])
    y = np.r_[np.zeros(200, int), np.ones(40, int)]
    global_split = SmallLossStrategy(per_class=False).split(logits, y, random_state=0)
    per_class = SmallLossStrategy(per_class=True).split(logits, y, random_state=0)
    assert global_split.clean_mask[y == 1].mean() < 0.1
    assert per_class.clean_mask[y == 1].mean() > 0.3


def test_gmm_clean_probability_edge_cases():
    np.testing.assert_array_equal(clean_probability_gmm(np.ones(5)), np.ones(5))
    np.testing.assert_array_equal(clean_probability_gmm(np.array([0.3])), [1.0])
    proba = clean_probability_gmm(np.r_[np.full(30, 0.1), np.full(10, 2.0)])
    assert np.all(proba[:30] > 0.9) and np.all(proba[30:] < 0.1)
    # a group of one sample, or of equal losses, cannot be split: all clean
    proba = clean_probability_gmm(np.r_[0.1, 0.5, 0.5, 0.2, 3.0, 0.1, 2.9],
                                  groups=np.r_[0, 1, 1, 2, 2, 2, 2])
    assert proba[:3].tolist() == [1.0, 1.0, 1.0] and proba[4] < 0.1 < 0.9 < proba[3]


def test_gmm_agrees_with_scikit_learn_and_fits_groups_independently():
    from sklearn.mixture import GaussianMixture

    rng = np.random.RandomState(0)
    disagreement = []
    for _ in range(40):
        n = rng.randint(30, 300)
        noisy = rng.rand(n) < rng.uniform(0.1, 0.5)
        losses = np.where(noisy, rng.gamma(2, 1.0, n) + 2.0, rng.gamma(1, 0.3, n))
        ours = clean_probability_gmm(losses)
        scaled = ((losses - losses.min()) / np.ptp(losses))[:, None]
        gmm = GaussianMixture(2, max_iter=10, reg_covar=5e-4, tol=1e-2, random_state=0)
        theirs = gmm.fit(scaled).predict_proba(scaled)[:, np.argmin(gmm.means_[:, 0])]
        disagreement.append(np.mean((ours > 0.5) != (theirs > 0.5)))
    assert np.median(disagreement) == 0 and np.mean(disagreement) < 0.02
    groups = rng.randint(0, 4, 400)
    losses = rng.gamma(1, 0.5, 400) + 2.0 * (rng.rand(400) < 0.3)
    together = clean_probability_gmm(losses, groups)
    for g in range(4):
        np.testing.assert_allclose(together[groups == g],
                                   clean_probability_gmm(losses[groups == g]), rtol=1e-12)


def test_no_selection_keeps_everything_and_ranks_by_given_label_probability():
    logits = torch.tensor([[3.0, 0.0], [0.0, 0.0], [0.0, 3.0]])
    split = NoSelection().split(logits, np.array([0, 0, 0]))
    assert split.clean_mask.all()
    assert np.all(np.diff(split.clean_proba) < 0)
    np.testing.assert_array_equal(split.corrected_labels, [0, 0, 0])


def test_default_loss_is_the_logit_adjusted_loss_on_clean_samples():
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    alpha = torch.log(torch.tensor([0.8, 0.2]))
    epoch = {"labels": torch.tensor([0, 0]), "corrected_labels": torch.tensor([0, 1]),
             "clean_mask": torch.tensor([True, False]), "confidence": torch.tensor([1.0, 0.5]),
             "sample_weight": torch.tensor([1.0, 2.0]), "target": torch.tensor([0, 1])}
    split = Split(np.ones(2), np.array([True, False]), np.array([0, 1]), np.array([1.0, 0.5]))

    def targets(strategy):
        weight = torch.tensor(strategy.training_weights(split), dtype=torch.float32)
        return BatchTargets(torch.arange(2), {**epoch, "weight": weight * epoch["sample_weight"]},
                            alpha)

    loss = BaseStrategy().loss(logits, targets(BaseStrategy())).detach()
    clean = (-torch.log_softmax(logits[0] + alpha, 0)[0]).detach()
    relabelled = (-torch.log_softmax(logits[1], 0)[1] * 0.5 * 2.0).detach()
    assert float(loss) == pytest.approx(float((clean + relabelled) / 2))
    # small_loss leaves the relabelled sample out unless asked
    small_loss = SmallLossStrategy()
    assert float(small_loss.loss(logits, targets(small_loss)).detach()) == \
        pytest.approx(float(clean / 2))
    pseudo_labelling = SmallLossStrategy(train_noisy=True)
    assert float(pseudo_labelling.loss(logits, targets(pseudo_labelling)).detach()) == \
        pytest.approx(float(loss))
    # no adjustment in the loss: plain weighted cross-entropy
    plain = BatchTargets(torch.arange(2), {**epoch, "weight": torch.tensor([1.0, 1.0])}, None)
    expected = torch.nn.functional.cross_entropy(logits.detach(), torch.tensor([0, 1]))
    assert float(BaseStrategy().loss(logits.detach(), plain)) == pytest.approx(float(expected))
    with pytest.raises(AttributeError, match="no field"):
        _ = plain.lables


def test_resolve_strategy_names_objects_and_errors():
    assert isinstance(resolve_strategy("none"), NoSelection)
    user = SmallLossStrategy(p_threshold=0.7)
    resolved = resolve_strategy(user)
    assert resolved is not user and resolved.get_params() == user.get_params()
    with pytest.raises(ValueError, match="unknown strategy"):
        resolve_strategy("dividemix-typo")
    with pytest.raises(TypeError, match="split"):
        resolve_strategy(object())
    assert clone(user).p_threshold == 0.7


def test_split_is_a_named_tuple_of_arrays():
    split = Split(np.ones(2), np.ones(2, bool), np.zeros(2, int), np.ones(2))
    assert split._fields == ("clean_proba", "clean_mask", "corrected_labels", "confidence")


def _logits_with_losses(losses):
    """Two-class logits whose cross-entropy for label 0 is exactly ``losses``."""
    losses = np.asarray(losses, dtype=np.float64)
    margin = np.log(np.expm1(losses))  # log(1 + e^d) = loss
    return torch.as_tensor(np.c_[np.zeros(len(losses)), margin])


def test_loss_power_fits_the_mixture_to_the_powered_loss():
    logits, given, _, _ = _noisy_logits(1)
    losses = torch.nn.functional.cross_entropy(logits, torch.as_tensor(given),
                                               reduction="none").double().numpy()
    for power in (1.0, 0.5):
        split = SmallLossStrategy(loss_power=power).split(logits, given, random_state=0)
        np.testing.assert_allclose(
            split.clean_proba, split_clean_probability(losses**power, given), atol=1e-9)


def test_loss_power_finds_a_small_clean_mode_that_the_flips_spread_hides():
    # a tail class as the development grid showed it: 5 clean samples with small losses,
    # 22 flips from the head spread over 0.8-2.2 and one at 3.5. On the min-max scaled loss
    # the flips' wide spread takes both components, so the low one keeps flips too (it still
    # does without the 3.5); on the square root the 5 stand apart
    losses = np.r_[0.19, 0.21, 0.28, 0.33, 0.37, np.linspace(0.8, 2.2, 22), 3.5]
    logits, y = _logits_with_losses(losses), np.zeros(len(losses), dtype=int)
    raw = SmallLossStrategy(loss_power=1.0).split(logits, y, random_state=0).clean_mask
    root = SmallLossStrategy(loss_power=0.5).split(logits, y, random_state=0).clean_mask
    assert raw[:5].all() and raw.sum() > 10  # the 5, and flips with them
    np.testing.assert_array_equal(np.flatnonzero(root), np.arange(5))


def _context(direction):
    return TrainingContext(epoch=6, max_epochs=10, warmup_epochs=5, prior=np.ones(3) / 3,
                           augment=None, mixup_alpha=0.0, random_state=np.random.RandomState(0),
                           generator=torch.Generator(), noise_direction=direction)


@pytest.mark.parametrize(("direction", "power"), [(0.4, 0.5), (-0.4, 1.0), (0.0, 1.0)])
def test_auto_loss_power_follows_the_noise_direction_of_the_first_selection(direction, power):
    logits, given, _, _ = _noisy_logits(1)
    strategy = SmallLossStrategy(loss_power="auto")
    strategy.prepare(None, _context(direction))
    split = strategy.split(logits, given, random_state=0, context=_context(direction))
    assert strategy.loss_power_ == power and strategy.noise_direction_ == direction
    same = SmallLossStrategy(loss_power=power).split(logits, given, random_state=0)
    np.testing.assert_array_equal(split.clean_proba, same.clean_proba)
    # later selections keep the choice, whatever the direction then; a new fit chooses again
    strategy.split(logits, given, random_state=0, context=_context(-direction or 1.0))
    assert strategy.loss_power_ == power
    strategy.prepare(None, _context(None))
    assert strategy.loss_power_ is None
    fixed = SmallLossStrategy(loss_power=0.5)
    fixed.prepare(None, _context(None))
    fixed.split(logits, given, random_state=0, context=_context(-1.0))
    assert fixed.loss_power_ == 0.5 and fixed.noise_direction_ is None


def test_auto_loss_power_on_its_own_reads_the_logits_as_balanced():
    true = np.repeat([0, 1, 2], [100, 30, 10])
    given = true.copy()
    given[:20] = 2  # flips from the head fill the tail: the noise hides it
    logits = torch.as_tensor(4.0 * np.eye(3)[true])
    strategy = SmallLossStrategy(loss_power="auto")
    strategy.split(logits, given, random_state=0)
    assert strategy.noise_direction_ > 0 and strategy.loss_power_ == 0.5
    given = true.copy()
    given[100:115] = 0  # tail-to-head flips
    strategy = SmallLossStrategy(loss_power="auto")
    strategy.split(logits, given, random_state=0)
    assert strategy.noise_direction_ < 0 and strategy.loss_power_ == 1.0


@pytest.mark.parametrize("power", [0.0, -0.5, 1.5, "Auto", "sqrt"])
def test_loss_power_outside_its_interval_is_an_error(power):
    logits, given, _, _ = _noisy_logits(0)
    with pytest.raises(InvalidParameterError, match="loss_power"):
        SmallLossStrategy(loss_power=power).split(logits, given)
