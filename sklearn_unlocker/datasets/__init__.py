"""Long-tail and label-noise generators, and offline benchmark loaders.

- :func:`make_long_tailed`, :func:`long_tailed_counts`: long-tailed subsampling.
- :func:`make_noisy_labels`, :func:`noise_transition_matrix`: label noise of
  the kinds "sym", "pair", "joint", "t2h", "idn" and "matrix".
- :func:`make_long_tailed_noisy` and the loaders :func:`load_noisy_digits`,
  :func:`make_noisy_tabular`, :func:`load_noisy_mnist1d`,
  :func:`load_noisy_cifar`: benchmarks with a balanced clean test split.
"""

from ._loaders import (
    balanced_split,
    dataset_to_arrays,
    describe,
    load_noisy_cifar,
    load_noisy_digits,
    load_noisy_mnist1d,
    make_long_tailed_noisy,
    make_noisy_tabular,
)
from ._long_tail import long_tailed_counts, make_long_tailed
from ._noise import (
    CIFAR10_PAIRS,
    NOISE_KINDS,
    head_tail_split,
    make_noisy_labels,
    noise_transition_matrix,
)

__all__ = [
    "CIFAR10_PAIRS",
    "NOISE_KINDS",
    "balanced_split",
    "dataset_to_arrays",
    "describe",
    "head_tail_split",
    "load_noisy_cifar",
    "load_noisy_digits",
    "load_noisy_mnist1d",
    "long_tailed_counts",
    "make_long_tailed",
    "make_long_tailed_noisy",
    "make_noisy_labels",
    "make_noisy_tabular",
    "noise_transition_matrix",
]
