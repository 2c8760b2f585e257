"""Dynamic Loss (Jiang et al., "Dynamic Loss For Robust Learning") as a strategy."""

import inspect
import itertools
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .._rows import row_cross_entropy, row_softmax
from .._sklearn_compat import Interval, StrOptions
from ..exceptions import UnlockerWarning
from ._functional import forward_at, parameters_of
from ._meta import MetaStrategy
from ._meta_math import corrected_targets, dynamic_loss, hierarchical_meta_indices, loss_bins

__all__ = ["DynamicLossStrategy", "LabelCorrector", "MarginGenerator"]


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

    Examples
    --------
    >>> import torch
    >>> from sklearn_unlocker.strategies import LabelCorrector
    >>> _ = torch.manual_seed(0)
    >>> corrector = LabelCorrector(n_bins=5, n_classes=3, hidden_units=16)
    >>> weights = corrector(torch.tensor([0, 4]), torch.tensor([2, 1]))  # bins, given labels
    >>> weights.shape, bool((weights > 0.9).all())  # untrained: trust the given labels
    (torch.Size([2]), True)
    >>> corrector.table().shape  # g for every (bin, class)
    (5, 3)
    """

    def __init__(self, n_bins, n_classes, hidden_units=100, class_wise=True):
        super().__init__()
        self.n_bins = n_bins
        self.n_classes = n_classes
        self.mlp = nn.Sequential(nn.Linear(n_bins, hidden_units), nn.ReLU(),
                                 nn.Linear(hidden_units, n_classes if class_wise else 1))
        nn.init.constant_(self.mlp[2].bias, 4.0)

    def forward(self, bins, labels):
        onehot = nn.functional.one_hot(bins, self.n_bins).float()
        weights = torch.sigmoid(self.mlp(onehot))
        if weights.shape[1] == 1:  # class-agnostic: one weight per bin for every class
            return weights[:, 0]
        return weights.gather(1, labels[:, None])[:, 0]

    def table(self):
        """g for every bin (rows) and class (columns)."""
        with torch.no_grad():
            eye = torch.eye(self.n_bins, device=self.mlp[0].weight.device)
            weights = torch.sigmoid(self.mlp(eye))
            return weights.expand(self.n_bins, self.n_classes).contiguous().cpu().numpy()


def _device_of(module):
    """Where a module's tensors live (the CPU for one without any)."""
    for tensor in itertools.chain(module.parameters(), module.buffers()):
        return tensor.device
    return torch.device("cpu")


class _KeepLabels(nn.Module):
    """The ablation without a label corrector: g = 1 for every sample (no parameters)."""

    def __init__(self, n_bins, n_classes):
        super().__init__()
        self.n_bins, self.n_classes = n_bins, n_classes

    def forward(self, bins, labels):
        return torch.ones(len(labels), device=labels.device)

    def table(self):
        return np.ones((self.n_bins, self.n_classes), dtype=np.float32)


class _FixedMargins(nn.Module):
    """Margins that are not learned (no parameters): Balanced Softmax's log prior, or 0."""

    def __init__(self, margins):
        super().__init__()
        self.register_buffer("margins", torch.as_tensor(margins, dtype=torch.float32))

    def forward(self):
        return self.margins


