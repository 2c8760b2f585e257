"""Dynamic Loss and meta label correction: formulas, trusted sets, estimators."""

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_unlocker import DynamicLossClassifier, MetaLabelCorrectionClassifier
from sklearn_unlocker.adjustment import balanced_clean_subset
from sklearn_unlocker.datasets import make_noisy_tabular
from sklearn_unlocker.strategies import DynamicLossStrategy, MetaStrategy
from sklearn_unlocker.strategies._functional import (
    PenultimateTap,
    forward_at,
    optimizer_step,
    step_parameters,
)
from sklearn_unlocker.strategies._meta_math import (
    corrected_targets,
    dynamic_loss,
    ebomlc_beta,
    flat_dot,
    hierarchical_meta_indices,
    loss_bins,
    mixture_upper_loss,
    mlcd_beta,
    soft_cross_entropy,
)

FAST = dict(max_epochs=6, warmup_epochs=2, random_state=0)


def _t(*values):
    return [torch.tensor(v, dtype=torch.float64) for v in values]


# --- formulas -----------------------------------------------------------------------------


def test_mlcd_barrier_coefficient_hand_checked_and_clipped_at_zero():
    # |grad Q|^2 = 1 + 1 + 4 = 6, phi = 0.25 * 6 = 1.5
    grad_Q_w, grad_Q_a = _t([1.0, 1.0]), _t([2.0])
    # grad_w F . grad_w Q = -1: beta = (1.5 + 1) / 6
    assert float(mlcd_beta(_t([-1.0, 0.0]), grad_Q_w, grad_Q_a, 0.25)) == pytest.approx(2.5 / 6)
    # grad_w F . grad_w Q = 4 > phi: (1.5 - 4) / 6 < 0, clipped to 0
    assert float(mlcd_beta(_t([2.0, 2.0]), grad_Q_w, grad_Q_a, 0.25)) == 0.0
    assert float(mlcd_beta(_t([1.0, 1.0]), _t([0.0, 0.0]), _t([0.0]), 0.25)) == 0.0  # no grad Q


def test_ebomlc_barrier_coefficient_hand_checked_and_clipped_at_zero():
    grad_Q_w, grad_Q_a = _t([1.0, 1.0]), _t([2.0])
    # Eq. 11: delta - grad_w F . grad_w Q / |grad Q|^2 = 0.25 + 1 / 6
    beta = float(ebomlc_beta(_t([-1.0, 0.0]), grad_Q_w, grad_Q_a, 0.25))
    assert beta == pytest.approx(0.25 + 1 / 6)
    assert float(ebomlc_beta(_t([2.0, 2.0]), grad_Q_w, grad_Q_a, 0.25)) == 0.0  # 0.25 - 4/6 < 0
    # Eq. 10's alignment term: phi_bar = delta |grad Q|^2 + grad_a F . grad_a Q; solving
    # Eq. 5 with grad F = (grad_w F, grad_a F) gives (phi_bar - grad F . grad Q) / |grad Q|^2
    grad_F_w, grad_F_a = _t([-1.0, 0.5]), _t([3.0])
    norm = float(flat_dot(grad_Q_w, grad_Q_w) + flat_dot(grad_Q_a, grad_Q_a))
    phi_bar = 0.25 * norm + float(flat_dot(grad_F_a, grad_Q_a))
    general = (phi_bar - float(flat_dot(grad_F_w + grad_F_a, grad_Q_w + grad_Q_a))) / norm
    assert float(ebomlc_beta(grad_F_w, grad_Q_w, grad_Q_a, 0.25)) == pytest.approx(max(general, 0))


def test_mixture_upper_loss_hand_checked():
    main = torch.log(torch.tensor([[0.2, 0.8], [0.6, 0.4]]))
    meta = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    # rho = 0.2: sample 0 -> 0.2 * 0.2 + 0.8 * 1 = 0.84; sample 1 -> 0.2 * 0.4 + 0.8 = 0.88
    expected = -(np.log(0.84) + np.log(0.88)) / 2
    assert float(mixture_upper_loss(main, meta, y, 0.2)) == pytest.approx(expected, rel=1e-6)
    # rho -> 1 is MLC's plain cross-entropy of the main model
    plain = nn.functional.cross_entropy(main, y)
    assert float(mixture_upper_loss(main, meta, y, 1.0)) == pytest.approx(float(plain))


