"""DivideMix: its formulas on hand-checked numbers, co-divide, and the strategy in a fit."""

import pickle

import numpy as np
import pytest
import torch

import sklearn_unlocker.strategies._dividemix as dividemix_module
from sklearn_unlocker import UnlockerClassifier, UnlockerWarning
from sklearn_unlocker.augment import GaussianNoise, RandomShift
from sklearn_unlocker.modules import ConvNet
from sklearn_unlocker.strategies import BatchTargets, DivideMixStrategy, TrainingContext
from sklearn_unlocker.strategies._dividemix import (
    co_guess,
    co_refine,
    linear_rampup,
    mixmatch,
    prior_penalty,
    sharpen,
)

FAST = dict(max_epochs=6, warmup_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def data(small_noisy_tabular):
    return small_noisy_tabular


@pytest.fixture(scope="module")
def fitted(data):
    return UnlockerClassifier(strategy="dividemix", logit_adjustment="unlocker", **FAST).fit(
        data.X_train, data.y_train)


# --- formulas -----------------------------------------------------------------------------


def test_sharpen_hand_checked():
    # [0.6, 0.3, 0.1] ** 2 = [0.36, 0.09, 0.01] / 0.46
    out = sharpen(torch.tensor([[0.6, 0.3, 0.1]], dtype=torch.float64), 0.5)
    np.testing.assert_allclose(out[0].numpy(), [0.36 / 0.46, 0.09 / 0.46, 0.01 / 0.46])
    same = torch.tensor([[0.2, 0.8]], dtype=torch.float64)
    np.testing.assert_allclose(sharpen(same, 1.0).numpy(), same.numpy())


def test_co_refinement_hand_checked():
    # w = 0.8: 0.8 * [1, 0] + 0.2 * [0.5, 0.5] = [0.9, 0.1]; sharpened (T = 0.5): [81, 1] / 82
    y = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    p = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    out = co_refine(y, torch.tensor([0.8], dtype=torch.float64), p, 0.5)
    np.testing.assert_allclose(out[0].numpy(), [81 / 82, 1 / 82])
    # w = 0: the label is ignored, only the prediction (sharpened) remains
    p = torch.tensor([[0.25, 0.75]], dtype=torch.float64)
    out = co_refine(y, torch.tensor([0.0], dtype=torch.float64), p, 0.5)
    np.testing.assert_allclose(out[0].numpy(), [0.1, 0.9])


def test_co_guessing_averages_then_sharpens():
    p = [torch.tensor([[0.5, 0.5]]), torch.tensor([[0.7, 0.3]]), torch.tensor([[0.9, 0.1]]),
         torch.tensor([[0.7, 0.3]])]  # mean [0.7, 0.3]; sharpened [0.49, 0.09] / 0.58
    np.testing.assert_allclose(co_guess(p, 0.5)[0].numpy(), [0.49 / 0.58, 0.09 / 0.58],
                               rtol=1e-6)


def test_lambda_u_ramp_hand_checked():
    assert [linear_rampup(e, 10, 16) for e in (1, 10, 14, 18, 26, 60)] == \
        [0.0, 0.0, 0.25, 0.5, 1.0, 1.0]
    assert linear_rampup(3, 10, 0) == 1.0


def test_mixmatch_interpolation_hand_checked():
    x = torch.tensor([[0.0], [10.0], [20.0]])
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    mixed_x, mixed_t = mixmatch(x, t, 0.75, torch.tensor([1, 2, 0]))
    np.testing.assert_allclose(mixed_x[:, 0].numpy(), [2.5, 12.5, 15.0])
    np.testing.assert_allclose(mixed_t.numpy(), [[0.75, 0.25], [0.125, 0.875], [0.625, 0.375]])


def test_prior_penalty_is_the_kl_to_the_prior():
    logits = torch.log(torch.tensor([[0.7, 0.3], [0.3, 0.7]]))  # mean prediction [0.5, 0.5]
    assert float(prior_penalty(logits, torch.tensor([0.5, 0.5]))) == pytest.approx(0.0, abs=1e-6)
    expected = 0.8 * np.log(0.8 / 0.5) + 0.2 * np.log(0.2 / 0.5)
    assert float(prior_penalty(logits, torch.tensor([0.8, 0.2]))) == pytest.approx(expected)


# --- the strategy -------------------------------------------------------------------------


def test_each_network_trains_on_the_split_of_the_other(data, monkeypatch):
    batches, drawn, refined = [], [], []
    train_step, draw = DivideMixStrategy.train_step, DivideMixStrategy._draw_unlabelled
    co_refine_ = dividemix_module.co_refine

    def spy_step(self, net, X, targets, context):
        if not context.in_warmup:
            batches.append((targets.indices.clone(), targets.network_clean_proba.clone()))
        return train_step(self, net, X, targets, context)

    def spy_draw(self, k, count, context, device):
        drawn.append((k, count, self.unlabelled_pools_[k].copy()))
        return draw(self, k, count, context, device)

    def spy_refine(onehot, clean_proba, proba, temperature):
        refined.append(clean_proba.clone())
        return co_refine_(onehot, clean_proba, proba, temperature)

    monkeypatch.setattr(DivideMixStrategy, "train_step", spy_step)
    monkeypatch.setattr(DivideMixStrategy, "_draw_unlabelled", spy_draw)
    monkeypatch.setattr(dividemix_module, "co_refine", spy_refine)
    clf = UnlockerClassifier(strategy=DivideMixStrategy(batching="original"), max_epochs=5,
                             warmup_epochs=3, batch_size=1000, random_state=0)
    clf.fit(data.X_train, data.y_train)
    assert len(batches) == 2 and len(drawn) == len(refined) == 4  # one batch per epoch
    for step, (indices, per_network) in enumerate(batches):
        assert not torch.equal(per_network[:, 0], per_network[:, 1])  # they disagree somewhere
        for k in (0, 1):
            other = per_network[:, 1 - k]  # the OTHER network's clean probability
            network, count, pool = drawn[2 * step + k]
            assert network == k and count == int((other > 0.5).sum())
            # the unlabelled branch is drawn from the other network's whole unlabelled set
            np.testing.assert_array_equal(pool, np.sort(indices[other <= 0.5].numpy()))
            torch.testing.assert_close(refined[2 * step + k], other[other > 0.5])


def test_split_columns_come_from_the_matching_network():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 400)
    good = np.full((400, 3), -3.0)
    good[np.arange(400), y] = 3.0
    contradicted = [rng.rand(400) < 0.3, rng.rand(400) < 0.3]  # each network's own 30%
    logits = []
    for wrong in contradicted:
        z = good.copy()
        z[wrong] = np.roll(good[wrong], 1, axis=1)
        logits.append(z + 0.1 * rng.standard_normal(z.shape))
    split = DivideMixStrategy(per_class=False).split(torch.as_tensor(np.stack(logits)), y)
    for k, wrong in enumerate(contradicted):
        column = split.network_clean_proba[:, k]
        assert np.mean(column[wrong] < 0.5) > 0.95
        only_other = contradicted[1 - k] & ~wrong
        assert np.mean(column[only_other] > 0.5) > 0.95
    np.testing.assert_allclose(split.clean_proba, split.network_clean_proba.mean(axis=1))


