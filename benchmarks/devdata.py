"""The development families: data the defaults are chosen on, never reported as results.

The reported grid (``python -m benchmarks run``) uses scikit-learn's digits (as 64
features with the MLP and as 8x8 images with ``ConvNet``), ``make_noisy_tabular``'s
default generator and MNIST-1D with the 1-D CNN, on data seeds 0, 1, 2. The
development grid draws from other generators, other sizes and other data seeds,
so that a default chosen here is checked on data it was not chosen on:

- ``tab_multimodal``: 30 features (15 informative), two clusters per class,
  ``class_sep=1.5``, 800 samples per class: harder and multi-modal.
- ``tab_small``: 10 features (8 informative), ``class_sep=2.5``, 250 per class.
- ``tab_large``: 40 features (12 informative), three clusters per class,
  ``class_sep=2.0``, 2000 per class.
- ``mnist1d_mlp``: MNIST-1D (12,000 signals) as 40 features with the default MLP.
- ``mnist1d_cnn``: MNIST-1D (8,000 signals) with the 1-D CNN.
- ``shapes``: procedurally drawn 10x10 images of ten shapes with position, size,
  rotation, stroke and pixel noise (:func:`make_shapes`), with ``ConvNet``.

Setting names are ``family:noise:rate:imbalance_ratio``.
"""

import numpy as np
from sklearn.datasets import make_classification
from sklearn.utils import check_random_state

from sklearn_unlocker.augment import GaussianNoise, RandomShift
from sklearn_unlocker.datasets import (
    balanced_split,
    load_noisy_mnist1d,
    make_long_tailed_noisy,
    make_noisy_tabular,
)
from sklearn_unlocker.modules import ConvNet, ConvNet1d

__all__ = ["AUGMENT", "FAMILIES", "load_family", "make_shapes"]

SHAPES = ("horizontal bar", "vertical bar", "diagonal", "anti-diagonal", "square",
          "filled square", "plus", "cross", "ring", "disk")


def _segment_distance(u, v, half_length):
    """Distance of points (u, v) to the segment from (-half_length, 0) to (half_length, 0)."""
    return np.sqrt(np.maximum(np.abs(u) - half_length, 0.0) ** 2 + v**2)