def test_label_corrector_mixing_hand_checked():
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    prediction = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    out = corrected_targets(y, torch.tensor([0.25, 0.9]), prediction)
    np.testing.assert_allclose(out.numpy(), [[0.25, 0.0, 0.75], [0.0, 1.0, 0.0]])


def test_loss_bins_rank_within_each_class():
    losses = np.array([0.5, 0.1, 0.9, 0.3, 2.0, 1.0, 0.2])
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    bins = loss_bins(losses, y, 2, max_bins=4)
    assert bins.tolist() == [2, 0, 3, 1, 2, 1, 0]  # class 1 has 3 samples over 4 bins


def test_soft_and_dynamic_losses_hand_checked():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]]))
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    per_sample = np.array([-np.log(0.5), -(np.log(0.2) + np.log(0.6)) / 2])
    assert float(soft_cross_entropy(logits, targets)) == pytest.approx(per_sample.mean())
    weighted = soft_cross_entropy(logits, targets, torch.tensor([1.0, 3.0]))
    assert float(weighted) == pytest.approx((per_sample[0] + 3 * per_sample[1]) / 2)
    # margins shift the logits: q = log(1/p) makes every class equally likely
    margins = -logits[0]
    expected = -np.log(1 / 3)
    assert float(dynamic_loss(logits[:1], margins, targets[:1])) == pytest.approx(expected)


def test_samplers_are_class_balanced_and_low_loss():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [200, 60, 12])
    losses = rng.rand(len(y))
    # the meta estimators' trusted set: D_bc with no fraction, k per class, lowest loss
    chosen = balanced_clean_subset(np.exp(-losses), np.ones(len(y), dtype=bool), y, 3,
                                   fraction=0.0, min_per_class=4)
    assert np.bincount(y[chosen]).tolist() == [4, 4, 4]
    for c in range(3):
        members = np.flatnonzero(y == c)
        assert set(chosen[y[chosen] == c]) == set(members[np.argsort(losses[members])[:4]])
    # hierarchical: n_min = 12, primary 6 per class, meta 3 per class
    for seed in range(5):
        meta = hierarchical_meta_indices(losses, y, 3, 0.5, 0.25, np.random.RandomState(seed))
        assert np.bincount(y[meta], minlength=3).tolist() == [3, 3, 3]
    # different seeds draw different primary sets, so the meta set changes over epochs
    draws = {tuple(hierarchical_meta_indices(losses, y, 3, 0.5, 0.25,
                                             np.random.RandomState(s))) for s in range(5)}
    assert len(draws) > 1
    tiny = hierarchical_meta_indices(losses[:202], y[:202], 2, 0.5, 0.25,
                                     np.random.RandomState(0))  # class 1 has 2 samples
    assert np.bincount(y[tiny], minlength=2).tolist() == [1, 1]


def test_virtual_steps_leave_the_module_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    X = torch.randn(8, 3)
    params = dict(net.named_parameters())
    loss = net(X).pow(2).mean()
    grads = torch.autograd.grad(loss, list(params.values()))
    ahead = step_parameters(params, grads, 0.1)
    torch.testing.assert_close(ahead["0.weight"], params["0.weight"] - 0.1 * grads[0])
    stats, weight = net[1].running_mean.clone(), net[0].weight.clone()
    out = forward_at(net, ahead, X)  # in training mode batch norm would update its stats
    assert torch.equal(net[1].running_mean, stats) and torch.equal(net[0].weight, weight)
    # ... and the output is the module's at the stepped parameters
    with torch.no_grad():
        net[0].weight.copy_(ahead["0.weight"])
        net[0].bias.copy_(ahead["0.bias"])
        net[2].weight.copy_(ahead["2.weight"])
        net[2].bias.copy_(ahead["2.bias"])
        net[1].weight.copy_(ahead["1.weight"])
        net[1].bias.copy_(ahead["1.bias"])
        torch.testing.assert_close(out, net(X))
    with PenultimateTap(net) as tap:
        net(X)
    assert tap.features.shape == (8, 4)