def test_second_network_is_reinitialised_and_predictions_average_both(fitted, data):
    first, second = fitted.net_.networks()
    assert type(first) is type(second) and first is not second
    assert not torch.equal(first.layers[1].weight, second.layers[1].weight)
    X = torch.as_tensor(data.X_test)
    mean = (fitted.net_.logits(X, first) + fitted.net_.logits(X, second)).double().numpy() / 2
    # the "unlocker" row predicts with the raw mean (alpha was in the loss)
    np.testing.assert_allclose(fitted.decision_function(data.X_test), mean, rtol=1e-5, atol=1e-5)
    assert isinstance(fitted.strategy_, DivideMixStrategy)


def test_both_networks_are_optimised_and_pickled(fitted, data):
    optimised = {id(p) for group in fitted.net_.optimizer_.param_groups for p in group["params"]}
    for module in fitted.net_.networks():
        assert all(id(p) in optimised for p in module.parameters())
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(data.X_test),
                                  fitted.predict_proba(data.X_test))


@pytest.mark.parametrize("row", ["unlocker", "loss", "posthoc", "none"])
@pytest.mark.parametrize("penalty", ["estimated", "uniform", "off"])
def test_dividemix_fits_with_every_row_and_penalty(data, row, penalty, monkeypatch):
    targets, penalty_of = [], dividemix_module.prior_penalty

    def spy(logits, prior):
        targets.append(prior.detach().cpu().numpy().copy())
        return penalty_of(logits, prior)

    monkeypatch.setattr(dividemix_module, "prior_penalty", spy)
    clf = UnlockerClassifier(strategy=DivideMixStrategy(prior_penalty=penalty),
                             logit_adjustment=row, **FAST)
    clf.fit(data.X_train, data.y_train)
    # the row: prediction subtracts alpha only in the post-hoc row (raw z after an adjusted loss)
    assert np.any(clf._prediction_adjustment() != 0) == (row == "posthoc")
    # the penalty: none, the uniform prior, or the row's prior of that epoch
    assert (len(targets) == 0) == (penalty == "off")
    priors = np.full((1, 4), 0.25) if penalty == "uniform" else clf.prior_history_
    assert all(np.abs(priors - target).max(axis=1).min() < 1e-6 for target in targets)


