"""The formulas of Dynamic Loss and meta label correction, as small functions on tensors.

These are the functions the meta-learning strategies train with; the tests
check them on hand-worked cases.

Dynamic Loss (Jiang et al., "Dynamic Loss For Robust Learning"):

- label corrector, Eq. 3: ``y* = g(r | y) * y + (1 - g(r | y)) * y'``;
- the dynamic loss, Eq. 2: ``CE(y*, f(x) + q)`` with per-class margins ``q``.

MLC-D and EBOMLC (Nguyen et al., "Efficient Bilevel Optimization for Meta
Label Correction in Noisy Label Learning"), with ``F`` the upper (trusted)
loss and ``Q`` the value-function constraint:

- MLC-D, Eq. 7: ``beta = max((phi - grad F . grad Q) / |grad Q|^2, 0)``,
  ``phi = delta |grad Q|^2`` and ``grad F = (grad_w F, 0)``;
- EBOMLC, Eq. 9: ``F = CE(rho * softmax(f(x)) + (1 - rho) * g(h(x), y), y)``,
  a convex mixture of the two probability vectors;
- EBOMLC, Eqs. 10-11: with the alignment-aware barrier
  ``phi = delta |grad Q|^2 + grad_a F . grad_a Q`` the coefficient becomes
  ``beta = max(delta - grad_w F . grad_w Q / |grad Q|^2, 0)``;
- EBOMLC, Eq. 12: the step is ``grad F + xi * beta * grad Q``.
"""

import numpy as np
import torch

from ..adjustment import balanced_clean_subset

__all__ = [
    "corrected_targets",
    "dynamic_loss",
    "ebomlc_beta",
    "flat_dot",
    "hierarchical_meta_indices",
    "loss_bins",
    "mixture_upper_loss",
    "mlcd_beta",
    "soft_cross_entropy",
]


def flat_dot(grads_a, grads_b):
    """Sum of elementwise products of two lists of tensors (None counts as 0).

    Parameters
    ----------
    grads_a, grads_b : list of torch.Tensor or None
        Gradients of the same parameters.

    Returns
    -------
    dot : torch.Tensor
        0-d tensor.

    Examples
    --------
    >>> float(flat_dot([torch.tensor([1.0, 2.0]), None], [torch.tensor([3.0, 4.0]), None]))
    11.0
    """
    total = torch.zeros(())
    for a, b in zip(grads_a, grads_b, strict=True):
        if a is not None and b is not None:
            total = total + (a * b).sum()
    return total


def _squared_norm(grad_w, grad_alpha):
    """``|grad|^2`` of a gradient split into its main and meta parts (a 0-dim tensor)."""
    return flat_dot(grad_w, grad_w) + flat_dot(grad_alpha, grad_alpha)


def _barrier(numerator, norm):
    """``max(numerator / norm, 0)``, 0 where ``norm`` is 0, as a 0-dim tensor: computed where
    the gradients are, so that a step on a GPU does not wait to read it."""
    positive = norm > 0
    return torch.where(positive, numerator / torch.where(positive, norm, 1.0), 0.0).clamp(min=0)


def mlcd_beta(grad_F_w, grad_Q_w, grad_Q_alpha, delta):
    """MLC-D's barrier coefficient (Eq. 7), clipped at 0.

    The upper loss F depends on the main parameters only, so ``grad F = (grad_w F, 0)``
    and ``beta = max((delta |grad Q|^2 - grad_w F . grad_w Q) / |grad Q|^2, 0)``.

    Parameters
    ----------
    grad_F_w : list of torch.Tensor
        Gradient of F with respect to the main parameters.
    grad_Q_w, grad_Q_alpha : list of torch.Tensor
        Gradient of Q with respect to the main and the meta parameters.
    delta : float
        Barrier scale (> 0).

    Returns
    -------
    beta : torch.Tensor of shape ()
        0 when ``grad Q`` vanishes.
    """
    norm = _squared_norm(grad_Q_w, grad_Q_alpha)
    return _barrier(delta * norm - flat_dot(grad_F_w, grad_Q_w), norm)


