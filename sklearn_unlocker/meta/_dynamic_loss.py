"""Dynamic Loss (Jiang et al., "Dynamic Loss For Robust Learning", DESIGN.md section 6)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from ._base import MetaClassifierBase, MetaProcedure
from ._functional import forward_at, parameters_of, step_parameters
from ._math import corrected_targets, loss_bins
from ._trusted import hierarchical_meta_indices

__all__ = ["DynamicLossClassifier", "LabelCorrector", "MarginGenerator"]


class LabelCorrector(nn.Module):
    """g(r | y): a one-hot loss bin to one sigmoid weight per class (Eq. 3).

    Two-layer MLP with "sibling" sigmoid outputs, one per class; the weight of a
    sample is the output of its given class. The last bias starts at 4 (weights
    near 0.98) as in the public code, so training starts on the given labels.

    Parameters
    ----------
    n_bins : int
        R, the number of loss bins.
    n_classes : int
    hidden_units : int, default=100
    """

    def __init__(self, n_bins, n_classes, hidden_units=100):
        super().__init__()
        self.n_bins = n_bins
        self.mlp = nn.Sequential(nn.Linear(n_bins, hidden_units), nn.ReLU(),
                                 nn.Linear(hidden_units, n_classes))
        nn.init.constant_(self.mlp[2].bias, 4.0)

    def forward(self, bins, labels):
        onehot = nn.functional.one_hot(bins, self.n_bins).float()
        return torch.sigmoid(self.mlp(onehot)).gather(1, labels[:, None])[:, 0]

    def table(self):
        """g for every bin (rows) and class (columns)."""
        with torch.no_grad():
            return torch.sigmoid(self.mlp(torch.eye(self.n_bins))).numpy()


class MarginGenerator(nn.Module):
    """q = MLP(ones): learnable additive per-class margins (Eq. 5), starting at 0.

    Parameters
    ----------
    n_classes : int
    hidden_units : int, default=100
    """

    def __init__(self, n_classes, hidden_units=100):
        super().__init__()
        self.register_buffer("ones", torch.ones(1, n_classes))
        self.mlp = nn.Sequential(nn.Linear(n_classes, hidden_units), nn.ReLU(),
                                 nn.Linear(hidden_units, n_classes))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self):
        return self.mlp(self.ones)[0]


class _DynamicLossProcedure(MetaProcedure):
    def __init__(self, estimator, corrector, margins, **kwargs):
        super().__init__(estimator, **kwargs)
        self.corrector, self.margins = corrector, margins
        self.meta_optimizer = torch.optim.Adam(
            list(corrector.parameters()) + list(margins.parameters()), lr=estimator.meta_lr)
        self.bins_t = torch.zeros(len(self.y), dtype=torch.long, device=self.device)

    def refresh_trusted(self, net):
        losses = self.losses(net)
        self.bins_t = torch.as_tensor(loss_bins(losses, self.y, self.n_classes,
                                                self.corrector.n_bins), device=self.device)
        if self.user_trusted:
            return
        self.trusted_indices = self.select_trusted(losses)
        self.in_trusted_t = torch.zeros(len(self.y), dtype=torch.bool, device=self.device)
        self.in_trusted_t[torch.as_tensor(self.trusted_indices, device=self.device)] = True

    def select_trusted(self, losses):
        return hierarchical_meta_indices(losses, self.y, self.n_classes, self.estimator.m0,
                                         self.estimator.m1, self.random_state)

    def targets(self, logits, indices):
        """y* = g(r|y) * y + (1 - g(r|y)) * y', y' a hard Gumbel-softmax of the prediction."""
        labels = self.y_t[indices]
        prediction = nn.functional.gumbel_softmax(logits.detach(), hard=True)
        onehot = nn.functional.one_hot(labels, logits.shape[1]).to(logits.dtype)
        return corrected_targets(onehot, self.corrector(self.bins_t[indices], labels),
                                 prediction)

    def _weighted_dynamic_loss(self, logits, targets, margins, weights):
        per_sample = -(targets * torch.log_softmax(logits + margins, dim=1)).sum(dim=1)
        return (per_sample * weights).mean()

    def meta_step(self, net, X, indices):
        module = net.module_
        params = parameters_of(module)
        weights = self.weight_t[indices]
        X_c, y_c = self.trusted_batch(len(X))
        # Eq. 7: virtual step of the classifier on the dynamic loss (second order)
        logits = module(X)
        loss = self._weighted_dynamic_loss(logits, self.targets(logits, indices),
                                           self.margins(), weights)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True,
                                    allow_unused=True)
        ahead = step_parameters(params, grads, self.estimator.inner_lr)
        # Eq. 8: meta step on the meta batch
        meta_loss = nn.functional.cross_entropy(forward_at(module, ahead, X_c), y_c)
        meta_params = list(self.corrector.parameters()) + list(self.margins.parameters())
        meta_grads = torch.autograd.grad(meta_loss, meta_params, allow_unused=True)
        for p, g in zip(meta_params, meta_grads, strict=True):
            p.grad = None if g is None else g.detach()
        self.meta_optimizer.step()
        self.meta_optimizer.zero_grad(set_to_none=True)
        # Eq. 9: real step with the updated corrector and margins
        with torch.no_grad():
            targets = self.targets(logits, indices)
            margins = self.margins()
        logits = module(X)
        loss = self._weighted_dynamic_loss(logits, targets, margins, weights)
        loss.backward(inputs=list(params.values()))
        return loss.detach(), logits.detach()


class DynamicLossClassifier(MetaClassifierBase):
    """Dynamic Loss around any torch module: a meta-learned label corrector and margins.

    The classifier trains on ``CE(y*, f(x) + q)`` (Eq. 2): per-class additive
    margins ``q`` from a margin generator (a balanced-softmax-like adjustment that
    is learned, not read off noisy counts) and corrected targets
    ``y* = g(r | y) y + (1 - g(r | y)) y'`` (Eq. 3), where ``r`` is the sample's
    loss bin within its class, ``g`` a class-wise label corrector and ``y'`` a
    hard Gumbel-softmax of the classifier's prediction. Each epoch a meta set is
    drawn by hierarchical sampling (``m0``, ``m1``: random primary set, then the
    lowest-loss per class; left out of that epoch's training set), or the user's
    trusted set is used. Each step: a virtual step of the classifier (Eq. 7),
    a meta step of the corrector and margin generator on a meta batch through it
    (Eq. 8, second order), then the real step (Eq. 9). Predictions are the raw
    logits (the margins are a training-time adjustment).

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        As in :class:`~sklearn_unlocker.UnlockerClassifier`.
    m0, m1 : float, default=0.5, 0.25
        Hierarchical sampling, as fractions of the smallest class size (Table 7):
        ``max(1, m0 n_min)`` random samples per class, of which the
        ``max(1, m1 n_min)`` lowest-loss form the meta set.
    max_bins : int, default=100
        R, loss bins per class (Table 7: 100 on CIFAR-10); at most the size of the
        largest class.
    meta_lr : float, default=3e-3
        Adam learning rate of the corrector and margin generator (Table 7).
    inner_lr : float, default=0.1
        Step size of the virtual SGD step (the classifier's SGD rate in Table 7).
    meta_hidden_units : int, default=100
        Width of the corrector's and the margin generator's hidden layer.
    warmup_epochs : int, default=5
        Epochs of plain cross-entropy first (Table 7).
    max_epochs, batch_size, lr, optimizer, classes, device, callbacks, random_state, verbose
        As in :class:`~sklearn_unlocker.UnlockerClassifier`.
    **kwargs
        Routed skorch parameters, as in :class:`~sklearn_unlocker.UnlockerClassifier`.

    Attributes
    ----------
    classes_, n_features_in_, input_shape_, net_, history_, device_
        As in :class:`~sklearn_unlocker.UnlockerClassifier`.
    margins_ : ndarray of shape (n_classes,)
        The learned margins q (in the order of ``classes_``).
    label_weights_ : ndarray of shape (n_bins, n_classes)
        The learned g(r | y): rows are loss bins (lowest loss first), columns classes.
    corrected_labels_ : ndarray of shape (n_samples,)
        argmax of the final corrected targets, in the original label values.
    label_issues_ : ndarray of bool, shape (n_samples,)
        Where the final corrected label differs from the given one.
    trusted_source_ : {"user", "auto"}
    trusted_indices_ : ndarray or None
        The last meta set drawn from the training data.
    trusted_size_history_ : ndarray of shape (n_epochs,)
    label_corrector_, margin_generator_ : torch.nn.Module
        The trained meta networks (on the CPU).
    timings_ : dict
        Seconds: "fit", "meta" (the meta-learning steps), "trusted_set".

    Examples
    --------
    >>> from sklearn_unlocker.meta import DynamicLossClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=60, n_test_per_class=10,
    ...                           imbalance_ratio=5, noise_rate=0.3, random_state=0)
    >>> clf = DynamicLossClassifier(max_epochs=8, random_state=0).fit(data.X_train, data.y_train)
    >>> clf.margins_.shape
    (10,)
    """

    _parameter_constraints = {
        **MetaClassifierBase._parameter_constraints,
        "m0": [Interval(Real, 0, 1, closed="right")],
        "m1": [Interval(Real, 0, 1, closed="right")],
        "max_bins": [Interval(Integral, 1, None, closed="left")],
        "meta_hidden_units": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        module=None,
        *,
        m0=0.5,
        m1=0.25,
        max_bins=100,
        meta_lr=3e-3,
        inner_lr=0.1,
        meta_hidden_units=100,
        warmup_epochs=5,
        max_epochs=60,
        batch_size=128,
        lr=3e-3,
        optimizer=torch.optim.AdamW,
        classes=None,
        device="auto",
        callbacks=None,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.module = module
        self.m0 = m0
        self.m1 = m1
        self.max_bins = max_bins
        self.meta_lr = meta_lr
        self.inner_lr = inner_lr
        self.meta_hidden_units = meta_hidden_units
        self.warmup_epochs = warmup_epochs
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.classes = classes
        self.device = device
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self._store_skorch_kwargs(kwargs)

    def _make_procedure(self, *, net, X, y, sample_weight, n_classes, device, random_state,
                        generator, strategy):
        X_trusted, y_trusted = self._trusted_tensors()
        n_bins = int(min(self.max_bins, np.bincount(y).max()))
        corrector = LabelCorrector(n_bins, n_classes, self.meta_hidden_units).to(device)
        margins = MarginGenerator(n_classes, self.meta_hidden_units).to(device)
        return _DynamicLossProcedure(
            self, corrector, margins, X=X, y=y, sample_weight=sample_weight,
            n_classes=n_classes, device=device, random_state=random_state, generator=generator,
            X_trusted=X_trusted, y_trusted=y_trusted)

    def _finish_fit(self, procedure, fit_seconds):
        self._finish_trusted(procedure)
        self.label_corrector_ = procedure.corrector.cpu().eval()
        self.margin_generator_ = procedure.margins.cpu().eval()
        with torch.no_grad():
            self.margins_ = self.margin_generator_().numpy().astype(np.float64)
        self.label_weights_ = self.label_corrector_.table()
        self.history_ = self.net_.history
        self.timings_ = {"fit": fit_seconds, **procedure.seconds}
        # final corrections: the deterministic version of y* (the prediction's argmax)
        logits = self.net_.logits(procedure.X)
        bins = loss_bins(
            torch.nn.functional.cross_entropy(logits, torch.as_tensor(procedure.y),
                                              reduction="none").numpy(),
            procedure.y, len(self.classes_), self.label_corrector_.n_bins)
        with torch.no_grad():
            g = self.label_corrector_(torch.as_tensor(bins), torch.as_tensor(procedure.y))
        corrected = np.where(g.numpy() >= 0.5, procedure.y, logits.argmax(dim=1).numpy())
        self.corrected_labels_ = self.classes_[corrected]
        self.label_issues_ = corrected != procedure.y
