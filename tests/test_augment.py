"""Augmentations: independent per sample, shapes kept, torchvision v2 accepted."""

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.augment import (
    GaussianNoise,
    PerSample,
    RandomShift,
    default_views,
    resolve_augment,
)
from sklearn_unlocker.datasets import load_noisy_digits


def test_random_shift_moves_each_image_by_its_own_offset():
    torch.manual_seed(0)
    X = torch.zeros(200, 1, 5, 5)
    X[:, 0, 2, 2] = 1.0  # one bright pixel in the centre
    out = RandomShift(1)(X)
    assert out.shape == X.shape and torch.all(out.sum(dim=(1, 2, 3)) == 1.0)
    positions = {tuple(torch.nonzero(image[0])[0].tolist()) for image in out}
    assert positions == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}  # all 9 offsets drawn


def test_random_shift_on_signals_and_bad_shapes():
    torch.manual_seed(0)
    X = torch.arange(8.0).repeat(50, 1, 1)
    out = RandomShift(2)(X)
    starts = {float(row[0, 2]) for row in out}  # position 2 holds x[0..4] after a shift
    assert starts == {0.0, 1.0, 2.0, 3.0, 4.0}
    with pytest.raises(ValueError, match="needs"):
        RandomShift(1)(torch.zeros(4, 3))


@pytest.mark.parametrize("shape", [(30, 2, 4, 6), (30, 3, 7)])
def test_random_shift_is_each_samples_window_of_the_padded_input(shape):
    # reference: sample i is the window of the zero-padded input that starts at its offset,
    # the offsets being the shift's one draw (the same generator state gives the same draw)
    X = torch.randn(shape)
    torch.manual_seed(1)
    out = RandomShift(2)(X)
    torch.manual_seed(1)
    offsets = torch.randint(0, 5, (shape[0], len(shape) - 2))
    padded = torch.nn.functional.pad(X, [2, 2] * (len(shape) - 2))
    for i, offset in enumerate(offsets.tolist()):
        window = [slice(o, o + n) for o, n in zip(offset, shape[2:], strict=True)]
        torch.testing.assert_close(out[i], padded[i][(slice(None), *window)], rtol=0, atol=0)
    assert out.is_contiguous()


def test_default_views_by_input_shape():
    assert isinstance(default_views((10, 3)), GaussianNoise)
    assert isinstance(default_views((10, 1, 40)), RandomShift)
    assert isinstance(default_views((10, 3, 8, 8)), RandomShift)
    with pytest.raises(ValueError, match="no default view"):
        default_views((10,))


def test_per_sample_wrapper_draws_independently_for_each_sample():
    torch.manual_seed(0)
    flip = v2.RandomHorizontalFlip(p=0.5)
    X = torch.arange(4.0).repeat(100, 1, 1, 1)  # 100 identical 1x1x4 images
    out = PerSample(flip)(X)
    flipped = (out[:, 0, 0, 0] == 3.0).float().mean()
    assert 0.3 < float(flipped) < 0.7  # torchvision on the whole batch would give 0 or 1


def test_gaussian_noise_has_the_given_spread():
    torch.manual_seed(0)
    out = GaussianNoise(0.5)(torch.zeros(20000, 2))
    assert float(out.std()) == pytest.approx(0.5, rel=0.03)


def test_resolve_augment():
    assert resolve_augment(None) is None
    shift = RandomShift(1)
    assert resolve_augment(shift) is shift
    assert isinstance(resolve_augment(v2.RandomHorizontalFlip()), PerSample)
    with pytest.raises(TypeError, match="callable"):
        resolve_augment(3)


def test_estimator_trains_with_a_torchvision_transform_and_stays_reproducible():
    data = load_noisy_digits(imbalance_ratio=10, noise_rate=0.2, as_images=True, random_state=0)
    params = dict(augment=v2.RandomAffine(degrees=10), max_epochs=4, warmup_epochs=1,
                  random_state=0)
    first = UnlockerClassifier(**params).fit(data.X_train, data.y_train)
    second = UnlockerClassifier(**params).fit(data.X_train, data.y_train)
    np.testing.assert_array_equal(first.predict_proba(data.X_test),
                                  second.predict_proba(data.X_test))
    plain = UnlockerClassifier(max_epochs=4, warmup_epochs=1, random_state=0)
    plain.fit(data.X_train, data.y_train)
    assert not np.array_equal(plain.predict_proba(data.X_test), first.predict_proba(data.X_test))


def test_gaussian_noise_draws_as_torchvision_does_without_clipping():
    """What GaussianNoise's docstring says: torchvision's (where it exists) with clip=False."""
    if not hasattr(v2, "GaussianNoise"):
        pytest.skip("this torchvision has no GaussianNoise")
    X = torch.randn(64, 5) * 3  # standardised features leave [0, 1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        ours = GaussianNoise(0.3)(X)
        torch.manual_seed(0)
        theirs = v2.GaussianNoise(mean=0.0, sigma=0.3, clip=False)(X)
        torch.manual_seed(0)
        clipped = v2.GaussianNoise(mean=0.0, sigma=0.3)(X)
    assert torch.equal(ours, theirs)
    assert not torch.equal(ours, clipped)  # the default clips to an image's range
