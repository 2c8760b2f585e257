"""Shared test configuration: deterministic hypothesis, the seed fixture, the CUDA skip."""

import numpy as np
import pytest
import torch
import torchvision
from hypothesis import HealthCheck, settings

# Property tests draw their examples from a fixed seed, so a red CI run is reproducible.
settings.register_profile(
    "default",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")

@pytest.fixture(scope="module")
def small_noisy_tabular():
    """A small long-tailed noisy tabular split (4 classes, IR 8, 30% symmetric noise)."""
    from sklearn_unlocker.datasets import make_noisy_tabular

    return make_noisy_tabular(n_samples_per_class=80, n_classes=4, n_features=6,
                              n_informative=4, n_test_per_class=20, imbalance_ratio=8,
                              noise_rate=0.3, random_state=0)


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class FakeCifar(torchvision.datasets.FakeData):
    """torchvision's FakeData behind CIFAR's constructor signature (nothing downloads here)."""

    calls: list = []  # records the constructor calls of one test

    def __init__(self, root, train=True, download=False, transform=None):
        FakeCifar.calls.append({"root": root, "train": train, "download": download})
        super().__init__(size=600 if train else 100, image_size=(3, 32, 32), num_classes=10,
                         transform=transform, random_offset=0 if train else 10_000)


@pytest.fixture
def fake_cifar(monkeypatch):
    """torchvision.datasets.CIFAR10 replaced by :class:`FakeCifar` for one test."""
    FakeCifar.calls = []
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCifar)
    return FakeCifar


@pytest.fixture
def rng():
    """A fresh, seeded numpy generator for each test."""
    return np.random.RandomState(0)


#: Unlocker's own row with the small-loss strategy, one network: the tests of Unlocker's
#: mechanics (learned tau, the re-estimated prior, the EMA, D_bc) fit it, since the defaults
#: (DivideMix + LA with a fixed tau) run none of them
UNLOCKER_ROW = dict(strategy="small_loss", logit_adjustment="unlocker")


def unlocker(module=None, **params):
    """``UnlockerClassifier`` with :data:`UNLOCKER_ROW` unless ``params`` say otherwise."""
    from sklearn_unlocker import UnlockerClassifier

    return UnlockerClassifier(module, **{**UNLOCKER_ROW, **params})