# --- estimators ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return make_noisy_tabular(n_samples_per_class=80, n_classes=4, n_features=6,
                              n_informative=4, n_test_per_class=20, imbalance_ratio=5,
                              noise_rate=0.3, random_state=0)


ESTIMATORS = [DynamicLossClassifier(**FAST)] + [
    MetaLabelCorrectionClassifier(method=m, **FAST) for m in ("ebomlc", "mlc", "mlc_d")]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=["dynamic_loss", "ebomlc", "mlc", "mlc_d"])
def test_fit_predict_and_fitted_attributes(estimator, data):
    clf = estimator.fit(data.X_train, data.y_train)
    assert clf.trusted_source_ == "auto"
    assert np.bincount(data.y_train[clf.trusted_indices_]).min() == \
        np.bincount(data.y_train[clf.trusted_indices_]).max()  # class-balanced
    proba = clf.predict_proba(data.X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    table = clf.find_label_issues()
    np.testing.assert_array_equal(table["is_label_issue"],
                                  table["given_label"] != table["corrected_label"])
    assert clf.trusted_size_history_.shape == (6,) and clf.trusted_size_history_[0] == 0
    assert set(clf.timings_) == {"fit", "score_pass", "selection", "unlocker", "meta"}


def test_dynamic_loss_attributes(data):
    clf = DynamicLossClassifier(**FAST).fit(data.X_train, data.y_train)
    assert clf.margins_.shape == (4,) and clf.label_weights_.shape[1] == 4
    # the meta steps trained the margin generator (which starts at exactly 0) and the label
    # corrector: a fit whose meta steps do nothing (meta_lr ~ 0) leaves both where they began
    frozen = DynamicLossClassifier(meta_lr=1e-12, **FAST).fit(data.X_train, data.y_train)
    np.testing.assert_allclose(frozen.margins_, 0.0, atol=1e-6)
    assert np.abs(clf.margins_).max() > 0.1
    assert np.abs(clf.label_weights_ - frozen.label_weights_).max() > 1e-3


@pytest.mark.parametrize("method", ["mlc_d", "ebomlc"])
def test_barrier_history_is_recorded(data, method):
    clf = MetaLabelCorrectionClassifier(method=method, **FAST).fit(data.X_train, data.y_train)
    assert len(clf.barrier_history_) == 4 and np.all(clf.barrier_history_ >= 0)


def test_a_user_trusted_set_is_used_as_given(data):
    clean = ~data.noise_mask
    rows = np.concatenate([np.flatnonzero(clean & (data.y_train_true == c))[:3]
                           for c in range(4)])
    clf = MetaLabelCorrectionClassifier(**FAST).fit(
        data.X_train, data.y_train, X_trusted=data.X_train[rows], y_trusted=data.y_train[rows])
    assert clf.trusted_source_ == "user" and clf.trusted_indices_ is None
    assert clf.trusted_size_history_.tolist() == [0, 0, 12, 12, 12, 12]


def test_the_automatic_trusted_set_is_left_out_of_the_noisy_batches(data, monkeypatch):
    seen, recorded = [], []
    original_step, original_meta = MetaStrategy.train_step, DynamicLossStrategy.meta_step

    def spy(self, net, X, targets, context):
        if not context.in_warmup:
            seen.append((set(targets.indices.tolist()), set(context.trusted.indices.tolist())))
        return original_step(self, net, X, targets, context)

    def spy_step(self, net, X, targets, context):
        recorded.append((set(targets.indices.tolist()), set(context.trusted.indices.tolist())))
        return original_meta(self, net, X, targets, context)

    monkeypatch.setattr(MetaStrategy, "train_step", spy)
    monkeypatch.setattr(DynamicLossStrategy, "meta_step", spy_step)
    DynamicLossClassifier(**FAST).fit(data.X_train, data.y_train)
    assert recorded and seen
    assert all(not (batch & trusted) for batch, trusted in recorded)
    assert any(batch & trusted for batch, trusted in seen)  # they were in skorch's batches


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X_trusted": np.zeros((2, 6))}, "both X_trusted and y_trusted"),
        ({"X_trusted": np.zeros((2, 5)), "y_trusted": [0, 1]}, "X_trusted has samples"),
        ({"X_trusted": np.zeros((2, 6)), "y_trusted": [0, 9]}, "not among the classes"),
        ({"X_trusted": np.zeros((2, 6)), "y_trusted": [0, 1, 2]}, "y_trusted must have shape"),
    ],
)
def test_bad_trusted_sets_are_clear_errors(data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MetaLabelCorrectionClassifier(**FAST).fit(data.X_train, data.y_train, **kwargs)


class _NoLinear(nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_features, n_classes))

    def forward(self, X):
        return X @ self.weight


