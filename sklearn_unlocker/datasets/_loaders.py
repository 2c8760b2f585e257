"""Benchmark loaders: clean data -> balanced clean test split + long-tailed noisy training set.

Each loader returns a :class:`sklearn.utils.Bunch` built by
:func:`make_long_tailed_noisy`: the noisy training set, its true labels, a
balanced clean test split, and the facts a reader of a results table needs (true
and observed priors and imbalance ratios, and the scenario named after appendix A.4,
by :func:`~sklearn_unlocker.metrics.scenario`'s own threshold).
"""

import contextlib
import os
import random
from numbers import Integral, Real

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.utils import Bunch, check_random_state

from .._sklearn_compat import Interval, StrOptions, validate_params

# the loaders' parameter `imbalance_ratio` shadows the metric of the same name
from ..metrics import class_counts, head_to_tail_ratio, scenario
from ..metrics import imbalance_ratio as _imbalance_ratio
from ._long_tail import make_long_tailed
from ._noise import NOISE_KINDS, make_noisy_labels

__all__ = [
    "balanced_split",
    "load_noisy_cifar",
    "load_noisy_digits",
    "load_noisy_mnist1d",
    "make_long_tailed_noisy",
    "make_noisy_tabular",
]

_SEED_MAX = 2**31 - 1

# the options every benchmark loader shares, validated once here
_COMMON_CONSTRAINTS = {
    "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
    "noise": [StrOptions(set(NOISE_KINDS))],
    "noise_rate": [Interval(Real, 0, 1, closed="left"), None],
    "profile": [StrOptions({"exponential", "step"})],
    "class_map": [StrOptions({"random", "next", "cifar10"}), dict],
    "transition_matrix": ["array-like", None],
    "random_state": ["random_state"],
}


@validate_params(
    {
        "X_train": ["array-like"],
        "y_train": ["array-like"],
        "X_test": ["array-like"],
        "y_test": ["array-like"],
        **_COMMON_CONSTRAINTS,
        "class_order": [StrOptions({"sorted", "random"}), "array-like"],
        "name": [str],
    },
    prefer_skip_nested_validation=True,
)
def make_long_tailed_noisy(X_train, y_train, X_test, y_test, *, imbalance_ratio=50, noise="sym",
                           noise_rate=0.4, profile="exponential", class_order="sorted",
                           class_map="random", transition_matrix=None, random_state=None,
                           name="custom"):
    """Turn a clean train/test pair into a long-tailed noisy benchmark.

    The training set is subsampled to a long tail first (imbalance first, noise
    after, as the papers do; see the :ref:`user guide <problem>`), then its
    labels are corrupted. The test set is left as given (pass a balanced one,
    e.g. from :func:`balanced_split`).

    Parameters
    ----------
    X_train, y_train : array-like
        Clean training pool (``X_train`` may be N-D).
    X_test, y_test : array-like
        Clean test split.
    imbalance_ratio : float, default=50
        True imbalance ratio of the training set.
    noise : {"sym", "pair", "joint", "t2h", "idn", "matrix"}, default="sym"
        Noise kind, see :func:`make_noisy_labels`.
    noise_rate : float in [0, 1), default=0.4
        Noise rate eta.
    profile : {"exponential", "step"}, default="exponential"
        Long-tail profile.
    class_order : {"sorted", "random"} or array-like, default="sorted"
        Head-to-tail class order.
    class_map : {"random", "next", "cifar10"} or dict, default="random"
        For ``noise="pair"``.
    transition_matrix : array-like, default=None
        For ``noise="matrix"``.
    random_state : int, RandomState instance or None, default=None
        Controls the subsampling and the noise.
    name : str, default="custom"
        Dataset name for the summary.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train``, ``y_train`` (noisy), ``y_train_true``, ``noise_mask``
        (True where the label was corrupted), ``X_test``, ``y_test``,
        ``classes``, ``true_counts``, ``observed_counts``, ``true_prior``,
        ``observed_prior``, ``true_imbalance_ratio``,
        ``observed_imbalance_ratio``, ``head_to_tail_ratio`` (observed, in true
        order), ``scenario``, ``transition_matrix``, ``realised_noise_rate``,
        ``noise``, ``noise_rate``, ``name`` and ``DESCR`` (a printable summary).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(600, 4)), np.repeat([0, 1, 2], 200)
    >>> X_pool, y_pool, X_test, y_test = balanced_split(X, y, n_test_per_class=20,
    ...                                                 random_state=0)
    >>> data = make_long_tailed_noisy(X_pool, y_pool, X_test, y_test, imbalance_ratio=10,
    ...                               noise="sym", noise_rate=0.2, random_state=0)
    >>> data.true_counts.tolist(), data.true_imbalance_ratio, data.X_test.shape
    ([180, 56, 18], 10.0, (60, 4))
    >>> bool(np.all((data.y_train != data.y_train_true) == data.noise_mask))
    True
    """
    rng = check_random_state(random_state)
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    X_lt, y_true = make_long_tailed(
        X_train, y_train, imbalance_ratio=imbalance_ratio, profile=profile,
        class_order=class_order, random_state=rng.randint(_SEED_MAX),
    )
    classes = np.unique(y_train)
    y_noisy, T = make_noisy_labels(
        y_true, kind=noise, rate=noise_rate, X=X_lt if noise == "idn" else None,
        classes=classes, class_map=class_map, transition_matrix=transition_matrix,
        random_state=rng.randint(_SEED_MAX),
    )
    data = _benchmark(name, X_lt, y_noisy, y_true, X_test, y_test, classes, T)
    data.update(noise=noise, noise_rate=noise_rate)
    data.DESCR = describe(data)
    return data