def test_dividemix_is_reproducible(data):
    first = UnlockerClassifier(strategy="dividemix", **FAST).fit(data.X_train, data.y_train)
    second = UnlockerClassifier(strategy="dividemix", **FAST).fit(data.X_train, data.y_train)
    np.testing.assert_array_equal(first.predict_proba(data.X_test),
                                  second.predict_proba(data.X_test))


def test_shared_batching_cuts_both_branches_from_the_batch(data, monkeypatch):
    def no_draw(*args):
        raise AssertionError("shared batching drew unlabelled samples")

    monkeypatch.setattr(DivideMixStrategy, "_draw_unlabelled", no_draw)
    clf = UnlockerClassifier(strategy="dividemix", **FAST)  # shared is the default
    clf.fit(data.X_train, data.y_train)
    assert np.all(np.isfinite(clf.predict_proba(data.X_test)))
    with pytest.raises(ValueError, match="batching"):
        UnlockerClassifier(strategy=DivideMixStrategy(batching="mixed"), **FAST).fit(
            data.X_train, data.y_train)


class _Constant(torch.nn.Module):
    """A network whose logits are the same row for every input (plus a trainable zero)."""

    def __init__(self, row):
        super().__init__()
        self.row = torch.tensor(row)
        self.zero = torch.nn.Parameter(torch.zeros(()))

    def forward(self, X):
        return self.row.expand(len(X), -1) + self.zero


class _Net:
    def __init__(self, *modules):
        self.modules = list(modules)

    def networks(self):
        return self.modules


@pytest.mark.parametrize("pseudo_labels", ["adjusted", "raw"])
def test_pseudo_labels_use_the_adjusted_logits(monkeypatch, pseudo_labels):
    # logits [0, 0] and alpha = log([0.8, 0.2]): z - alpha = [-log 0.8, -log 0.2], softmax
    # [0.2, 0.8] (the tail's side); raw z gives [0.5, 0.5]
    refined, guessed = [], []
    monkeypatch.setattr(dividemix_module, "co_refine",
                        lambda onehot, w, proba, t: refined.append(proba) or proba)
    monkeypatch.setattr(dividemix_module, "co_guess",
                        lambda probas, t: guessed.append(probas) or probas[0])
    net = _Net(_Constant([0.0, 0.0]), _Constant([0.0, 0.0]))
    epoch = {"labels": torch.tensor([0, 0, 0, 0]),
             "network_clean_proba": torch.tensor([[0.9, 0.9], [0.9, 0.9], [0.1, 0.1],
                                                  [0.1, 0.1]])}
    alpha = torch.log(torch.tensor([0.8, 0.2]))
    targets = BatchTargets(torch.arange(4), epoch, adjustment=alpha)
    context = TrainingContext(
        epoch=5, max_epochs=10, warmup_epochs=2, prior=np.array([0.8, 0.2]), augment=None,
        mixup_alpha=0.0, random_state=np.random.RandomState(0),
        generator=torch.Generator().manual_seed(0))
    DivideMixStrategy(pseudo_labels=pseudo_labels).train_step(net, torch.zeros(4, 3), targets,
                                                             context)
    expected = [0.2, 0.8] if pseudo_labels == "adjusted" else [0.5, 0.5]
    assert len(refined) == len(guessed) == 2  # one per network
    for proba in [*refined, *(p for probas in guessed for p in probas)]:
        np.testing.assert_allclose(proba.numpy(), np.tile(expected, (len(proba), 1)),
                                   rtol=1e-6)
    # without an adjustment in the row, both read the raw logits
    refined.clear()
    targets = BatchTargets(torch.arange(4), epoch, adjustment=None)
    DivideMixStrategy().train_step(net, torch.zeros(4, 3), targets, context)
    np.testing.assert_allclose(refined[0].numpy(), [[0.5, 0.5]] * 2, rtol=1e-6)


