"""Metrics of long-tailed, label-noisy learning.

Everything the papers report: balanced accuracy (scikit-learn's), accuracy by
many / medium / few-shot class group, how well a clean-sample selection matches
the true clean mask, how far an estimated class prior is from the true one, and
the imbalance facts of a label vector (imbalance ratio, head-to-tail ratio in
true-count order, and the scenario of appendix A.4).
"""

from numbers import Real

import numpy as np
from scipy.special import rel_entr
from sklearn.metrics import balanced_accuracy_score, precision_score, recall_score

from ._sklearn_compat import Interval, validate_params

__all__ = [
    "balanced_accuracy_score",
    "class_counts",
    "head_to_tail_ratio",
    "imbalance_ratio",
    "prior_kl_divergence",
    "scenario",
    "selection_precision_recall",
    "shot_accuracy",
]


@validate_params(
    {"y": ["array-like"], "classes": ["array-like", None], "sample_weight": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def class_counts(y, *, classes=None, sample_weight=None):
    """Count the samples of each class.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels.
    classes : array-like of shape (n_classes,), default=None
        The classes to count, in this order. Classes absent from ``y`` get 0.
        Defaults to the sorted unique labels of ``y``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights; the count of a class is the sum of its samples' weights.

    Returns
    -------
    counts : ndarray of shape (n_classes,)
        ``float64`` when weighted, ``int64`` otherwise.

    Examples
    --------
    >>> class_counts(["b", "a", "b"]).tolist()
    [1, 2]
    >>> class_counts([0, 0, 2], classes=[0, 1, 2]).tolist()
    [2, 0, 1]
    """
    y = np.asarray(y)
    classes = np.unique(y) if classes is None else np.asarray(classes)
    index = {label: i for i, label in enumerate(classes.tolist())}
    unknown = set(np.unique(y).tolist()) - set(index)
    if unknown:
        raise ValueError(f"y contains labels not in classes: {sorted(unknown, key=str)}")
    codes = np.fromiter((index[v] for v in y.tolist()), dtype=np.int64, count=len(y))
    if sample_weight is None:
        return np.bincount(codes, minlength=len(classes)).astype(np.int64)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != y.shape:
        raise ValueError(f"sample_weight has shape {weights.shape}, expected {y.shape}")
    return np.bincount(codes, weights=weights, minlength=len(classes))


@validate_params({"counts": ["array-like"]}, prefer_skip_nested_validation=True)
def imbalance_ratio(counts):
    """Imbalance ratio: the largest class count (or frequency) over the smallest.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Per-class counts or a prior (any positive scale).

    Returns
    -------
    ratio : float
        ``max / min``; ``inf`` when some class has count 0.

    Examples
    --------
    >>> imbalance_ratio([500, 50, 5])
    100.0
    """
    counts = _as_nonnegative_vector(counts, "counts")
    smallest = counts.min()
    return float("inf") if smallest == 0 else float(counts.max() / smallest)


@validate_params(
    {"observed_counts": ["array-like"], "true_counts": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def head_to_tail_ratio(observed_counts, true_counts):
    """Observed count of the truly largest class over that of the truly smallest.

    Unlike :func:`imbalance_ratio` of the observed counts, which takes max and
    min wherever they fall, this ratio keeps the true order of the classes, so
    a value below 1 reveals a reversed long tail (the true tail looks like the
    head after noise).

    Parameters
    ----------
    observed_counts : array-like of shape (n_classes,)
        Class counts of the observed (noisy) labels.
    true_counts : array-like of shape (n_classes,)
        Class counts of the true labels, same class order.

    Returns
    -------
    ratio : float
        ``inf`` when the true tail class has no observed sample.

    Examples
    --------
    >>> head_to_tail_ratio([20, 40], true_counts=[100, 10])
    0.5
    """
    observed = _as_nonnegative_vector(observed_counts, "observed_counts")
    true = _as_nonnegative_vector(true_counts, "true_counts")
    if observed.shape != true.shape:
        raise ValueError(
            f"observed_counts and true_counts differ in length: {len(observed)} != {len(true)}"
        )
    order = np.argsort(-true, kind="stable")
    head, tail = observed[order[0]], observed[order[-1]]
    return float("inf") if tail == 0 else float(head / tail)


@validate_params(
    {
        "true_imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "observed_imbalance_ratio": [Interval(Real, 0, None, closed="neither")],
        "tolerance": [Interval(Real, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def scenario(true_imbalance_ratio, observed_imbalance_ratio, *, tolerance=1.25):
    """Name the scenario of appendix A.4 from the true and observed imbalance ratios.

    Parameters
    ----------
    true_imbalance_ratio : float
        Imbalance ratio of the true labels.
    observed_imbalance_ratio : float
        Imbalance ratio of the observed (noisy) labels.
    tolerance : float, default=1.25
        Factor within which the two count as the same. Appendix A.4 names the three
        scenarios but gives no threshold; 1.25 is ours.

    Returns
    -------
    name : {"relieve", "consistent", "aggravate"}
        "relieve" when the noise hides the imbalance (observed < true / tolerance),
        "aggravate" when it deepens it (observed > true * tolerance).

    Examples
    --------
    >>> scenario(100, 8.0)
    'relieve'
    >>> scenario(10, 11.0)
    'consistent'
    """
    if observed_imbalance_ratio < true_imbalance_ratio / tolerance:
        return "relieve"
    if observed_imbalance_ratio > true_imbalance_ratio * tolerance:
        return "aggravate"
    return "consistent"


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "train_class_counts": ["array-like"],
        "labels": ["array-like", None],
        "many_threshold": [Interval(Real, 0, None, closed="left")],
        "few_threshold": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def shot_accuracy(y_true, y_pred, train_class_counts, *, labels=None, many_threshold=100,
                  few_threshold=20):
    """Accuracy on many-, medium- and few-shot classes.

    Classes are grouped by their number of training samples: many-shot above
    ``many_threshold``, few-shot below ``few_threshold``, medium-shot in between
    (both bounds included). The accuracy of a group is the mean of its classes'
    recalls on ``y_true``, so it does not depend on how many test samples each
    class has (on a balanced test set both definitions agree).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True test labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    train_class_counts : array-like of shape (n_classes,)
        Training samples per class (in benchmarks: the true training counts),
        in the order of ``labels``.
    labels : array-like of shape (n_classes,), default=None
        The classes of ``train_class_counts``; defaults to the sorted unique
        labels of ``y_true``.
    many_threshold : float, default=100
        A class with more training samples than this is many-shot.
    few_threshold : float, default=20
        A class with fewer training samples than this is few-shot.

    Returns
    -------
    scores : dict
        ``{"many": float, "medium": float, "few": float}``; ``nan`` for an empty
        group or a group none of whose classes appear in ``y_true``.

    Examples
    --------
    >>> shot_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 1, 0, 0, 0], [500, 50, 5])
    {'many': 1.0, 'medium': 0.5, 'few': 0.0}
    """
    if few_threshold > many_threshold:
        raise ValueError(f"few_threshold ({few_threshold}) must not exceed many_threshold "
                         f"({many_threshold})")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} != {y_pred.shape}")
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    counts = _as_nonnegative_vector(train_class_counts, "train_class_counts")
    if len(counts) != len(labels):
        raise ValueError(f"train_class_counts has {len(counts)} entries but there are "
                         f"{len(labels)} labels")
    recalls = _class_recalls(y_true, y_pred, labels)
    groups = {
        "many": counts > many_threshold,
        "medium": (counts >= few_threshold) & (counts <= many_threshold),
        "few": counts < few_threshold,
    }
    scores = {}
    for name, members in groups.items():
        values = recalls[members & ~np.isnan(recalls)]
        scores[name] = float(values.mean()) if len(values) else float("nan")
    return scores


def _class_recalls(y_true, y_pred, labels):
    """Each label's recall on ``y_true``; ``nan`` for a label absent from it."""
    recalls = np.full(len(labels), np.nan)
    for i, label in enumerate(labels):
        in_class = y_true == label
        if in_class.any():
            recalls[i] = np.mean(y_pred[in_class] == label)
    return recalls


@validate_params(
    {"clean_mask": ["array-like"], "selected_mask": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def selection_precision_recall(clean_mask, selected_mask):
    """Precision and recall of a clean-sample selection.

    Parameters
    ----------
    clean_mask : array-like of bool, shape (n_samples,)
        True where the given label is correct.
    selected_mask : array-like of bool, shape (n_samples,)
        True where the method judged the given label clean.

    Returns
    -------
    precision : float
        Share of selected samples that are clean (``nan`` if none is selected).
    recall : float
        Share of clean samples that were selected (``nan`` if none is clean).

    Examples
    --------
    >>> selection_precision_recall([True, True, False, False], [True, False, True, False])
    (0.5, 0.5)
    """
    clean = _as_bool_vector(clean_mask, "clean_mask")
    selected = _as_bool_vector(selected_mask, "selected_mask")
    if clean.shape != selected.shape:
        raise ValueError(
            f"clean_mask and selected_mask differ in shape: {clean.shape} != {selected.shape}"
        )
    # selection as a classifier of "clean": nan where its denominator is empty
    return (float(precision_score(clean, selected, zero_division=np.nan)),
            float(recall_score(clean, selected, zero_division=np.nan)))


@validate_params(
    {"true_prior": ["array-like"], "estimated_prior": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def prior_kl_divergence(true_prior, estimated_prior):
    """KL divergence KL(true || estimated) between two class priors.

    Both are normalised to sum to 1 first, so class counts work as well.

    Parameters
    ----------
    true_prior : array-like of shape (n_classes,)
        The true class frequencies (or counts).
    estimated_prior : array-like of shape (n_classes,)
        The estimate (or counts), same class order.

    Returns
    -------
    kl : float
        In nats; ``inf`` when the estimate gives 0 to a class the truth does not.

    Examples
    --------
    >>> round(prior_kl_divergence([0.5, 0.5], [0.9, 0.1]), 4)
    0.5108
    """
    p = _as_nonnegative_vector(true_prior, "true_prior")
    q = _as_nonnegative_vector(estimated_prior, "estimated_prior")
    if p.shape != q.shape:
        raise ValueError(f"the priors differ in length: {len(p)} != {len(q)}")
    if p.sum() == 0 or q.sum() == 0:
        raise ValueError("a prior must have a positive sum")
    # rel_entr: 0 where p is 0, inf where only q is
    return float(np.sum(rel_entr(p / p.sum(), q / q.sum())))


def _as_nonnegative_vector(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    return values


def _as_bool_vector(values, name):
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    if values.dtype != bool:
        if not np.isin(values, [0, 1]).all():
            raise ValueError(f"{name} must be boolean (or 0/1)")
        values = values.astype(bool)
    return values