def _benchmark(name, X_train, y_noisy, y_true, X_test, y_test, classes, T):
    """The benchmark's Bunch: the splits, and what the tail and the noise did to the counts."""
    true_counts = class_counts(y_true, classes=classes)
    observed_counts = class_counts(y_noisy, classes=classes)
    true_ir, observed_ir = _imbalance_ratio(true_counts), _imbalance_ratio(observed_counts)
    return Bunch(
        name=name,
        X_train=X_train,
        y_train=y_noisy,
        y_train_true=y_true,
        noise_mask=y_noisy != y_true,
        X_test=np.asarray(X_test),
        y_test=np.asarray(y_test),
        classes=classes,
        true_counts=true_counts,
        observed_counts=observed_counts,
        true_prior=true_counts / true_counts.sum(),
        observed_prior=observed_counts / observed_counts.sum(),
        true_imbalance_ratio=true_ir,
        observed_imbalance_ratio=observed_ir,
        head_to_tail_ratio=head_to_tail_ratio(observed_counts, true_counts),
        scenario=scenario(true_ir, observed_ir) if np.isfinite(observed_ir) else "aggravate",
        transition_matrix=T,
        realised_noise_rate=float(np.mean(y_noisy != y_true)),
    )


def describe(data):
    """A printable summary of a benchmark built by :func:`make_long_tailed_noisy`.

    Parameters
    ----------
    data : Bunch
        As returned by the loaders.

    Returns
    -------
    text : str
        Scenario line, then one row per class with true and observed counts.

    Examples
    --------
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_classes=3, n_features=5,
    ...                           n_informative=3, n_test_per_class=10, imbalance_ratio=5,
    ...                           noise_rate=0.2, random_state=0)
    >>> print(describe(data).splitlines()[0])
    tabular: 65 training samples, 3 classes, 30 clean test samples
    >>> describe(data) == data.DESCR
    True
    """
    rate = "" if data.noise_rate is None else f" {data.noise_rate:.0%}"
    lines = [
        f"{data.name}: {len(data.y_train)} training samples, {len(data.classes)} classes, "
        f"{len(data.y_test)} clean test samples",
        f"noise {data.noise}{rate} (realised {data.realised_noise_rate:.1%} overall)",
        f"imbalance ratio: true {data.true_imbalance_ratio:.1f}, observed "
        f"{data.observed_imbalance_ratio:.1f}, observed head/tail in true order "
        f"{data.head_to_tail_ratio:.2f} -> scenario: {data.scenario}",
        "",
        f"{'class':>8} {'true':>7} {'observed':>9} {'true prior':>11} {'obs. prior':>11}",
    ]
    rows = zip(data.classes, data.true_counts, data.observed_counts, data.true_prior,
               data.observed_prior, strict=True)
    for label, n_true, n_obs, p_true, p_obs in rows:
        lines.append(f"{label!s:>8} {n_true:>7d} {n_obs:>9d} {p_true:>11.3f} {p_obs:>11.3f}")
    return "\n".join(lines)


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "n_test_per_class": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def balanced_split(X, y, *, n_test_per_class, random_state=None):
    """Split off a class-balanced test set.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Samples.
    y : array-like of shape (n_samples,)
        Labels.
    n_test_per_class : int
        Test samples drawn at random from each class.
    random_state : int, RandomState instance or None, default=None
        Controls the draw.

    Returns
    -------
    X_rest, y_rest, X_test, y_test : ndarray
        The remaining samples and the balanced test set, each in original order.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1], [10, 40])
    >>> _, y_rest, _, y_test = balanced_split(np.zeros((50, 2)), y, n_test_per_class=5,
    ...                                       random_state=0)
    >>> np.bincount(y_test).tolist(), np.bincount(y_rest).tolist()
    ([5, 5], [5, 35])
    """
    rng = check_random_state(random_state)
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y differ in length: {len(X)} != {len(y)}")
    test = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if len(members) <= n_test_per_class:
            raise ValueError(
                f"class {label!r} has {len(members)} samples: cannot hold out "
                f"{n_test_per_class} for testing and keep some for training"
            )
        test.append(rng.choice(members, size=n_test_per_class, replace=False))
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[np.concatenate(test)] = True
    return X[~test_mask], y[~test_mask], X[test_mask], y[test_mask]