def test_mlc_needs_features(data):
    with pytest.raises(ValueError, match="feature_extractor"):
        MetaLabelCorrectionClassifier(_NoLinear, **FAST).fit(data.X_train, data.y_train)
    clf = MetaLabelCorrectionClassifier(_NoLinear, feature_extractor=lambda X: X, **FAST)
    assert clf.fit(data.X_train, data.y_train).meta_model_ is not None


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=["dynamic_loss", "ebomlc", "mlc", "mlc_d"])
def test_same_random_state_same_model(estimator, data):
    first = estimator.fit(data.X_train, data.y_train).predict_proba(data.X_test)
    second = estimator.fit(data.X_train, data.y_train).predict_proba(data.X_test)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("optimizer, options", [
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=5e-4)),
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (torch.optim.Adam, dict(lr=1e-2, weight_decay=1e-3)),
    (torch.optim.AdamW, dict(lr=3e-3, weight_decay=1e-2)),
])
def test_the_look_ahead_is_the_optimizers_own_step(optimizer, options):
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(5))
    opt = optimizer([w], **options)
    for _ in range(3):  # from the first step on (no state yet) and with momentum and moments
        g = torch.randn(5)
        predicted = optimizer_step({"w": w}, [g], opt)["w"].detach().clone()
        w.grad = g.clone()
        opt.step()
        torch.testing.assert_close(predicted, w.detach(), rtol=0, atol=1e-7)
    # differentiable in the gradient, and the optimizer's state is left as it was
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in opt.state[w].items()}
    g = torch.randn(5, requires_grad=True)
    optimizer_step({"w": w}, [g], opt)["w"].sum().backward()
    assert g.grad is not None and torch.all(g.grad != 0)
    for key, value in state.items():
        assert torch.equal(torch.as_tensor(opt.state[w][key]), torch.as_tensor(value))
    with pytest.raises(TypeError, match="SGD, Adam and AdamW"):
        optimizer_step({"w": w}, [g], torch.optim.RMSprop([w]))


def test_plain_and_optimizer_look_ahead_both_train(data):
    fitted = {inner_lr: DynamicLossClassifier(inner_lr=inner_lr, **FAST).fit(data.X_train,
                                                                             data.y_train)
              for inner_lr in (None, 0.1)}
    for clf in fitted.values():  # both look-aheads give the meta step a gradient
        assert np.abs(clf.margins_).max() > 0.1
    # and they are two look-aheads: inner_lr reaches the virtual step
    assert np.abs(fitted[None].margins_ - fitted[0.1].margins_).max() > 0.05


