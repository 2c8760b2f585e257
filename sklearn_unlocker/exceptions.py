"""Warnings raised by sklearn-unlocker."""

__all__ = ["UnlockerWarning"]


class UnlockerWarning(UserWarning):
    """A degenerate training state was met and handled.

    Raised once per fit, after training, when for example a class was left with
    no clean or corrected sample (its prior was floored so that ``log pi`` stays
    finite) or tau reached its bounds (it was held there).

    Examples
    --------
    A fit that is all warm-up never selects a label, and says so:

    >>> import warnings
    >>> from sklearn_unlocker import UnlockerClassifier, UnlockerWarning
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_test_per_class=10,
    ...                           imbalance_ratio=5, noise_rate=0.2, random_state=0)
    >>> clf = UnlockerClassifier(max_epochs=2, warmup_epochs=2, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", UnlockerWarning)
    ...     _ = clf.fit(data.X_train, data.y_train)
    >>> [warning.category.__name__ for warning in caught]
    ['UnlockerWarning']
    >>> "every epoch is a warm-up epoch" in str(caught[0].message)
    True
    >>> issubclass(UnlockerWarning, UserWarning)  # silence it like any UserWarning
    True
    """