def test_two_views_are_never_identical(data, monkeypatch):
    # augment=None: DivideMix gets the default views (noise on tabular rows) and says so
    clf = UnlockerClassifier(strategy="dividemix", **FAST).fit(data.X_train, data.y_train)
    assert repr(clf.augment_) == "GaussianNoise(std=0.1)"
    given = UnlockerClassifier(strategy="dividemix", augment=GaussianNoise(0.2),
                               **FAST).fit(data.X_train, data.y_train)
    assert repr(given.augment_) == "GaussianNoise(std=0.2)"  # a given augment is kept
    one_view = UnlockerClassifier(strategy="small_loss", **FAST)
    assert one_view.fit(data.X_train, data.y_train).augment_ is None

    images = np.random.RandomState(0).rand(40, 1, 6, 6).astype(np.float32)
    labels = np.arange(40) % 2
    clf = UnlockerClassifier(strategy="dividemix", module=ConvNet,
                             max_epochs=3, warmup_epochs=1, random_state=0).fit(images, labels)
    assert isinstance(clf.augment_, RandomShift)
    with pytest.raises(ValueError, match="no default view"):
        UnlockerClassifier(strategy="dividemix", module=torch.nn.Flatten(), max_epochs=2,
                           warmup_epochs=1).fit(np.zeros((8, 1, 2, 2, 2), np.float32),
                                                np.arange(8) % 2)


def test_mixup_alpha_set_for_dividemix_warns_that_it_is_ignored(data):
    with pytest.warns(UnlockerWarning, match="mixup_alpha=0.4 is ignored with strategy "
                                             "DivideMixStrategy"):
        UnlockerClassifier(mixup_alpha=0.4, **FAST).fit(data.X_train, data.y_train)


class _ModeConstant(_Constant):
    """A constant row in evaluation mode, another in train mode."""

    def __init__(self, eval_row, train_row):
        super().__init__(eval_row)
        self.train_row = torch.tensor(train_row)

    def forward(self, X):
        row = self.train_row if self.training else self.row
        return row.expand(len(X), -1) + self.zero


@pytest.mark.parametrize("batching", ["shared", "original"])
@pytest.mark.parametrize("guess_mode", ["evaluation", "train"])
def test_guess_mode_sets_the_mode_of_the_trained_networks_own_guesses(monkeypatch, guess_mode,
                                                                      batching):
    # each network gives [0, 0] in evaluation mode and [log 3, 0] (softmax [0.75, 0.25]) in
    # train mode; under "train" (DivideMix's code) the network being trained refines and
    # guesses in train mode, the other network guesses in evaluation mode
    refined, guessed = [], []
    monkeypatch.setattr(dividemix_module, "co_refine",
                        lambda onehot, w, proba, t: refined.append(proba) or proba)
    monkeypatch.setattr(dividemix_module, "co_guess",
                        lambda probas, t: guessed.append(probas) or probas[0])
    log3 = float(np.log(3.0))
    net = _Net(_ModeConstant([0.0, 0.0], [log3, 0.0]), _ModeConstant([0.0, 0.0], [log3, 0.0]))
    for module in net.networks():
        module.train()
    epoch = {"labels": torch.tensor([0, 0, 0, 0]),
             "network_clean_proba": torch.tensor([[0.9, 0.9], [0.9, 0.9], [0.1, 0.1],
                                                  [0.1, 0.1]])}
    targets = BatchTargets(torch.arange(4), epoch, adjustment=None)
    context = TrainingContext(
        epoch=5, max_epochs=10, warmup_epochs=2, prior=np.array([0.8, 0.2]), augment=None,
        mixup_alpha=0.0, random_state=np.random.RandomState(0),
        generator=torch.Generator().manual_seed(0), inputs=torch.zeros(4, 3))
    strategy = DivideMixStrategy(guess_mode=guess_mode, batching=batching)
    strategy.unlabelled_pools_ = [np.array([2, 3]), np.array([2, 3])]
    strategy.train_step(net, torch.zeros(4, 3), targets, context)
    own = [0.75, 0.25] if guess_mode == "train" else [0.5, 0.5]
    assert len(refined) == len(guessed) == 2  # one per network
    for k in range(2):
        np.testing.assert_allclose(refined[k].numpy(), [own, own], rtol=1e-6)
        # network order: network k's two views are its own, the other's two in evaluation
        expected = [own, own, [0.5, 0.5], [0.5, 0.5]] if k == 0 else \
            [[0.5, 0.5], [0.5, 0.5], own, own]
        for proba, row in zip(guessed[k], expected, strict=True):
            np.testing.assert_allclose(proba.numpy(), np.tile(row, (len(proba), 1)), rtol=1e-6)
    assert all(module.training for module in net.networks())  # modes restored