@pytest.mark.parametrize("q_gradient", ["bome", "difference"])
def test_value_gap_gradients_hand_checked(q_gradient):
    # Q = G(w, a) - G(w_1, a) with w_1 = w - 0.1 grad_w G(w, a): "bome" holds w_1 constant
    # (grad_w Q = grad_w G(w)), "difference" differentiates at both points (EBOMLC, Lemma 2);
    # the meta part is the difference in both
    from types import SimpleNamespace

    from sklearn_unlocker.strategies import MetaLabelModel, MetaLabelStrategy

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    strategy = MetaLabelStrategy(inner_lr=0.1, q_gradient=q_gradient, features="live")
    strategy._frozen = None
    strategy.meta_modules_ = ["meta_model"]
    strategy.meta_model_ = MetaLabelModel(4, 2, embedding_dim=3, hidden_units=5)
    X, labels = torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 1, 0])
    targets = SimpleNamespace(adjustment=None, labels=labels, sample_weight=None)
    _, _, grad_Q_w, grad_Q_a = strategy._value_gap(SimpleNamespace(module_=module), X,
                                                   targets, None, 1)

    features = torch.tanh(module[0](X)).detach()
    meta = list(strategy.meta_model_.parameters())

    def G(params):
        return soft_cross_entropy(forward_at(module, params, X),
                                  strategy.meta_model_(features, labels))

    params = dict(module.named_parameters())
    at_w = torch.autograd.grad(G(params), list(params.values()) + meta)
    w_1 = {k: (v - 0.1 * g).detach().requires_grad_()
           for (k, v), g in zip(params.items(), at_w, strict=False)}
    at_w1 = torch.autograd.grad(G(w_1), list(w_1.values()) + meta)
    n = len(params)
    expected_w = [a - b if q_gradient == "difference" else a
                  for a, b in zip(at_w[:n], at_w1[:n], strict=True)]
    for got, want in zip(grad_Q_w, expected_w, strict=True):
        torch.testing.assert_close(got, want)
    for got, a, b in zip(grad_Q_a, at_w[n:], at_w1[n:], strict=True):
        torch.testing.assert_close(got, a - b)
    if q_gradient == "difference":  # the two forms differ where G is not linear in w
        assert not torch.allclose(grad_Q_w[0], at_w[0])


def test_meta_model_without_the_label_skip():
    from sklearn_unlocker.strategies import MetaLabelModel

    torch.manual_seed(0)
    model = MetaLabelModel(4, 3, embedding_dim=2, hidden_units=5, label_skip=None)
    features, labels = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    assert model.label_logit is None
    logits = model.mlp(torch.cat([features, model.embedding(labels)], dim=1))
    torch.testing.assert_close(model(features, labels), torch.softmax(logits, dim=1))
    skip = MetaLabelModel(4, 3, embedding_dim=2, hidden_units=5, label_skip=1.5)
    assert skip.label_logit.item() == 1.5 and skip.label_logit.requires_grad


def test_mixup_alpha_with_a_meta_strategy_warns_that_only_the_warm_up_mixes(data):
    from sklearn_unlocker import UnlockerClassifier
    from sklearn_unlocker.exceptions import UnlockerWarning

    with pytest.warns(UnlockerWarning, match="mixup_alpha=0.4 is ignored after the warm-up "
                                             "with strategy MetaLabelStrategy"):
        UnlockerClassifier(strategy="mlc", mixup_alpha=0.4, max_epochs=3, warmup_epochs=1,
                           random_state=0).fit(data.X_train, data.y_train)


def test_dynamic_loss_state_travels_in_its_split():
    # the epoch's loss bins and losses are read from the split they belong to, not from what
    # the strategy saw last (a second split must not change what the first one gives)
    from sklearn_unlocker.strategies import LabelCorrector

    torch.manual_seed(0)
    strategy = DynamicLossStrategy(meta_set="hierarchical")
    strategy.label_corrector_ = LabelCorrector(n_bins=3, n_classes=2, hidden_units=4)
    y = np.array([0, 0, 0, 1, 1, 1])
    first = strategy.split(torch.randn(6, 2), y)
    expected = loss_bins(first.losses, y, 2, 3)
    trusted = strategy.select_trusted(first, y, 2, np.random.RandomState(0))
    second = strategy.split(torch.randn(6, 2) * 5, y)
    assert not np.array_equal(first.losses, second.losses)
    np.testing.assert_array_equal(strategy.batch_fields(first)["loss_bin"], expected)
    np.testing.assert_array_equal(strategy.select_trusted(first, y, 2, np.random.RandomState(0)),
                                  trusted)


def test_meta_label_split_reads_the_corrections_its_score_pass_returned():
    from sklearn_unlocker.strategies import MetaLabelStrategy

    strategy, y = MetaLabelStrategy(), np.array([0, 1, 1])
    logits = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="corrections and confidence of its score pass"):
        strategy.split(logits, y)
    split = strategy.split(logits, y, corrections=np.array([0, 0, 1]),
                           confidence=np.array([0.9, 0.8, 0.7]))
    assert split.clean_mask.tolist() == [True, False, True]
    assert split.corrected_labels.tolist() == [0, 0, 1]
    assert split.confidence.tolist() == [1.0, 0.8, 1.0]


