"""Trusted (clean, balanced) sets built from the noisy data itself.

EBOMLC names this its open problem; Unlocker's balanced clean subset answers it:
per class, the samples the current model finds easiest (lowest loss) are most
probably clean. Dynamic Loss adds a random primary draw first (hierarchical
sampling) so that the meta set changes every epoch and reaches harder samples.
Both reuse :func:`sklearn_unlocker.adjustment.balanced_clean_subset`.
"""

import numpy as np

from ..adjustment import balanced_clean_subset

__all__ = ["hierarchical_meta_indices", "low_loss_indices"]


def low_loss_indices(losses, y, n_classes, per_class):
    """The ``per_class`` lowest-loss samples of each class (all of a smaller class).

    Parameters
    ----------
    losses : ndarray of shape (n_samples,)
        Per-sample loss of the given label under the current model.
    y : ndarray of int, shape (n_samples,)
        Given labels.
    n_classes : int
    per_class : int
        Samples kept per class.

    Returns
    -------
    indices : ndarray of int
        Sorted.

    Examples
    --------
    >>> low_loss_indices(np.array([0.9, 0.1, 0.5, 0.2, 0.3]), np.array([0, 0, 0, 1, 1]), 2, 1)
    array([1, 3])
    """
    clean_proba = np.exp(-np.asarray(losses, dtype=np.float64))  # ranks like -loss, in (0, 1]
    return balanced_clean_subset(clean_proba, np.ones(len(y), dtype=bool), y, n_classes,
                                 fraction=0.0, min_per_class=per_class)


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
    chosen = low_loss_indices(np.asarray(losses)[primary], y[primary], n_classes, meta_size)
    return np.sort(primary[chosen])