@pytest.mark.parametrize("trained, guess_mode, evaluated", [
    ((0, 1), "train", [2, 2]),  # each network's evaluation pass serves the other's guesses
    ((1,), "train", [2, 0]),  # sequential: network 1's own guesses are in train mode
    ((1,), "evaluation", [2, 2]),  # network 1 guesses with its evaluation pass
])
def test_only_the_evaluation_passes_a_step_reads_are_made(trained, guess_mode, evaluated):
    calls = [0, 0]
    networks = [_ModeConstant([0.0, 0.0], [1.0, 0.0]) for _ in range(2)]
    for k, module in enumerate(networks):
        module.register_forward_hook(
            lambda m, args, out, k=k: calls.__setitem__(k, calls[k] + (not m.training)))
    views = [torch.zeros(3, 2), torch.zeros(3, 2)]
    batch, own = DivideMixStrategy(guess_mode=guess_mode)._batch_probas(
        networks, views, None, trained)
    assert calls == evaluated
    for k in trained:  # what the trained network refines and guesses with
        train_row = [np.e / (1 + np.e), 1 / (1 + np.e)]  # softmax of [1, 0]
        expected = [0.5, 0.5] if guess_mode == "evaluation" else train_row
        np.testing.assert_allclose(own[k][0].numpy(), np.tile(expected, (3, 1)), rtol=1e-6)
    for j in range(2):
        if evaluated[j]:
            np.testing.assert_allclose(batch[j][1].numpy(), np.full((3, 2), 0.5), rtol=1e-6)


def _step_inputs(epoch_number, network=None):
    labels = torch.tensor([0, 1, 0, 1])
    epoch = {"labels": labels, "target": labels,
             "network_clean_proba": torch.tensor([[0.9, 0.9], [0.9, 0.9], [0.1, 0.1],
                                                  [0.1, 0.1]])}
    targets = BatchTargets(torch.arange(4), epoch, adjustment=None, unit_weight=True)
    context = TrainingContext(
        epoch=epoch_number, max_epochs=10, warmup_epochs=2, prior=np.array([0.5, 0.5]),
        augment=None, mixup_alpha=0.0, random_state=np.random.RandomState(0),
        generator=torch.Generator().manual_seed(0), network=network)
    return targets, context


@pytest.mark.parametrize("epoch_number", [1, 5])  # the warm-up and after it
@pytest.mark.parametrize("network", [0, 1])
def test_a_sequential_pass_trains_its_network_only(epoch_number, network):
    net = _Net(_Constant([0.3, -0.2]), _Constant([-0.1, 0.4]))
    targets, context = _step_inputs(epoch_number, network)
    loss, _ = DivideMixStrategy(training_order="sequential").train_step(
        net, torch.zeros(4, 3), targets, context)
    loss.backward()
    trained, other = net.modules[network], net.modules[1 - network]
    assert trained.zero.grad is not None and trained.zero.grad != 0
    assert other.zero.grad is None


def test_a_networks_loss_has_no_gradient_in_the_other_network(monkeypatch):
    # why one optimizer over both networks steps as DivideMix's two do: the joint loss is a
    # sum of one term per network, each a function of that network's parameters only
    losses = []
    original = DivideMixStrategy._mixmatch_loss

    def record(self, module, *args):
        loss, logits = original(self, module, *args)
        losses.append((module, loss))
        return loss, logits

    monkeypatch.setattr(DivideMixStrategy, "_mixmatch_loss", record)
    net = _Net(_Constant([0.3, -0.2]), _Constant([-0.1, 0.4]))
    targets, context = _step_inputs(5)
    DivideMixStrategy().train_step(net, torch.zeros(4, 3), targets, context)
    assert [module for module, _ in losses] == net.modules
    for k, (module, loss) in enumerate(losses):
        own, other = torch.autograd.grad(loss, [module.zero, net.modules[1 - k].zero],
                                         retain_graph=True, allow_unused=True)
        assert own is not None and other is None


def test_sequential_training_makes_a_pass_per_network(data, monkeypatch):
    seen = []
    original = DivideMixStrategy.train_step

    def record(self, net, X, targets, context):
        seen.append((context.epoch, context.network))
        return original(self, net, X, targets, context)

    monkeypatch.setattr(DivideMixStrategy, "train_step", record)
    joint = UnlockerClassifier(strategy="dividemix", **FAST).fit(data.X_train, data.y_train)
    steps = joint.net_.history[-1, "train_batch_count"]
    assert {network for _, network in seen} == {None}
    seen.clear()
    clf = UnlockerClassifier(strategy=DivideMixStrategy(training_order="sequential"), **FAST)
    clf.fit(data.X_train, data.y_train)
    last = [network for epoch, network in seen if epoch == clf.max_epochs]
    assert last == [0] * steps + [1] * steps  # network 1's pass, then network 2's
    assert clf.net_.history[-1, "train_batch_count"] == 2 * steps
