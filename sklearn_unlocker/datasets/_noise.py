"""Label-noise generators: the noise kinds of the long-tailed noisy-label literature.

A transition matrix ``T`` has one row per true class and one column per observed
class; ``T[i, j]`` is the probability that a sample of true class ``i`` is given
label ``j``, so every row sums to 1 and ``counts @ T`` are the expected observed
counts. cleanlab's ``noise_matrix`` is the transpose: ``noise_matrix[j, i] = P(given j |
true i)``, one column per true class; pass ``T.T`` where cleanlab asks for one.
"""

from numbers import Integral, Real

import numpy as np
from scipy.stats import truncnorm
from sklearn.utils import check_random_state

from .._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["CIFAR10_PAIRS", "NOISE_KINDS", "make_noisy_labels", "noise_transition_matrix"]

NOISE_KINDS = ("sym", "pair", "joint", "t2h", "idn", "matrix")

#: CIFAR-10's classic asymmetric map (Patrini et al. 2017), on the class indices:
#: truck -> automobile, bird -> airplane, deer -> horse, cat <-> dog.
CIFAR10_PAIRS = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}

#: Standard deviation of the per-sample flip rate of "idn" noise (Xia et al. 2020).
IDN_RATE_STD = 0.1

_RATE = [Interval(Real, 0, 1, closed="left"), None]
_CLASS_MAP = [StrOptions({"random", "next", "cifar10"}), dict]