def ebomlc_beta(grad_F_w, grad_Q_w, grad_Q_alpha, delta):
    """EBOMLC's coefficient under the alignment-aware barrier (Eqs. 10-11), clipped at 0.

    With ``phi = delta |grad Q|^2 + grad_a F . grad_a Q`` the meta part of
    ``grad F . grad Q`` cancels and ``beta = max(delta - grad_w F . grad_w Q / |grad Q|^2, 0)``.
    (The same value as :func:`mlcd_beta`; what differs is that EBOMLC's ``F``
    has a meta gradient, which Eq. 12 adds to the step, scaled by ``xi``.)

    Parameters
    ----------
    grad_F_w : list of torch.Tensor
        Gradient of the mixture upper loss with respect to the main parameters.
    grad_Q_w, grad_Q_alpha : list of torch.Tensor
        Gradient of Q with respect to the main and the meta parameters.
    delta : float
        Barrier scale (> 0).

    Returns
    -------
    beta : torch.Tensor of shape ()
        0 when ``grad Q`` vanishes.
    """
    norm = _squared_norm(grad_Q_w, grad_Q_alpha)
    return _barrier(delta * norm - flat_dot(grad_F_w, grad_Q_w), norm)


def soft_cross_entropy(logits, target_proba, weights=None):
    """Mean cross-entropy of logits against soft targets: ``-sum_c t_c log softmax(z)_c``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n, C)
    target_proba : torch.Tensor of shape (n, C)
        Rows summing to 1.
    weights : torch.Tensor of shape (n,), default=None
        Per-sample weights; the weighted sum is divided by ``n``.

    Returns
    -------
    loss : torch.Tensor
        0-d tensor.

    Examples
    --------
    >>> logits = torch.log(torch.tensor([[0.5, 0.5], [0.25, 0.75]]))
    >>> targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(soft_cross_entropy(logits, targets, torch.tensor([2.0, 0.0]))), 4)  # log 2
    0.6931
    """
    per_sample = -(target_proba * torch.log_softmax(logits, dim=1)).sum(dim=1)
    return per_sample.mean() if weights is None else (per_sample * weights).mean()


def mixture_upper_loss(main_logits, meta_proba, y, rho):
    """EBOMLC's upper loss (Eq. 9): cross-entropy of ``rho p_f + (1 - rho) p_g``.

    Parameters
    ----------
    main_logits : torch.Tensor of shape (n, C)
        Main model's logits on trusted samples.
    meta_proba : torch.Tensor of shape (n, C)
        Meta model's corrected-label distribution ``g(h(x), y)`` on them.
    y : torch.Tensor of int64, shape (n,)
        Their (trusted) labels.
    rho : float in (0, 1)
        Weight of the main model; ``rho = 1`` gives MLC's plain upper loss.

    Returns
    -------
    loss : torch.Tensor
        0-d tensor.

    Examples
    --------
    >>> main = torch.log(torch.tensor([[0.5, 0.5]]))
    >>> meta = torch.tensor([[1.0, 0.0]])
    >>> round(float(mixture_upper_loss(main, meta, torch.tensor([0]), 0.2)), 4)  # -log 0.9
    0.1054
    """
    mixed = rho * torch.softmax(main_logits, dim=1) + (1 - rho) * meta_proba
    picked = mixed.gather(1, y[:, None])[:, 0]
    return -torch.log(picked.clamp_min(1e-12)).mean()


def corrected_targets(labels_onehot, weight, prediction):
    """Dynamic Loss's label corrector (Eq. 3): ``g * y + (1 - g) * y'``.

    Parameters
    ----------
    labels_onehot : torch.Tensor of shape (n, C)
        Given labels, one-hot.
    weight : torch.Tensor of shape (n,)
        ``g(r | y)`` in [0, 1] for each sample (its loss bin and class).
    prediction : torch.Tensor of shape (n, C)
        The classifier's prediction ``y'`` (a one-hot or a distribution).

    Returns
    -------
    targets : torch.Tensor of shape (n, C)

    Examples
    --------
    >>> corrected_targets(torch.tensor([[1.0, 0.0]]), torch.tensor([0.75]),
    ...                   torch.tensor([[0.0, 1.0]])).tolist()
    [[0.75, 0.25]]
    """
    g = weight[:, None]
    return g * labels_onehot + (1 - g) * prediction