@validate_params(
    {
        **_COMMON_CONSTRAINTS,
        "as_images": ["boolean"],
        "n_test_per_class": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def load_noisy_digits(
    *,
    imbalance_ratio=50,
    noise="sym",
    noise_rate=0.4,
    as_images=False,
    n_test_per_class=30,
    profile="exponential",
    class_map="random",
    transition_matrix=None,
    random_state=None,
):
    """Long-tailed noisy digits (scikit-learn's bundled 8x8 images, offline).

    Pixels are scaled to [0, 1]. A balanced clean test split of
    ``n_test_per_class`` images per digit is held out first; the remaining
    ~150 images per digit form the pool that is made long-tailed (head class:
    the smallest remaining class size) and noisy.

    Parameters
    ----------
    imbalance_ratio, noise, noise_rate, profile, class_map, transition_matrix
        See :func:`make_long_tailed_noisy`.
    as_images : bool, default=False
        Return X as ``(n, 1, 8, 8)`` float32 images instead of ``(n, 64)`` features.
    n_test_per_class : int, default=30
        Balanced clean test samples per class.
    random_state : int, RandomState instance or None, default=None
        Controls the split, the subsampling and the noise.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        See :func:`make_long_tailed_noisy`.

    Examples
    --------
    >>> data = load_noisy_digits(imbalance_ratio=10, noise="sym", noise_rate=0.2, random_state=0)
    >>> data.X_train.shape[1], data.scenario
    (64, 'relieve')
    """
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    if as_images:
        X = X.reshape(-1, 1, 8, 8)
    return _benchmark_from_pool(
        X, digits.target, "digits", n_test_per_class, random_state,
        imbalance_ratio=imbalance_ratio, noise=noise, noise_rate=noise_rate, profile=profile,
        class_map=class_map, transition_matrix=transition_matrix,
    )


@validate_params(
    {
        **_COMMON_CONSTRAINTS,
        "n_samples_per_class": [Interval(Integral, 2, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_informative": [Interval(Integral, 1, None, closed="left")],
        "class_sep": [Interval(Real, 0, None, closed="neither")],
        "n_test_per_class": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_noisy_tabular(*, n_samples_per_class=600, n_classes=10, n_features=20, n_informative=10,
                       class_sep=2.0, imbalance_ratio=50, noise="sym", noise_rate=0.4,
                       n_test_per_class=100, profile="exponential", class_map="random",
                       transition_matrix=None, random_state=None):
    """Long-tailed noisy synthetic tabular data (:func:`sklearn.datasets.make_classification`).

    The clean data is balanced and noise-free (``flip_y=0``); the features are
    standardised on the pool before splitting.

    Parameters
    ----------
    n_samples_per_class : int, default=600
        Clean samples generated per class (test split included).
    n_classes, n_features, n_informative, class_sep
        Passed to :func:`~sklearn.datasets.make_classification`
        (``n_redundant=0``, one cluster per class). The default ``class_sep=2.0``
        leaves an MLP trained on the clean labels near 0.87 balanced accuracy at
        IR 50, so label noise has room to hurt (at 1.0 the clean ceiling is 0.64).
    imbalance_ratio, noise, noise_rate, profile, class_map, transition_matrix
        See :func:`make_long_tailed_noisy`.
    n_test_per_class : int, default=100
        Balanced clean test samples per class.
    random_state : int, RandomState instance or None, default=None
        Controls the data, the split, the subsampling and the noise.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        See :func:`make_long_tailed_noisy`.

    Examples
    --------
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_classes=3, n_features=5,
    ...                           n_informative=3, n_test_per_class=10, imbalance_ratio=5,
    ...                           noise_rate=0.2, random_state=0)
    >>> data.X_train.shape, data.X_test.shape
    ((65, 5), (30, 5))
    >>> data.true_counts.tolist(), data.observed_counts.tolist(), data.scenario
    ([40, 17, 8], [35, 15, 15], 'relieve')
    """
    rng = check_random_state(random_state)
    X, y = make_classification(
        n_samples=n_samples_per_class * n_classes, n_features=n_features,
        n_informative=n_informative, n_redundant=0, n_classes=n_classes,
        n_clusters_per_class=1, weights=None, flip_y=0.0, class_sep=class_sep,
        random_state=rng.randint(_SEED_MAX),
    )
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    return _benchmark_from_pool(
        X, y, "tabular", n_test_per_class, rng,
        imbalance_ratio=imbalance_ratio, noise=noise, noise_rate=noise_rate, profile=profile,
        class_map=class_map, transition_matrix=transition_matrix,
    )


@validate_params(
    {
        **_COMMON_CONSTRAINTS,
        "n_samples": [Interval(Integral, 20, None, closed="left")],
        "as_images": ["boolean"],
        "n_test_per_class": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def load_noisy_mnist1d(*, n_samples=5000, as_images=False, imbalance_ratio=50, noise="sym",
                       noise_rate=0.4, n_test_per_class=100, profile="exponential",
                       class_map="random", transition_matrix=None, random_state=None):
    """Long-tailed noisy MNIST-1D (Greydanus 2020), regenerated offline.

    Uses the ``mnist1d`` package's generator (``pip install
    'sklearn-unlocker[mnist1d]'``), never its downloading loader. The
    generator seeds numpy's and Python's global random state; this function
    restores both afterwards.

    Parameters
    ----------
    n_samples : int, default=5000
        Signals generated (both of the generator's splits are pooled, then a
        balanced test split is held out).
    as_images : bool, default=False
        Return X as ``(n, 1, 40)`` float32 signals (for 1-D convolutions)
        instead of ``(n, 40)`` features.
    imbalance_ratio, noise, noise_rate, profile, class_map, transition_matrix
        See :func:`make_long_tailed_noisy`.
    n_test_per_class : int, default=100
        Balanced clean test samples per class.
    random_state : int, RandomState instance or None, default=None
        Seeds the generator, the split, the subsampling and the noise.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        See :func:`make_long_tailed_noisy`.

    Examples
    --------
    >>> data = load_noisy_mnist1d(n_samples=400, n_test_per_class=10, imbalance_ratio=5,
    ...                           noise_rate=0.2, random_state=0)
    >>> data.X_train.shape, data.X_test.shape
    ((149, 40), (100, 40))
    >>> data.true_counts[:3].tolist(), data.true_imbalance_ratio
    ([30, 25, 20], 5.0)
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_noisy_mnist1d needs the mnist1d package: pip install 'sklearn-unlocker[mnist1d]'"
        ) from error
    rng = check_random_state(random_state)
    args = get_dataset_args()
    args.num_samples = n_samples
    args.seed = int(rng.randint(_SEED_MAX))
    with _restored_global_random_state():
        generated = make_dataset(args)
    X = np.concatenate([generated["x"], generated["x_test"]]).astype(np.float32)
    y = np.concatenate([generated["y"], generated["y_test"]]).astype(np.int64)
    if as_images:
        X = X[:, None, :]
    return _benchmark_from_pool(
        X, y, "mnist1d", n_test_per_class, rng,
        imbalance_ratio=imbalance_ratio, noise=noise, noise_rate=noise_rate, profile=profile,
        class_map=class_map, transition_matrix=transition_matrix,
    )


@validate_params(
    {
        **_COMMON_CONSTRAINTS,
        "name": [StrOptions({"cifar10", "cifar100"})],
        "root": [str, os.PathLike],
        "download": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_noisy_cifar(name="cifar10", *, root="./data", download=False, imbalance_ratio=100,
                     noise="sym", noise_rate=0.4, profile="exponential", class_map="random",
                     transition_matrix=None, random_state=None):
    """Long-tailed noisy CIFAR-10 / CIFAR-100 through torchvision.

    The official training set is made long-tailed and noisy; the official
    (balanced) test set is the clean test split. Images come back as float32
    ``(n, 3, 32, 32)`` arrays normalised with the per-channel mean and standard
    deviation of the full training set. Needs a network the first time
    (``download=True``) and, in practice, a GPU to train on.

    Parameters
    ----------
    name : {"cifar10", "cifar100"}, default="cifar10"
        Which dataset.
    root : str or path-like, default="./data"
        Where torchvision stores (or finds) the files.
    download : bool, default=False
        Passed to torchvision: fetch the files if they are not under ``root``.
    imbalance_ratio, noise, noise_rate, profile, class_map, transition_matrix
        See :func:`make_long_tailed_noisy`; ``class_map="cifar10"`` is CIFAR-10's
        classic asymmetric map.
    random_state : int, RandomState instance or None, default=None
        Controls the subsampling and the noise.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        See :func:`make_long_tailed_noisy`.

    Examples
    --------
    The first call downloads about 170 MB into ``root`` (so it is not run here):

    >>> from sklearn_unlocker.datasets import load_noisy_cifar
    >>> data = load_noisy_cifar("cifar10", root="./data", download=True,
    ...                         imbalance_ratio=100, noise="sym", noise_rate=0.4,
    ...                         random_state=0)  # doctest: +SKIP
    >>> data.X_train.shape[1:], data.X_test.shape  # doctest: +SKIP
    ((3, 32, 32), (10000, 3, 32, 32))
    """
    import torchvision

    datasets = torchvision.datasets
    dataset_class = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    to_tensor = torchvision.transforms.ToTensor()
    train = dataset_class(root=root, train=True, download=download, transform=to_tensor)
    test = dataset_class(root=root, train=False, download=download, transform=to_tensor)
    X_train, y_train = dataset_to_arrays(train)
    X_test, y_test = dataset_to_arrays(test)
    mean = X_train.mean(axis=(0, 2, 3), keepdims=True)
    std = X_train.std(axis=(0, 2, 3), keepdims=True)
    return make_long_tailed_noisy(
        (X_train - mean) / std, y_train, (X_test - mean) / std, y_test,
        imbalance_ratio=imbalance_ratio, noise=noise, noise_rate=noise_rate, profile=profile,
        class_map=class_map, transition_matrix=transition_matrix, random_state=random_state,
        name=name,
    )


def dataset_to_arrays(dataset, *, batch_size=1000):
    """Materialise a map-style torch dataset of ``(tensor, label)`` pairs as arrays.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Yields ``(image_tensor, int_label)``, e.g. a torchvision dataset with a
        ``ToTensor`` transform.
    batch_size : int, default=1000
        Samples loaded at a time.

    Returns
    -------
    X : ndarray of float32, shape (n_samples, ...)
    y : ndarray of int64, shape (n_samples,)

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> dataset = TensorDataset(torch.zeros(5, 1, 2, 2), torch.arange(5))
    >>> X, y = dataset_to_arrays(dataset, batch_size=2)
    >>> X.shape, X.dtype.name, y.tolist()
    ((5, 1, 2, 2), 'float32', [0, 1, 2, 3, 4])
    """
    from torch.utils.data import DataLoader

    xs, ys = [], []
    for images, labels in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        xs.append(images.numpy().astype(np.float32, copy=False))
        ys.append(np.asarray(labels, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _benchmark_from_pool(X, y, name, n_test_per_class, random_state, **options):
    rng = check_random_state(random_state)
    X_pool, y_pool, X_test, y_test = balanced_split(
        X, y, n_test_per_class=n_test_per_class, random_state=rng.randint(_SEED_MAX)
    )
    return make_long_tailed_noisy(
        X_pool, y_pool, X_test, y_test, random_state=rng.randint(_SEED_MAX), name=name, **options
    )


@contextlib.contextmanager
def _restored_global_random_state():
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