def make_shapes(n_per_class, *, size=10, noise=0.3, random_state=None):
    """Ten classes of small grey-scale shapes, drawn at random positions and sizes.

    Each image holds one shape (bars, diagonals, square outline or filled, plus, cross,
    ring, disk) with a random centre, half-size (2-4.5 pixels, cut at the border),
    rotation (+-15 degrees), stroke width and brightness, rendered smoothly and covered
    with Gaussian pixel noise. Outline and filled variants and the two crossings are the
    confusable pairs.

    Parameters
    ----------
    n_per_class : int
        Images per class.
    size : int, default=10
        Height and width.
    noise : float, default=0.3
        Standard deviation of the pixel noise.
    random_state : int, RandomState instance or None, default=None
        Seeds everything.

    Returns
    -------
    X : ndarray of float32, shape (10 * n_per_class, 1, size, size)
    y : ndarray of int64, shape (10 * n_per_class,)
    """
    rng = check_random_state(random_state)
    n = 10 * n_per_class
    y = np.repeat(np.arange(10), n_per_class)
    centre = rng.uniform(0.35 * size, 0.65 * size, size=(n, 2))
    half = rng.uniform(2.0, 4.5, size=n)
    angle = np.deg2rad(rng.uniform(-15, 15, size=n))
    stroke = rng.uniform(0.6, 1.2, size=n)
    brightness = rng.uniform(0.6, 1.0, size=n)
    grid = np.arange(size) + 0.5
    gy, gx = np.meshgrid(grid, grid, indexing="ij")
    dx = gx[None] - centre[:, 0, None, None]
    dy = gy[None] - centre[:, 1, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    h = half[:, None, None]
    d_diag = _segment_distance((u + v) / np.sqrt(2), (u - v) / np.sqrt(2), h)
    d_anti = _segment_distance((u - v) / np.sqrt(2), (u + v) / np.sqrt(2), h)
    box, radius = np.maximum(np.abs(u), np.abs(v)), np.sqrt(u**2 + v**2)
    distances = [
        _segment_distance(u, v, h), _segment_distance(v, u, h), d_diag, d_anti,
        np.abs(box - h), np.maximum(box - h, 0.0),
        np.minimum(_segment_distance(u, v, h), _segment_distance(v, u, h)),
        np.minimum(d_diag, d_anti), np.abs(radius - h), np.maximum(radius - h, 0.0),
    ]
    distance = np.choose(y[:, None, None], distances)
    image = brightness[:, None, None] * np.exp(-((distance / stroke[:, None, None]) ** 2))
    image = image + noise * rng.standard_normal(image.shape)
    return image[:, None].astype(np.float32), y.astype(np.int64)


def _tabular(**options):
    def load(*, imbalance_ratio, noise, noise_rate, random_state):
        return make_noisy_tabular(imbalance_ratio=imbalance_ratio, noise=noise,
                                  noise_rate=noise_rate, random_state=random_state, **options)
    return load


def _long_tailed_noisy(X, y, n_test_per_class, rng, name, **noise):
    """A balanced clean test split off ``X, y``, the rest made long-tailed and noisy."""
    X_pool, y_pool, X_test, y_test = balanced_split(X, y, n_test_per_class=n_test_per_class,
                                                    random_state=rng.randint(2**31 - 1))
    return make_long_tailed_noisy(X_pool, y_pool, X_test, y_test,
                                  random_state=rng.randint(2**31 - 1), name=name, **noise)


def _multimodal(*, random_state, **noise):
    rng = check_random_state(random_state)
    X, y = make_classification(n_samples=8000, n_features=30, n_informative=15, n_redundant=0,
                               n_classes=10, n_clusters_per_class=2, class_sep=1.5, flip_y=0.0,
                               random_state=rng.randint(2**31 - 1))
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return _long_tailed_noisy(X, y, 100, rng, "tab_multimodal", **noise)


def _shapes(*, random_state, **noise):
    rng = check_random_state(random_state)
    X, y = make_shapes(350, random_state=rng.randint(2**31 - 1))
    return _long_tailed_noisy(X, y, 80, rng, "shapes", **noise)


def _mnist1d(n_samples, as_images):
    def load(*, imbalance_ratio, noise, noise_rate, random_state):
        return load_noisy_mnist1d(n_samples=n_samples, as_images=as_images,
                                  imbalance_ratio=imbalance_ratio, noise=noise,
                                  noise_rate=noise_rate, random_state=random_state)
    return load


#: family -> (loader, module or None for the default MLP)
FAMILIES = {
    "tab_multimodal": (_multimodal, None),
    "tab_small": (_tabular(n_samples_per_class=250, n_features=10, n_informative=8,
                           class_sep=2.5, n_test_per_class=50), None),
    "tab_large": (_tabular(n_samples_per_class=2000, n_features=40, n_informative=12,
                           class_sep=2.0), None),
    "mnist1d_mlp": (_mnist1d(12000, as_images=False), None),
    "mnist1d_cnn": (_mnist1d(8000, as_images=True), ConvNet1d),
    "shapes": (_shapes, ConvNet),
}

#: DivideMix's augmentation for its two views, per family, as development runs before 2026-12-06
#: used them (tabular: noise; images, signals: shifts); since then DivideMix variants get the
#: estimator's default views (sklearn_unlocker.augment.default_views) unless they name `augment`
AUGMENT = {"tab_multimodal": GaussianNoise(0.1), "tab_small": GaussianNoise(0.1),
           "tab_large": GaussianNoise(0.1), "mnist1d_mlp": GaussianNoise(0.1),
           "mnist1d_cnn": RandomShift(2), "shapes": RandomShift(1)}


def load_family(setting, seed):
    """One development split from ``family:noise:rate:imbalance_ratio`` and a data seed.

    Returns
    -------
    data : Bunch
        As the package's loaders return.
    module : torch.nn.Module class or None
        The network for this family (``None``: the default MLP).
    """
    family, noise, rate, ratio = setting.split(":")
    loader, module = FAMILIES[family]
    data = loader(imbalance_ratio=float(ratio), noise=noise, noise_rate=float(rate),
                  random_state=seed)
    return data, module