def dynamic_loss(logits, margins, targets, weights=None):
    """The dynamic loss (Eq. 2): soft cross-entropy of ``f(x) + q`` against ``y*``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n, C)
    margins : torch.Tensor of shape (C,)
        Additive per-class margins ``q``.
    targets : torch.Tensor of shape (n, C)
        Corrected targets ``y*``.
    weights : torch.Tensor of shape (n,), default=None
        Per-sample weights.

    Returns
    -------
    loss : torch.Tensor
        0-d tensor.

    Examples
    --------
    >>> z = torch.zeros(1, 2)
    >>> round(float(dynamic_loss(z, torch.tensor([0.0, 100.0]), torch.tensor([[0.0, 1.0]]))), 4)
    0.0
    """
    return soft_cross_entropy(logits + margins, targets, weights)


def loss_bins(losses, y, n_classes, max_bins=100):
    """Rank samples by loss within their class into ``R = min(max_bins, class size)`` bins.

    Parameters
    ----------
    losses : ndarray of shape (n_samples,)
    y : ndarray of int, shape (n_samples,)
        Given labels.
    n_classes : int
    max_bins : int, default=100
        R of Dynamic Loss (Table 7: 100 on CIFAR-10).

    Returns
    -------
    bins : ndarray of int, shape (n_samples,)
        0 for the lowest losses of a class, up to ``R - 1`` for the highest, where
        ``R = max_bins``; a class with fewer samples than bins spreads its samples
        evenly over the R bins.

    Examples
    --------
    >>> loss_bins(np.array([0.1, 0.9, 0.5, 0.3]), np.array([0, 0, 0, 0]), 1, max_bins=2).tolist()
    [0, 1, 1, 0]
    """
    y = np.asarray(y, dtype=np.intp)
    order = np.lexsort((np.asarray(losses, dtype=np.float64), y))
    sizes = np.bincount(y, minlength=n_classes)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    rank = np.empty(len(y), dtype=np.intp)
    rank[order] = np.arange(len(y)) - starts[y[order]]
    return np.minimum((rank * max_bins) // np.maximum(sizes[y], 1), max_bins - 1)


def hierarchical_meta_indices(losses, y, n_classes, m0, m1, random_state):
    """Dynamic Loss's hierarchical sampling of the meta set.

    First a primary set of ``max(1, floor(m0 * n_min))`` random samples per class
    (``n_min``: the smallest class size), then the ``max(1, floor(m1 * n_min))``
    lowest-loss samples of each class within it.

    Parameters
    ----------
    losses : ndarray of shape (n_samples,)
    y : ndarray of int, shape (n_samples,)
        Given labels.
    n_classes : int
    m0, m1 : float
        Fractions of the smallest class size (Table 7: 0.5 and 0.25).
    random_state : numpy.random.RandomState

    Returns
    -------
    indices : ndarray of int
        The meta set, sorted; as many samples from each class with samples.
    """
    y = np.asarray(y, dtype=np.intp)
    sizes = np.bincount(y, minlength=n_classes)
    n_min = int(sizes[sizes > 0].min())
    primary_size = max(1, int(m0 * n_min))
    meta_size = max(1, min(int(m1 * n_min), primary_size))
    primary = np.concatenate([
        random_state.choice(np.flatnonzero(y == c), size=min(primary_size, sizes[c]),
                            replace=False)
        for c in range(n_classes) if sizes[c]
    ])
    clean_proba = np.exp(-np.asarray(losses, dtype=np.float64)[primary])  # ranks like -loss
    chosen = balanced_clean_subset(clean_proba, np.ones(len(primary), dtype=bool), y[primary],
                                   n_classes, fraction=0.0, min_per_class=meta_size)
    return np.sort(primary[chosen])
