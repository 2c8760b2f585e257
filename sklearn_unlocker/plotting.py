"""Diagnostic plots of a fitted UnlockerClassifier (needs matplotlib: the ``plots`` extra)."""

import numpy as np

__all__ = ["plot_diagnostics", "plot_label_issues", "plot_per_class_accuracy", "plot_prior",
           "plot_tau_history"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib: pip install 'sklearn-unlocker[plots]'"
        ) from error
    return plt


def _axes(ax):
    return _pyplot().subplots()[1] if ax is None else ax


def plot_tau_history(clf, *, true_imbalance_ratio=None, ax=None):
    """Tau and the estimated imbalance ratio, epoch by epoch.

    Parameters
    ----------
    clf : UnlockerClassifier
        Fitted.
    true_imbalance_ratio : float, default=None
        Drawn as a reference line when given.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure by default.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_classes=3, n_features=5,
    ...                           n_informative=3, n_test_per_class=10, imbalance_ratio=5,
    ...                           noise_rate=0.2, random_state=0)
    >>> clf = UnlockerClassifier(max_epochs=3, warmup_epochs=1, random_state=0)
    >>> clf = clf.fit(data.X_train, data.y_train)
    >>> ax = plot_tau_history(clf, true_imbalance_ratio=data.true_imbalance_ratio)
    >>> isinstance(ax, matplotlib.axes.Axes), len(ax.lines[0].get_xdata())  # one point an epoch
    (True, 3)
    >>> plt.close(ax.figure)
    """
    ax = _axes(ax)
    epochs = np.arange(1, len(clf.tau_history_) + 1)
    ax.plot(epochs, clf.tau_history_, color="tab:blue", label="tau")
    ax.set_xlabel("epoch")
    ax.set_ylabel("tau", color="tab:blue")
    twin = ax.twinx()
    twin.plot(epochs, clf.imbalance_ratio_history_, color="tab:orange", label="estimated IR")
    if true_imbalance_ratio is not None:
        twin.axhline(true_imbalance_ratio, color="tab:orange", linestyle="--", label="true IR")
    twin.set_yscale("log")
    twin.set_ylabel("imbalance ratio", color="tab:orange")
    twin.legend(loc="lower right")
    ax.set_title("tau and estimated imbalance ratio")
    return ax


