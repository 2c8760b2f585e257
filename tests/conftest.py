"""Shared test configuration: deterministic hypothesis, the seed fixture, the CUDA skip."""

import numpy as np
import pytest
import torch
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

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def rng():
    """A fresh, seeded numpy generator for each test."""
    return np.random.RandomState(0)