def test_label_skip_reaches_the_meta_model_and_q_gradient_warns_where_ignored(data):
    from sklearn_unlocker.exceptions import UnlockerWarning

    clf = MetaLabelCorrectionClassifier(label_skip=None, **FAST).fit(data.X_train, data.y_train)
    assert clf.strategy_.meta_model_.label_logit is None
    with pytest.warns(UnlockerWarning, match="q_gradient='difference' is ignored with "
                                             "method='mlc'"):
        MetaLabelCorrectionClassifier(method="mlc", q_gradient="difference", **FAST).fit(
            data.X_train, data.y_train)


@pytest.mark.parametrize("train_on_trusted", [False, True])
@pytest.mark.parametrize("step_gradient", ["recomputed", "lookahead"])
def test_mlc_step_hand_checked(step_gradient, train_on_trusted):
    # MLC's step: the meta model steps on F(w') with w' = w - 0.1 grad_w G, then w gets G's
    # gradient at the updated meta model ("recomputed") or the one the look-ahead took
    # ("lookahead", microsoft/MLC). With train_on_trusted (hmlc_K_mix) the second half of
    # the trusted batch joins G, weighted by its share, and F reads the first half only.
    import copy
    from types import SimpleNamespace

    from sklearn_unlocker.strategies import MetaLabelModel, MetaLabelStrategy

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    strategy = MetaLabelStrategy(method="mlc", inner_lr=0.1, features="live",
                                 step_gradient=step_gradient, train_on_trusted=train_on_trusted)
    strategy._frozen = None
    strategy.meta_modules_ = ["meta_model"]
    strategy.meta_model_ = MetaLabelModel(4, 2, embedding_dim=3, hidden_units=5,
                                          label_skip=None)
    strategy.meta_optimizer_ = torch.optim.SGD(strategy.meta_model_.parameters(), lr=10.0)
    before = copy.deepcopy(strategy.meta_model_)
    X, labels = torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 1, 0])
    X_c, y_c = torch.randn(6, 3), torch.tensor([1, 0, 1, 1, 0, 0])
    targets = SimpleNamespace(adjustment=None, labels=labels, sample_weight=None)
    context = SimpleNamespace(trusted=SimpleNamespace(batch=lambda size: (X_c, y_c)))
    strategy._mlc_step(SimpleNamespace(module_=module), X, targets, context)
    got = [p.grad.clone() for p in module.parameters()]

    features = torch.tanh(module[0](X)).detach()
    params = dict(module.named_parameters())
    upper, mixed = (slice(0, 3), slice(3, 6)) if train_on_trusted else (slice(0, 6), None)

    def G(meta, at):
        loss = soft_cross_entropy(forward_at(module, at, X), meta(features, labels))
        if mixed is None:
            return loss
        ce = nn.functional.cross_entropy(forward_at(module, at, X_c[mixed]), y_c[mixed])
        return (6 * loss + 3 * ce) / 9

    grads = torch.autograd.grad(G(before, params), list(params.values()), create_graph=True)
    ahead = {k: v - 0.1 * g for (k, v), g in zip(params.items(), grads, strict=True)}
    F = nn.functional.cross_entropy(forward_at(module, ahead, X_c[upper]), y_c[upper])
    meta_grads = torch.autograd.grad(F, list(before.parameters()))
    for new, old, g in zip(strategy.meta_model_.parameters(), before.parameters(), meta_grads,
                           strict=True):
        torch.testing.assert_close(new.detach(), (old - 10.0 * g).detach())
    meta = before if step_gradient == "lookahead" else strategy.meta_model_
    expected = torch.autograd.grad(G(meta, params), list(params.values()))
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b)
    # the two forms differ well beyond the tolerance: the meta step moved the meta model
    other = strategy.meta_model_ if step_gradient == "lookahead" else before
    otherwise = torch.autograd.grad(G(other, params), list(params.values()))
    assert max((a - b).abs().max() for a, b in zip(expected, otherwise, strict=True)) > 1e-4