class MarginGenerator(nn.Module):
    """q = MLP(ones): learnable additive per-class margins (Eq. 5), starting at 0.

    Parameters
    ----------
    n_classes : int
    hidden_units : int, default=100

    Examples
    --------
    >>> from sklearn_unlocker.strategies import MarginGenerator
    >>> margins = MarginGenerator(n_classes=3, hidden_units=8)()
    >>> margins.shape, margins.tolist()  # untrained: no margin
    (torch.Size([3]), [0.0, 0.0, 0.0])
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


class DynamicLossSplit(NamedTuple):
    """Dynamic Loss's verdict: the :class:`~sklearn_unlocker.strategies.Split` fields plus
    what the epoch's training steps and meta set read.

    Attributes
    ----------
    clean_proba, clean_mask, corrected_labels, confidence : ndarray
        As in :class:`~sklearn_unlocker.strategies.Split`.
    losses : ndarray of shape (n_samples,)
        Each sample's cross-entropy on its given label (ranks the hierarchical meta set).
    loss_bins : ndarray of int, shape (n_samples,)
        Each sample's loss bin within its class (the label corrector's input).
    """

    clean_proba: np.ndarray
    clean_mask: np.ndarray
    corrected_labels: np.ndarray
    confidence: np.ndarray
    losses: np.ndarray
    loss_bins: np.ndarray


class DynamicLossStrategy(MetaStrategy):
    """Dynamic Loss: a meta-learned label corrector and per-class margins.

    Pass it as ``UnlockerClassifier(strategy=DynamicLossStrategy(...))`` to run
    it inside Unlocker (``strategy="dynamic_loss"`` with its defaults); on its
    own it is :class:`~sklearn_unlocker.DynamicLossClassifier`.

    The classifier trains on ``CE(y*, f(x) + q)`` (Eq. 2): per-class additive
    margins ``q`` from a margin generator and corrected targets
    ``y* = g(r | y) y + (1 - g(r | y)) y'`` (Eq. 3), where ``r`` is the sample's
    loss bin within its class, ``g`` a class-wise label corrector and ``y'`` a
    hard Gumbel-softmax of the classifier's prediction. Each step: a virtual
    step of the classifier (Eq. 7), a meta step of the corrector and margin
    generator on a trusted batch through it (Eq. 8, second order), then the real
    step (Eq. 9). A sample is "clean" when ``g(r | y) >= 0.5``; the others are
    corrected to the prediction's argmax.

    Inside Unlocker (``UnlockerClassifier(strategy="dynamic_loss")``): the loss
    bins rank the adjusted losses, alpha is added to the logits of the dynamic
    loss beside the learned margins (``f(x) + alpha + q``: the margins learn what
    alpha leaves, starting from 0), ``y'`` is drawn from ``z - alpha``, and
    predictions use raw ``z`` like every row with alpha in its loss.

    Parameters
    ----------
    max_bins : int, default=100
        R, loss bins per class (Table 7: 100 on CIFAR-10); at most the size of the
        largest class.
    meta_lr : float, default=0.03
        Adam learning rate of the corrector and margin generator. Table 7's 3e-3
        is for about 30,000 meta steps (CIFAR, 300 epochs); our fits take a few
        hundred to a few thousand, and at 3e-3 the corrector never left its
        initial ``g = 0.98``: no label was corrected (digits, IR 10, symmetric
        40%), so Dynamic Loss was cross-entropy with learned margins. At 0.03 it
        corrected 18% of the labels at a precision of 0.77 there; on the
        development grid mean balanced accuracy rose from 0.509 to 0.523 (0.01:
        0.515; ``benchmarks/results/development_meta.md``).
    inner_lr : float or None, default=None
        Step size of the virtual step (Eq. 7). None: the training optimizer's own
        next step (learning rate, momentum, weight decay, Adam moments), as the
        authors' code does by running the real SGD optimizer through ``higher``;
        a number: a plain SGD step of that size.
    meta_hidden_units : int, default=100
        Width of the corrector's and the margin generator's hidden layer.
    meta_set : {"balanced_clean", "hierarchical"}, default="balanced_clean"
        The trusted (meta) set: the engine's D_bc (or the user's set), or the
        paper's hierarchical sampling (``m0``, ``m1``).
    m0, m1 : float, default=0.5, 0.25
        Hierarchical sampling, as fractions of the smallest class size (Table 7):
        ``max(1, m0 n_min)`` random samples per class, of which the
        ``max(1, m1 n_min)`` lowest-loss form the meta set. ``m0 = m1`` is the
        paper's naive random sampling (Table 4, without H).
    label_corrector : {"class_wise", "shared", "off"}, default="class_wise"
        The paper's class-wise corrector (one weight per loss bin and class), a
        class-agnostic one (one weight per loss bin), or none (``g = 1``: the
        given labels, never corrected). The last two are the paper's ablations
        (Table 4 and "Effect of class-specific label corrector"), measured in
        ``benchmarks/results/claims_dynamic_loss.md``.
    margins : {"learned", "balanced_softmax", "off"}, default="learned"
        The margin generator's learned margins, Balanced Softmax's fixed
        ``log prior`` of the given labels, or none: the paper's margin ablations
        (Table 4). ``label_corrector="off"`` with learned margins, or a corrector
        with fixed margins, still meta-learns; with neither learned there is
        nothing to meta-learn, which is an error. Inside Unlocker, where the row
        adds alpha to the loss's logits too, "balanced_softmax" adds a second
        log prior: run the paper's ablation with ``logit_adjustment="none"`` (as
        :class:`~sklearn_unlocker.DynamicLossClassifier` does).

    Attributes
    ----------
    label_corrector_, margin_generator_ : torch.nn.Module
        After a fit: the trained meta networks.
    seconds_ : dict
        Seconds in the meta steps.

    Examples
    --------
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=60, n_test_per_class=10,
    ...                           imbalance_ratio=5, noise_rate=0.3, random_state=0)
    >>> clf = UnlockerClassifier(strategy=DynamicLossStrategy(), max_epochs=8,
    ...                          random_state=0).fit(data.X_train, data.y_train)
    >>> clf.strategy_.margin_generator_().shape
    torch.Size([10])
    """

    _parameter_constraints = {
        "max_bins": [Interval(Integral, 1, None, closed="left")],
        "meta_lr": [Interval(Real, 0, None, closed="neither")],
        "inner_lr": [None, Interval(Real, 0, None, closed="neither")],
        "meta_hidden_units": [Interval(Integral, 1, None, closed="left")],
        "meta_set": [StrOptions({"balanced_clean", "hierarchical"})],
        "m0": [Interval(Real, 0, 1, closed="right")],
        "m1": [Interval(Real, 0, 1, closed="right")],
        "label_corrector": [StrOptions({"class_wise", "shared", "off"})],
        "margins": [StrOptions({"learned", "balanced_softmax", "off"})],
    }

    def __init__(self, max_bins=100, meta_lr=0.03, inner_lr=None, meta_hidden_units=100,
                 meta_set="balanced_clean", m0=0.5, m1=0.25, label_corrector="class_wise",
                 margins="learned"):
        self.max_bins = max_bins
        self.meta_lr = meta_lr
        self.inner_lr = inner_lr
        self.meta_hidden_units = meta_hidden_units
        self.meta_set = meta_set
        self.m0 = m0
        self.m1 = m1
        self.label_corrector = label_corrector
        self.margins = margins

    def build_meta(self, net, context):
        if self.label_corrector == "off" and self.margins != "learned":
            raise ValueError(
                f"DynamicLossStrategy(label_corrector='off', margins={self.margins!r}) has "
                f"nothing to meta-learn: keep a label corrector or learned margins")
        default_bins = inspect.signature(type(self).__init__).parameters["max_bins"].default
        if self.label_corrector == "off" and self.max_bins != default_bins:
            warnings.warn(f"max_bins={self.max_bins!r} is ignored with label_corrector='off' "
                          f"(the loss bins feed the corrector only)", UnlockerWarning,
                          stacklevel=2)
        counts = np.bincount(context.labels, minlength=context.n_classes)
        n_bins = int(min(self.max_bins, counts.max()))
        if self.label_corrector == "off":
            corrector = _KeepLabels(n_bins, context.n_classes)
        else:
            corrector = LabelCorrector(n_bins, context.n_classes, self.meta_hidden_units,
                                       class_wise=self.label_corrector == "class_wise")
        if self.margins == "learned":
            margins = MarginGenerator(context.n_classes, self.meta_hidden_units)
        elif self.margins == "balanced_softmax":  # Ren et al. 2020: logits + log prior
            margins = _FixedMargins(np.log(np.maximum(counts, 1) / counts.sum()))
        else:
            margins = _FixedMargins(np.zeros(context.n_classes))
        return {"label_corrector": corrector, "margin_generator": margins}

    # --- the verdict and the meta set ---------------------------------------------------

    def split(self, logits, y, *, sample_weight=None, random_state=None):
        y = np.asarray(y)
        y_t = torch.as_tensor(y, dtype=torch.long)
        losses = row_cross_entropy(logits.to(torch.float64), y_t).numpy()
        bins = loss_bins(losses, y, len(logits[0]), self.label_corrector_.n_bins)
        device = _device_of(self.label_corrector_)
        with torch.no_grad():
            g = self.label_corrector_(torch.as_tensor(bins, device=device),
                                      y_t.to(device)).cpu().double().numpy()
        clean = g >= 0.5
        confidence, prediction = row_softmax(logits).max(dim=1)
        corrected = np.where(clean, y, prediction.numpy())
        return DynamicLossSplit(np.exp(-losses), clean, corrected,
                                np.where(clean, 1.0, confidence.double().numpy()), losses, bins)

    def batch_fields(self, split):
        return {"loss_bin": split.loss_bins}

    def select_trusted(self, split, y, n_classes, random_state):
        if self.meta_set == "balanced_clean":
            return None
        return hierarchical_meta_indices(split.losses, y, n_classes, self.m0, self.m1,
                                         random_state)

    # --- the update rule ----------------------------------------------------------------

    def _targets(self, logits, targets):
        """y* = g(r|y) * y + (1 - g(r|y)) * y', y' a hard Gumbel-softmax of the prediction."""
        prediction = logits.detach()
        if targets.adjustment is not None:
            prediction = prediction - targets.adjustment
        prediction = nn.functional.gumbel_softmax(prediction, hard=True)
        labels = targets.labels
        onehot = nn.functional.one_hot(labels, logits.shape[1]).to(logits.dtype)
        return corrected_targets(onehot, self.label_corrector_(targets.loss_bin, labels),
                                 prediction)

    @staticmethod
    def _adjusted(logits, targets):
        return logits if targets.adjustment is None else logits + targets.adjustment

    def meta_step(self, net, X, targets, context):
        module = net.module_
        params = parameters_of(module)
        weights = targets.sample_weight
        X_c, y_c = context.trusted.batch(len(X))
        # Eq. 7: virtual step of the classifier on the dynamic loss (second order)
        logits = module(X)
        loss = dynamic_loss(self._adjusted(logits, targets), self.margin_generator_(),
                            self._targets(logits, targets), weights)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True,
                                    allow_unused=True)
        ahead = self.lookahead(net, params, grads)
        # Eq. 8: meta step on the trusted batch
        meta_loss = nn.functional.cross_entropy(forward_at(module, ahead, X_c), y_c)
        self.step_meta(torch.autograd.grad(meta_loss, self.meta_parameters(),
                                           allow_unused=True))
        # Eq. 9: real step with the updated corrector and margins
        with torch.no_grad():
            corrected = self._targets(logits, targets)
            margins = self.margin_generator_()
        logits = module(X)
        loss = dynamic_loss(self._adjusted(logits, targets), margins, corrected, weights)
        loss.backward(inputs=list(params.values()))
        return loss.detach(), logits.detach()
