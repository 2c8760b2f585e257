import random

import numpy as np
import pytest
import torch

from sklearn_unlocker.datasets import (
    balanced_split,
    load_noisy_cifar,
    load_noisy_digits,
    load_noisy_mnist1d,
    make_noisy_tabular,
)
from sklearn_unlocker.metrics import imbalance_ratio


def _check_benchmark(data, n_classes):
    assert len(data.X_train) == len(data.y_train) == len(data.y_train_true)
    np.testing.assert_array_equal(data.noise_mask, data.y_train != data.y_train_true)
    test_counts = np.unique(data.y_test, return_counts=True)[1]
    assert len(test_counts) == n_classes and np.all(test_counts == test_counts[0])
    np.testing.assert_allclose(data.true_prior.sum(), 1.0)
    np.testing.assert_allclose(data.observed_prior.sum(), 1.0)
    assert data.true_imbalance_ratio == imbalance_ratio(np.bincount(data.y_train_true))
    assert data.observed_imbalance_ratio == imbalance_ratio(np.bincount(data.y_train))
    assert data.scenario in {"relieve", "consistent", "aggravate"}
    assert data.name in data.DESCR and "scenario" in data.DESCR


def test_digits_benchmark_features_and_images():
    data = load_noisy_digits(imbalance_ratio=10, noise="sym", noise_rate=0.4, random_state=0)
    _check_benchmark(data, 10)
    assert data.X_train.shape[1] == 64 and data.X_train.dtype == np.float32
    assert 0 <= data.X_train.min() and data.X_train.max() <= 1
    assert data.scenario == "relieve"
    images = load_noisy_digits(imbalance_ratio=10, as_images=True, random_state=0)
    assert images.X_train.shape[1:] == (1, 8, 8)
    np.testing.assert_array_equal(images.X_train.reshape(-1, 64), data.X_train)


def test_digits_t2h_is_the_aggravate_scenario():
    data = load_noisy_digits(imbalance_ratio=10, noise="t2h", noise_rate=0.6, random_state=0)
    assert data.observed_imbalance_ratio > data.true_imbalance_ratio
    assert data.scenario == "aggravate"


def test_loaders_are_deterministic():
    first = make_noisy_tabular(n_samples_per_class=120, n_test_per_class=20, random_state=5)
    second = make_noisy_tabular(n_samples_per_class=120, n_test_per_class=20, random_state=5)
    for key in ("X_train", "y_train", "y_train_true", "X_test", "y_test"):
        np.testing.assert_array_equal(first[key], second[key])
    _check_benchmark(first, 10)


def test_mnist1d_is_regenerated_offline_and_restores_global_random_state():
    np.random.seed(123)
    random.seed(123)
    expected_numpy, expected_python = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    data = load_noisy_mnist1d(n_samples=1000, n_test_per_class=20, imbalance_ratio=10,
                              noise="idn", random_state=0)
    assert np.random.rand() == expected_numpy and random.random() == expected_python
    _check_benchmark(data, 10)
    assert data.X_train.shape[1] == 40
    signals = load_noisy_mnist1d(n_samples=1000, n_test_per_class=20, imbalance_ratio=10,
                                 as_images=True, noise="idn", random_state=0)
    assert signals.X_train.shape[1:] == (1, 40)


def test_balanced_split_refuses_to_empty_a_class():
    with pytest.raises(ValueError, match="cannot hold out"):
        balanced_split(np.zeros((6, 1)), [0, 0, 0, 1, 1, 1], n_test_per_class=3)


def test_cifar_loader_runs_the_torchvision_path_on_fake_data(fake_cifar, tmp_path):
    data = load_noisy_cifar("cifar10", root=str(tmp_path), download=True, imbalance_ratio=5,
                            noise="pair", noise_rate=0.3, class_map="cifar10", random_state=0)
    assert fake_cifar.calls == [
        {"root": str(tmp_path), "train": True, "download": True},
        {"root": str(tmp_path), "train": False, "download": True},
    ]
    assert data.X_train.shape[1:] == (3, 32, 32) and data.X_train.dtype == np.float32
    assert len(data.X_test) == 100
    assert data.true_imbalance_ratio == pytest.approx(5, rel=0.5)
    # normalised with the full training set's channel statistics
    assert abs(float(np.mean(data.X_test))) < 0.2
    assert torch.is_tensor(torch.from_numpy(data.X_train))
