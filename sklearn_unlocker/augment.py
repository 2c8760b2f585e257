"""Data augmentation for training batches (and DivideMix's two views).

An estimator's ``augment`` is applied to each training batch on the device.
Classes here that derive from :class:`BatchAugmentation` transform a whole batch
at once, with independent randomness per sample. Any other callable, such as a
``torchvision.transforms.v2`` transform, is taken to work on one sample and is
wrapped in :class:`PerSample`. Randomness comes from torch's global generator,
which the estimators seed (inside a forked RNG) from ``random_state``.
"""

import torch

__all__ = ["BatchAugmentation", "GaussianNoise", "PerSample", "RandomShift", "default_views",
           "resolve_augment"]


class BatchAugmentation:
    """Base class of augmentations that take a whole batch ``(n, ...)``.

    Examples
    --------
    A subclass transforms the whole batch in ``__call__``; its ``__init__``
    arguments show in its repr:

    >>> class RandomScale(BatchAugmentation):
    ...     def __init__(self, spread=0.1):
    ...         self.spread = spread
    ...     def __call__(self, X):
    ...         factor = 1 + self.spread * (2 * torch.rand(len(X), 1) - 1)  # one per sample
    ...         return X * factor
    >>> _ = torch.manual_seed(0)
    >>> augment = RandomScale(0.2)
    >>> augment
    RandomScale(spread=0.2)
    >>> out = augment(torch.ones(4, 3))
    >>> out.shape, bool(((out >= 0.8) & (out <= 1.2)).all())
    (torch.Size([4, 3]), True)
    >>> resolve_augment(augment) is augment  # what an estimator's ``augment=`` does
    True
    """

    def __call__(self, X):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class PerSample(BatchAugmentation):
    """Apply a single-sample transform to every sample of a batch independently.

    Parameters
    ----------
    transform : callable
        Maps one sample tensor (e.g. ``C x H x W``) to a tensor of the same shape,
        e.g. ``torchvision.transforms.v2.RandomCrop(32, padding=4)``. Applied to a
        batch directly, torchvision would draw one random transform for the whole
        batch; here each sample gets its own.

    Examples
    --------
    >>> flip = PerSample(lambda x: x.flip(-1))
    >>> flip(torch.arange(4.0).reshape(2, 1, 2)).tolist()
    [[[1.0, 0.0]], [[3.0, 2.0]]]
    """

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, X):
        return torch.stack([self.transform(x) for x in X])


class RandomShift(BatchAugmentation):
    """Shift each image or signal by a random offset, filling with zeros (pad and crop).

    Works on ``(n, C, L)`` signals and ``(n, C, H, W)`` images; each sample's
    offset along each spatial axis is uniform in ``[-max_shift, max_shift]``.

    Parameters
    ----------
    max_shift : int, default=1
        Largest shift in pixels (or time steps).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> RandomShift(1)(torch.ones(3, 1, 4)).shape
    torch.Size([3, 1, 4])
    """

    def __init__(self, max_shift=1):
        self.max_shift = max_shift

    def __call__(self, X):
        s = int(self.max_shift)
        spatial = X.shape[2:]
        if s == 0 or len(spatial) not in (1, 2):
            if len(spatial) not in (1, 2):
                raise ValueError(f"RandomShift needs (n, C, L) or (n, C, H, W) input, got "
                                 f"shape {tuple(X.shape)}")
            return X
        padded = torch.nn.functional.pad(X, [s, s] * len(spatial))
        offsets = torch.randint(0, 2 * s + 1, (len(X), len(spatial)), device=X.device)
        # one gather, no host reads: sample i's window starts at offsets[i] in the padded input
        n = torch.arange(len(X), device=X.device)
        if len(spatial) == 1:
            positions = offsets[:, :1] + torch.arange(spatial[0], device=X.device)  # (n, L)
            return padded[n[:, None], :, positions].permute(0, 2, 1).contiguous()  # (n, C, L)
        rows = offsets[:, 0, None] + torch.arange(spatial[0], device=X.device)  # (n, H)
        cols = offsets[:, 1, None] + torch.arange(spatial[1], device=X.device)  # (n, W)
        out = padded[n[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (n, H, W, C)
        return out.permute(0, 3, 1, 2).contiguous()


class GaussianNoise(BatchAugmentation):
    """Add Gaussian noise to every feature (for tabular data, on standardised features).

    The same draws as ``torchvision.transforms.v2.GaussianNoise(mean=0.0, sigma=std,
    clip=False)`` in the torchvision versions that have it; kept here because that one
    clips to [0, 1] by default (the range of an image, which would flatten standardised
    features) and is not in every torchvision this package supports.

    Parameters
    ----------
    std : float, default=0.1
        Standard deviation of the noise.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> float(GaussianNoise(0.0)(torch.ones(2, 3)).sum())
    6.0
    """

    def __init__(self, std=0.1):
        self.std = std

    def __call__(self, X):
        return X + self.std * torch.randn_like(X)


def resolve_augment(augment):
    """A batch augmentation from an estimator's ``augment`` parameter.

    Parameters
    ----------
    augment : callable or None
        A :class:`BatchAugmentation`, a single-sample callable (wrapped in
        :class:`PerSample`), or None.

    Returns
    -------
    augment : BatchAugmentation or None

    Examples
    --------
    >>> resolve_augment(None) is None
    True
    >>> noise = GaussianNoise(0.1)
    >>> resolve_augment(noise) is noise
    True
    >>> flip = resolve_augment(lambda x: x.flip(-1))  # a single-sample callable
    >>> type(flip).__name__, flip(torch.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
    ('PerSample', [[2.0, 1.0], [4.0, 3.0]])
    """
    if augment is None or isinstance(augment, BatchAugmentation):
        return augment
    if not callable(augment):
        raise TypeError(f"augment must be callable, got {type(augment).__name__}")
    return PerSample(augment)


def default_views(shape):
    """The augmentation a two-view strategy gets when ``augment=None``.

    DivideMix's co-guessing averages two augmented views of each sample; two
    identical views would make it one prediction counted twice. Tabular rows
    (``(n, d)``) get ``GaussianNoise(0.1)`` (for standardised features), signals
    and images (``(n, C, L)``, ``(n, C, H, W)``) ``RandomShift(1)``: the
    augmentations of every DivideMix row of the benchmarks.

    Parameters
    ----------
    shape : tuple of int
        Shape of the training inputs, samples first.

    Returns
    -------
    augment : BatchAugmentation

    Examples
    --------
    >>> default_views((100, 20)), default_views((100, 1, 8, 8))
    (GaussianNoise(std=0.1), RandomShift(max_shift=1))
    """
    if len(shape) == 2:
        return GaussianNoise(0.1)
    if len(shape) in (3, 4):
        return RandomShift(1)
    raise ValueError(
        f"a strategy that trains on two augmented views needs `augment` for inputs of shape "
        f"{tuple(shape)}: there is no default view for them (GaussianNoise for (n, d) rows, "
        f"RandomShift for (n, C, L) and (n, C, H, W)); pass e.g. augment=PerSample(transform)"
    )