@validate_params(
    {
        "kind": [StrOptions({"sym", "pair", "joint", "t2h", "matrix"})],
        "rate": _RATE,
        "n_classes": [Interval(Integral, 2, None, closed="left"), None],
        "class_counts": ["array-like", None],
        "class_map": _CLASS_MAP,
        "transition_matrix": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def noise_transition_matrix(kind, rate=None, *, n_classes=None, class_counts=None,
                            class_map="random", transition_matrix=None, random_state=None):
    """The transition matrix of a class-conditional noise kind.

    Parameters
    ----------
    kind : {"sym", "pair", "joint", "t2h", "matrix"}
        - "sym": ``T[i, i] = 1 - rate``, ``T[i, j] = rate / (C - 1)``.
        - "pair": each class in ``class_map`` flips to its image with probability ``rate``.
        - "joint": ``T[i, j] = rate * N_j / (N - N_i)`` (class-count aware; appendix A.3).
        - "t2h": tail-to-head. Classes sorted by true count; the smaller half
          (``C // 2`` classes) is the tail. A tail sample flips with probability
          ``rate`` to a head class drawn in proportion to the head counts; head
          labels stay.
        - "matrix": ``transition_matrix`` itself, validated.
    rate : float in [0, 1)
        Noise rate eta. Unused for "matrix".
    n_classes : int, default=None
        Number of classes; defaults to ``len(class_counts)``.
    class_counts : array-like of shape (n_classes,), default=None
        True class counts, required for "joint" and "t2h".
    class_map : {"random", "next", "cifar10"} or dict, default="random"
        For "pair": which class each class flips to, on class indices
        ``0 .. C-1``. "random" draws a random cyclic permutation (no class maps
        to itself), "next" maps ``i -> (i + 1) % C``, "cifar10" is
        :data:`CIFAR10_PAIRS`. A dict ``{source: target}`` lists only the classes
        that flip.
    transition_matrix : array-like of shape (n_classes, n_classes), default=None
        For "matrix": any row-stochastic matrix.
    random_state : int, RandomState instance or None, default=None
        Only used by ``class_map="random"``.

    Returns
    -------
    T : ndarray of shape (n_classes, n_classes)
        Row = true class, column = observed class; rows sum to 1.

    Examples
    --------
    >>> noise_transition_matrix("sym", 0.3, n_classes=3).round(2).tolist()
    [[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7]]
    >>> noise_transition_matrix("t2h", 0.5, class_counts=[60, 20, 10]).round(2).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.38, 0.12, 0.5]]
    """
    if kind == "matrix":
        if transition_matrix is None:
            raise ValueError('kind="matrix" needs transition_matrix')
        return _check_transition_matrix(transition_matrix, n_classes)
    if rate is None:
        raise ValueError(f'kind="{kind}" needs a noise rate in [0, 1)')
    counts, n_classes = _checked_counts(class_counts, n_classes)
    if kind in ("joint", "t2h") and counts is None:
        raise ValueError(f'kind="{kind}" needs the true class_counts')
    if kind == "pair":
        return _pair(rate, n_classes, _resolve_class_map(class_map, n_classes, random_state))
    build = {"sym": _symmetric, "joint": _joint, "t2h": _tail_to_head}[kind]
    return build(rate, n_classes, counts)


def _checked_counts(class_counts, n_classes):
    """The class counts as floats (or None) and the number of classes, at least 2."""
    counts = None
    if class_counts is not None:
        counts = np.asarray(class_counts, dtype=np.float64)
        if counts.ndim != 1 or np.any(counts < 0) or not np.all(np.isfinite(counts)):
            raise ValueError("class_counts must be a 1-D array of non-negative counts")
        if n_classes is not None and len(counts) != n_classes:
            raise ValueError(f"class_counts has {len(counts)} entries, n_classes is {n_classes}")
        n_classes = len(counts)
    if n_classes is None:
        raise ValueError("give n_classes or class_counts")
    if n_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {n_classes}")
    return counts, n_classes


def _pair(rate, C, pairs):
    T = np.eye(C)
    for source, target in pairs.items():
        T[source, source] = 1 - rate
        T[source, target] = rate
    return T


def _symmetric(rate, C, counts):
    T = np.full((C, C), rate / (C - 1))
    np.fill_diagonal(T, 1 - rate)
    return T


def _joint(rate, C, counts):
    total = counts.sum()
    if np.count_nonzero(counts) < 2:
        raise ValueError('kind="joint" needs at least two non-empty classes')
    T = rate * counts[None, :] / (total - counts[:, None])
    np.fill_diagonal(T, 1 - rate)
    return T


def _tail_to_head(rate, C, counts):
    head, tail = head_tail_split(counts)
    T = np.eye(C)
    head_share = counts[head] / counts[head].sum()
    for t in tail:
        T[t, t] = 1 - rate
        T[t, head] = rate * head_share
    return T


def head_tail_split(class_counts):
    """Split class indices into head (larger half) and tail (smaller ``C // 2``).

    Ties are broken by class index (lower index counts as larger), so the split
    is deterministic.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        True class counts.

    Returns
    -------
    head, tail : ndarray of int
        Class indices, head sorted from the largest, tail from the largest of
        the tail down.

    Examples
    --------
    >>> [part.tolist() for part in head_tail_split([5, 50, 20, 10])]
    [[1, 2], [3, 0]]
    """
    counts = np.asarray(class_counts)
    order = np.argsort(-counts, kind="stable")
    n_tail = len(counts) // 2
    return order[: len(counts) - n_tail], order[len(counts) - n_tail :]


@validate_params(
    {
        "y": ["array-like"],
        "kind": [StrOptions(set(NOISE_KINDS))],
        "rate": _RATE,
        "X": ["array-like", None],
        "classes": ["array-like", None],
        "class_map": _CLASS_MAP,
        "transition_matrix": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_noisy_labels(y, *, kind="sym", rate=None, X=None, classes=None, class_map="random",
                      transition_matrix=None, random_state=None):
    """Corrupt labels with one of the noise kinds of the long-tailed noisy-label literature.

    Each sample's observed label is drawn from the row of its true class in the
    transition matrix (for "idn", from its own row), so the realised rate equals
    ``rate`` in expectation where the kind applies it: overall for "sym",
    "joint" and "idn", within the mapped classes for "pair", within the tail
    for "t2h".

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels (any hashable values).
    kind : {"sym", "pair", "joint", "t2h", "idn", "matrix"}, default="sym"
        See :func:`noise_transition_matrix`. "idn" is instance-dependent noise
        (Xia et al. 2020, "Part-dependent label noise"): each sample's flip rate
        ``q ~ N(rate, 0.1^2)`` truncated to [0, 1]; ``W ~ N(0, 1)`` of shape
        ``C x d x C``; the sample flips with probability ``q`` to a class drawn
        from ``softmax(x @ W[y])`` with the true class masked out.
    rate : float in [0, 1), default=None
        Noise rate eta; required except for "matrix".
    X : array-like of shape (n_samples, ...), default=None
        Features, required for "idn" (flattened to ``d`` columns).
    classes : array-like of shape (n_classes,), default=None
        The classes (rows/columns of the matrix, in this order); defaults to the
        sorted unique labels of ``y``. Give it when a class may be absent from ``y``.
    class_map : {"random", "next", "cifar10"} or dict, default="random"
        For "pair"; a dict maps label values (not indices) to label values.
    transition_matrix : array-like of shape (n_classes, n_classes), default=None
        For "matrix".
    random_state : int, RandomState instance or None, default=None
        Controls every draw.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
        Observed labels, same values and dtype as ``y``.
    T : ndarray of shape (n_classes, n_classes)
        The transition matrix (row = true class). For "idn" it is the empirical
        one: row ``i`` holds the observed-label frequencies of the samples of true
        class ``i`` (the identity row for a class with no sample).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat(["cat", "dog"], 1000)
    >>> y_noisy, T = make_noisy_labels(y, kind="sym", rate=0.2, random_state=0)
    >>> float(np.mean(y_noisy != y))  # 0.2 in expectation
    0.208
    >>> T.tolist()
    [[0.8, 0.2], [0.2, 0.8]]
    """
    rng = check_random_state(random_state)
    y, classes, codes = _encoded(y, classes)
    if kind != "matrix" and rate is None:
        raise ValueError(f'kind="{kind}" needs a noise rate in [0, 1)')
    noisy_codes, T = (_instance_noise(X, codes, len(classes), rate, rng) if kind == "idn" else
                      _class_noise(kind, rate, codes, classes, class_map, transition_matrix, rng))
    return classes[noisy_codes].astype(y.dtype, copy=False), T


def _encoded(y, classes):
    """y as a 1-D array, the classes (at least 2) and y's positions among them."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    classes = np.unique(y) if classes is None else np.asarray(classes)
    index = {label: i for i, label in enumerate(classes.tolist())}
    unknown = set(np.unique(y).tolist()) - set(index)
    if unknown:
        raise ValueError(f"y contains labels not in classes: {sorted(unknown, key=str)}")
    codes = np.fromiter((index[v] for v in y.tolist()), dtype=np.int64, count=len(y))
    if len(classes) < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {len(classes)}")
    return y, classes, codes


def _instance_noise(X, codes, C, rate, rng):
    """Instance-dependent noise: noisy codes and their empirical transition matrix."""
    if X is None:
        raise ValueError('kind="idn" (instance-dependent) needs the features X')
    rows = _idn_flip_distributions(np.asarray(X), codes, C, rate, rng)
    noisy_codes = _sample_rows(rows, rng)
    return noisy_codes, _empirical_transition_matrix(codes, noisy_codes, C)


def _class_noise(kind, rate, codes, classes, class_map, transition_matrix, rng):
    """Class-conditional noise: noisy codes drawn from the rows of the transition matrix."""
    C = len(classes)
    if isinstance(class_map, dict):
        index = {label: i for i, label in enumerate(classes.tolist())}
        unknown = set(class_map) | set(class_map.values())
        unknown -= set(index)
        if unknown:
            names = sorted(unknown, key=str)
            raise ValueError(f"class_map names labels not in classes: {names}")
        class_map = {index[s]: index[t] for s, t in class_map.items()}
    T = noise_transition_matrix(
        kind,
        rate,
        n_classes=C,
        class_counts=np.bincount(codes, minlength=C) if kind in ("joint", "t2h") else None,
        class_map=class_map,
        transition_matrix=transition_matrix,
        random_state=rng,
    )
    return _sample_rows(T[codes], rng), T


def _resolve_class_map(class_map, n_classes, random_state):
    if class_map == "next":
        return {i: (i + 1) % n_classes for i in range(n_classes)}
    if class_map == "random":
        cycle = check_random_state(random_state).permutation(n_classes)
        return {int(cycle[k]): int(cycle[(k + 1) % n_classes]) for k in range(n_classes)}
    if class_map == "cifar10":
        if n_classes != 10:
            raise ValueError(f'class_map="cifar10" needs 10 classes, got {n_classes}')
        return dict(CIFAR10_PAIRS)
    resolved = {}
    for source, target in class_map.items():
        if not (0 <= source < n_classes and 0 <= target < n_classes):
            raise ValueError(f"class_map entry {source} -> {target} is outside 0..{n_classes - 1}")
        if source == target:
            raise ValueError(f"class_map maps class {source} to itself")
        resolved[int(source)] = int(target)
    return resolved


def _check_transition_matrix(T, n_classes):
    T = np.asarray(T, dtype=np.float64)
    if T.ndim != 2 or T.shape[0] != T.shape[1]:
        raise ValueError(f"transition_matrix must be square, got shape {T.shape}")
    if n_classes is not None and T.shape[0] != n_classes:
        raise ValueError(f"transition_matrix is {T.shape[0]}x{T.shape[0]}, expected {n_classes}")
    if not np.all(np.isfinite(T)) or np.any(T < 0):
        raise ValueError("transition_matrix must be finite and non-negative")
    if not np.allclose(T.sum(axis=1), 1.0, atol=1e-8):
        raise ValueError("every row of transition_matrix must sum to 1 (row = true class)")
    return T / T.sum(axis=1, keepdims=True)


def _sample_rows(probabilities, rng):
    """Draw one column index per row of a row-stochastic matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random_sample(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(axis=1), probabilities.shape[1] - 1)


def _idn_flip_distributions(X, codes, n_classes, rate, rng):
    X = X.reshape(len(X), -1).astype(np.float64)
    if len(X) != len(codes):
        raise ValueError(f"X and y differ in length: {len(X)} != {len(codes)}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf")
    if rate == 0:
        flip_rate = np.zeros(len(X))
    else:
        low, high = (0 - rate) / IDN_RATE_STD, (1 - rate) / IDN_RATE_STD
        flip_rate = truncnorm.rvs(low, high, loc=rate, scale=IDN_RATE_STD, size=len(X),
                                  random_state=rng)
    W = rng.standard_normal((n_classes, X.shape[1], n_classes))
    rows = np.empty((len(X), n_classes))
    for c in range(n_classes):
        members = codes == c
        scores = X[members] @ W[c]
        scores[:, c] = -np.inf
        scores -= scores.max(axis=1, keepdims=True)
        weights = np.exp(scores)
        rows[members] = weights / weights.sum(axis=1, keepdims=True)
    rows *= flip_rate[:, None]
    rows[np.arange(len(X)), codes] = 1 - flip_rate
    return rows


def _empirical_transition_matrix(codes, noisy_codes, n_classes):
    T = np.zeros((n_classes, n_classes))
    np.add.at(T, (codes, noisy_codes), 1.0)
    totals = T.sum(axis=1, keepdims=True)
    empty = totals[:, 0] == 0
    T[empty] = np.eye(n_classes)[empty]
    totals[empty] = 1.0
    return T / totals