def test_mlc_only_options_warn_with_other_methods(data):
    from sklearn_unlocker.exceptions import UnlockerWarning

    for kwargs in ({"train_on_trusted": False}, {"step_gradient": "recomputed"}):
        name = next(iter(kwargs))
        with pytest.warns(UnlockerWarning, match=f"{name}=.* is ignored with method='ebomlc'"):
            MetaLabelCorrectionClassifier(**kwargs, **FAST).fit(data.X_train, data.y_train)
    clf = MetaLabelCorrectionClassifier(method="mlc", train_on_trusted=False,
                                        step_gradient="recomputed", **FAST)
    assert clf.fit(data.X_train, data.y_train).score(data.X_test, data.y_test) > 0.3


def test_dynamic_loss_ablations_hand_checked(data):
    # the paper's Table 4 ablations: a class-agnostic corrector has one weight per bin for
    # every class; no corrector keeps every label; Balanced Softmax's margins are the given
    # labels' log prior and are not learned; with nothing learned the fit is refused
    from sklearn_unlocker.strategies import LabelCorrector

    torch.manual_seed(0)
    shared = LabelCorrector(n_bins=4, n_classes=3, hidden_units=5, class_wise=False)
    bins = torch.tensor([0, 0, 0, 3])
    weights = shared(bins, torch.tensor([0, 1, 2, 2]))
    assert weights[0] == weights[1] == weights[2] and weights[2] != weights[3]
    assert shared.table().shape == (4, 3) and np.ptp(shared.table(), axis=1).max() == 0

    fitted = DynamicLossClassifier(label_corrector="off", **FAST).fit(data.X_train,
                                                                       data.y_train)
    assert np.all(fitted.label_weights_ == 1.0)
    assert np.abs(fitted.margins_).max() > 0  # the margins still learn

    fitted = DynamicLossClassifier(margins="balanced_softmax", **FAST).fit(data.X_train,
                                                                           data.y_train)
    counts = np.bincount(data.y_train, minlength=len(fitted.classes_))
    np.testing.assert_allclose(fitted.margins_, np.log(counts / counts.sum()), rtol=1e-6)
    assert len(list(fitted.margin_generator_.parameters())) == 0
    off = DynamicLossClassifier(margins="off", **FAST).fit(data.X_train, data.y_train)
    assert np.all(off.margins_ == 0) and np.ptp(off.label_weights_) > 0  # the corrector learns
    with pytest.raises(ValueError, match="nothing to meta-learn"):
        DynamicLossClassifier(label_corrector="off", margins="off", **FAST).fit(
            data.X_train, data.y_train)


@pytest.mark.parametrize("method,inner_steps,expected", [
    ("ebomlc", None, 1), ("ebomlc", 2, 2), ("mlc_d", None, 5), ("mlc_d", 2, 2)])
def test_inner_steps_reach_the_value_gap(data, monkeypatch, method, inner_steps, expected):
    from sklearn_unlocker.strategies import MetaLabelStrategy

    seen = set()
    original = MetaLabelStrategy._value_gap

    def record(self, net, X, targets, context, steps):
        seen.add(steps)
        return original(self, net, X, targets, context, steps)

    monkeypatch.setattr(MetaLabelStrategy, "_value_gap", record)
    MetaLabelCorrectionClassifier(method=method, inner_steps=inner_steps, **FAST).fit(
        data.X_train, data.y_train)
    assert seen == {expected}


def test_inner_steps_warns_with_mlc(data):
    from sklearn_unlocker.exceptions import UnlockerWarning

    with pytest.warns(UnlockerWarning, match="inner_steps=2 is ignored with method='mlc'"):
        MetaLabelCorrectionClassifier(method="mlc", inner_steps=2, **FAST).fit(
            data.X_train, data.y_train)


def test_max_bins_warns_without_a_label_corrector(data):
    from sklearn_unlocker.exceptions import UnlockerWarning

    with pytest.warns(UnlockerWarning, match="max_bins=7 is ignored with label_corrector='off'"):
        DynamicLossClassifier(label_corrector="off", max_bins=7, **FAST).fit(data.X_train,
                                                                             data.y_train)
