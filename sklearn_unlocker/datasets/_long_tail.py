"""Long-tailed subsampling: the class-count profiles of the long-tail literature."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from .._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["long_tailed_counts", "make_long_tailed"]


@validate_params(
    {
        "n_max": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 1, None, closed="left")],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions({"exponential", "step"})],
    },
    prefer_skip_nested_validation=True,
)
def long_tailed_counts(n_max, n_classes, imbalance_ratio, *, profile="exponential"):
    """Per-class sample counts of a long-tailed profile, head first.

    Parameters
    ----------
    n_max : int
        Samples of the head class.
    n_classes : int
        Number of classes C.
    imbalance_ratio : float
        Head count over tail count (IR >= 1).
    profile : {"exponential", "step"}, default="exponential"
        "exponential": ``n_i = floor(n_max * IR ** (-i / (C - 1)))`` (Cao et al.
        2019, appendix A.3 of the Unlocker paper). "step": the first
        ``C - C // 2`` classes have ``n_max`` samples, the last ``C // 2`` have
        ``floor(n_max / IR)``.

    Returns
    -------
    counts : ndarray of shape (n_classes,)
        Integer counts, non-increasing.

    Raises
    ------
    ValueError
        If some class would get no sample (``n_max / IR < 1``).

    Examples
    --------
    >>> long_tailed_counts(100, 3, 100).tolist()
    [100, 10, 1]
    >>> long_tailed_counts(100, 4, 10, profile="step").tolist()
    [100, 100, 10, 10]
    """
    if n_classes == 1:
        return np.array([n_max], dtype=np.int64)
    if profile == "exponential":
        exponents = -np.arange(n_classes) / (n_classes - 1)
        # the small epsilon keeps floor(50.0) from becoming 49 through rounding
        raw = n_max * np.power(float(imbalance_ratio), exponents)
    else:
        n_minor = n_classes // 2
        raw = np.r_[np.full(n_classes - n_minor, float(n_max)),
                    np.full(n_minor, n_max / imbalance_ratio)]
    counts = np.floor(raw + 1e-9).astype(np.int64)
    if counts.min() < 1:
        raise ValueError(
            f"imbalance_ratio={imbalance_ratio} is too large for n_max={n_max}: the tail class "
            f"would have {n_max / imbalance_ratio:.2f} < 1 samples"
        )
    return counts


@validate_params(
    {
        "X": ["array-like", None],
        "y": ["array-like"],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions({"exponential", "step"})],
        "class_order": [StrOptions({"sorted", "random"}), "array-like"],
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "return_indices": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_long_tailed(X, y, *, imbalance_ratio, profile="exponential", class_order="sorted",
                     n_max=None, return_indices=False, random_state=None):
    """Subsample a dataset into a long-tailed one.

    Class ``class_order[i]`` keeps ``long_tailed_counts(n_max, C, IR)[i]``
    samples, drawn at random without replacement. The kept samples stay in
    their original relative order.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...) or None
        Samples (any number of dimensions); ``None`` to subsample ``y`` alone.
    y : array-like of shape (n_samples,)
        Labels (any hashable values).
    imbalance_ratio : float
        Head count over tail count, >= 1.
    profile : {"exponential", "step"}, default="exponential"
        See :func:`long_tailed_counts`.
    class_order : {"sorted", "random"} or array-like, default="sorted"
        Which class becomes the head, the second class, ..., the tail:
        the sorted labels, a random permutation, or an explicit list of all labels.
    n_max : int, default=None
        Samples of the head class; defaults to the smallest class size, so that
        every class can be filled.
    return_indices : bool, default=False
        Also return the indices of the kept samples.
    random_state : int, RandomState instance or None, default=None
        Controls the class order ("random") and which samples are kept.

    Returns
    -------
    X_lt : ndarray of shape (n_kept, ...), DataFrame or None
        Kept samples (a DataFrame stays one, with its index and columns).
    y_lt : ndarray of shape (n_kept,)
        Their labels.
    indices : ndarray of shape (n_kept,)
        Positions of the kept samples in ``X``; only with ``return_indices=True``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1, 2], 100)
    >>> _, y_lt = make_long_tailed(None, y, imbalance_ratio=10, random_state=0)
    >>> np.bincount(y_lt).tolist()
    [100, 31, 10]
    """
    rng = check_random_state(random_state)
    X, y = _checked_pair(X, y)
    classes, available = np.unique(y, return_counts=True)
    order = _head_to_tail(class_order, classes, rng)
    if n_max is None:
        n_max = int(available.min())
    counts = long_tailed_counts(n_max, len(classes), imbalance_ratio, profile=profile)
    indices = _kept_indices(y, order, counts, rng)
    X_lt = None if X is None else X.iloc[indices] if hasattr(X, "iloc") else X[indices]
    if return_indices:
        return X_lt, y[indices], indices
    return X_lt, y[indices]


def _checked_pair(X, y):
    """y as a 1-D array, X (if any) as an array of as many rows; a DataFrame stays one."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if X is not None:
        if not hasattr(X, "iloc"):  # a DataFrame stays one (its rows taken by position)
            X = np.asarray(X)
        if len(X) != len(y):
            raise ValueError(f"X and y differ in length: {len(X)} != {len(y)}")
    return X, y


def _head_to_tail(class_order, classes, rng):
    """The classes from head to tail: sorted, a random permutation, or as listed."""
    if isinstance(class_order, str):
        return classes if class_order == "sorted" else classes[rng.permutation(len(classes))]
    order = np.asarray(class_order)
    if len(order) != len(classes) or set(order.tolist()) != set(classes.tolist()):
        raise ValueError(
            f"class_order must list each of the {len(classes)} classes once, got {order!r}"
        )
    return order


def _kept_indices(y, order, counts, rng):
    """Sorted positions of ``counts[i]`` samples of class ``order[i]``, drawn at random."""
    classes, available = np.unique(y, return_counts=True)
    size = dict(zip(classes.tolist(), available.tolist(), strict=True))
    kept = []
    for label, count in zip(order.tolist(), counts.tolist(), strict=True):
        if count > size[label]:
            raise ValueError(
                f"class {label!r} has {size[label]} samples, fewer than the {count} the profile "
                f"asks for; lower n_max (at most {int(available.min())} fills every class)"
            )
        members = np.flatnonzero(y == label)
        kept.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(kept))