def plot_prior(clf, *, true_prior=None, observed_prior=None, ax=None):
    """The estimated class prior beside the true and observed ones.

    Parameters
    ----------
    clf : UnlockerClassifier
        Fitted.
    true_prior, observed_prior : array-like of shape (n_classes,), default=None
        References, in the order of ``clf.classes_``.
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_classes=3, n_features=5,
    ...                           n_informative=3, n_test_per_class=10, imbalance_ratio=5,
    ...                           noise_rate=0.2, random_state=0)
    >>> clf = UnlockerClassifier(max_epochs=3, warmup_epochs=1, random_state=0)
    >>> clf = clf.fit(data.X_train, data.y_train)
    >>> ax = plot_prior(clf, true_prior=data.true_prior, observed_prior=data.observed_prior)
    >>> isinstance(ax, matplotlib.axes.Axes), len(ax.patches)  # 3 bars for each of 3 classes
    (True, 9)
    >>> plt.close(ax.figure)
    """
    ax = _axes(ax)
    x = np.arange(len(clf.classes_))
    bars = [("estimated", clf.prior_)]
    if true_prior is not None:
        bars.append(("true", np.asarray(true_prior)))
    if observed_prior is not None:
        bars.append(("observed (noisy labels)", np.asarray(observed_prior)))
    width = 0.8 / len(bars)
    for i, (name, values) in enumerate(bars):
        ax.bar(x + (i - (len(bars) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, [str(c) for c in clf.classes_])
    ax.set_yscale("log")
    ax.set_xlabel("class")
    ax.set_ylabel("prior")
    ax.legend()
    ax.set_title("class prior")
    return ax


def plot_per_class_accuracy(y_true, y_pred, classes, *, train_counts=None, ax=None):
    """Recall of each class, classes ordered by training count when given.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    classes : array-like of shape (n_classes,)
    train_counts : array-like of shape (n_classes,), default=None
        Training samples per class (shown on the second axis).
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = plot_per_class_accuracy([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 0], classes=[0, 1, 2],
    ...                              train_counts=[50, 10, 5], ax=ax)
    >>> isinstance(ax, matplotlib.axes.Axes)
    True
    >>> [float(bar.get_height()) for bar in ax.patches]  # recall, head to tail
    [0.5, 1.0, 0.0]
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    y_true, y_pred, classes = np.asarray(y_true), np.asarray(y_pred), np.asarray(classes)
    recall = np.array([np.mean(y_pred[y_true == c] == c) if np.any(y_true == c) else np.nan
                       for c in classes])
    order = np.argsort(-np.asarray(train_counts)) if train_counts is not None else \
        np.arange(len(classes))
    ax.bar(np.arange(len(classes)), recall[order], color="tab:green")
    ax.set_xticks(np.arange(len(classes)), [str(c) for c in classes[order]])
    ax.set_ylim(0, 1)
    ax.set_xlabel("class (head to tail)" if train_counts is not None else "class")
    ax.set_ylabel("test recall")
    if train_counts is not None:
        twin = ax.twinx()
        twin.plot(np.arange(len(classes)), np.asarray(train_counts)[order], "k.-")
        twin.set_yscale("log")
        twin.set_ylabel("training samples")
    ax.set_title("per-class accuracy")
    return ax


def plot_label_issues(clf, *, noise_mask=None, ax=None):
    """Share of each class's given labels flagged as issues (and truly wrong, when known).

    Parameters
    ----------
    clf : UnlockerClassifier
        Fitted.
    noise_mask : array-like of bool, shape (n_samples,), default=None
        True where the given label is wrong (benchmarks know it).
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_classes=3, n_features=5,
    ...                           n_informative=3, n_test_per_class=10, imbalance_ratio=5,
    ...                           noise_rate=0.2, random_state=0)
    >>> clf = UnlockerClassifier(max_epochs=3, warmup_epochs=1, random_state=0)
    >>> clf = clf.fit(data.X_train, data.y_train)
    >>> ax = plot_label_issues(clf, noise_mask=data.noise_mask)
    >>> isinstance(ax, matplotlib.axes.Axes), len(ax.patches)  # 2 bars for each of 3 classes
    (True, 6)
    >>> plt.close(ax.figure)
    """
    ax = _axes(ax)
    table = clf.find_label_issues()
    given = table["given_label"].to_numpy()
    x = np.arange(len(clf.classes_))
    flagged = [table["is_label_issue"][given == c].mean() if np.any(given == c) else 0.0
               for c in clf.classes_]
    ax.bar(x - 0.2, flagged, 0.4, label="flagged as issue")
    if noise_mask is not None:
        noise_mask = np.asarray(noise_mask)
        wrong = [noise_mask[given == c].mean() if np.any(given == c) else 0.0
                 for c in clf.classes_]
        ax.bar(x + 0.2, wrong, 0.4, label="truly wrong")
    ax.set_xticks(x, [str(c) for c in clf.classes_])
    ax.set_ylim(0, 1)
    ax.set_xlabel("given label")
    ax.set_ylabel("share of the class's samples")
    ax.legend()
    ax.set_title("label issues")
    return ax


def plot_diagnostics(clf, data):
    """All four diagnostics of a fit on a benchmark from :mod:`sklearn_unlocker.datasets`.

    Parameters
    ----------
    clf : UnlockerClassifier
        Fitted on ``data.X_train, data.y_train``.
    data : Bunch
        As returned by the benchmark loaders.

    Returns
    -------
    fig : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_classes=3, n_features=5,
    ...                           n_informative=3, n_test_per_class=10, imbalance_ratio=5,
    ...                           noise_rate=0.2, random_state=0)
    >>> clf = UnlockerClassifier(max_epochs=3, warmup_epochs=1, random_state=0)
    >>> clf = clf.fit(data.X_train, data.y_train)
    >>> fig = plot_diagnostics(clf, data)
    >>> isinstance(fig, matplotlib.figure.Figure), len(fig.axes)  # 4 panels, 2 twin axes
    (True, 6)
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    plot_tau_history(clf, true_imbalance_ratio=data.true_imbalance_ratio, ax=axes[0, 0])
    plot_prior(clf, true_prior=data.true_prior, observed_prior=data.observed_prior,
               ax=axes[0, 1])
    plot_per_class_accuracy(data.y_test, clf.predict(data.X_test), data.classes,
                            train_counts=data.true_counts, ax=axes[1, 0])
    plot_label_issues(clf, noise_mask=data.noise_mask, ax=axes[1, 1])
    fig.tight_layout()
    return fig
