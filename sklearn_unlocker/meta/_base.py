"""What the meta-learning estimators share: the trusted set and its batches, the fit signature."""

import time
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted

from .._classifier import NeuralClassifierBase
from .._rows import row_cross_entropy

__all__ = ["MetaClassifierBase", "MetaProcedure"]


class MetaProcedure:
    """Per-epoch bookkeeping of a meta-learning fit (subclasses write ``meta_step``).

    Each epoch after the warm-up it refreshes the trusted set: the user's, or the
    lowest-loss samples of each class (built by :meth:`select_trusted`) which
    are then left out of that epoch's noisy batches. During the warm-up every
    sample trains with plain cross-entropy on its given label.

    Parameters
    ----------
    estimator : MetaClassifierBase
        For its hyperparameters.
    X : torch.Tensor
        Training inputs (CPU).
    y : ndarray of int
        Encoded given labels.
    sample_weight : ndarray or None
    n_classes : int
    device : str
    random_state : numpy.random.RandomState
    generator : torch.Generator
    X_trusted, y_trusted : torch.Tensor and ndarray, or None
        A trusted set from the user.
    """

    def __init__(self, estimator, *, X, y, sample_weight, n_classes, device, random_state,
                 generator, X_trusted=None, y_trusted=None):
        self.estimator = estimator
        self.X, self.y = X, np.asarray(y)
        self.n_classes = n_classes
        self.device = device
        self.random_state = random_state
        self.generator = generator
        self.user_trusted = X_trusted is not None
        self.X_trusted = X_trusted
        self.y_trusted = None if y_trusted is None else np.asarray(y_trusted)
        self.y_t = torch.as_tensor(self.y, dtype=torch.long, device=device)
        weights = np.ones(len(self.y)) if sample_weight is None else sample_weight
        self.weight_t = torch.as_tensor(weights, dtype=torch.float32, device=device)
        self.in_trusted_t = torch.zeros(len(self.y), dtype=torch.bool, device=device)
        self.trusted_indices = np.empty(0, dtype=np.intp)
        self.epoch = 0
        self.seconds = {"meta": 0.0, "trusted_set": 0.0}
        self.history = {"trusted_size": []}

    # --- epochs -----------------------------------------------------------------------

    @property
    def in_warmup(self):
        return self.epoch <= self.estimator.warmup_epochs

    def begin_epoch(self, net):
        self.epoch = len(net.history)
        if not self.in_warmup:
            start = time.perf_counter()
            self.refresh_trusted(net)
            self.seconds["trusted_set"] += time.perf_counter() - start
        self.history["trusted_size"].append(0 if self.in_warmup else self.trusted_size)

    def end_training(self, net):
        pass

    @property
    def trusted_size(self):
        return len(self.y_trusted) if self.user_trusted else len(self.trusted_indices)

    def losses(self, net):
        """Per-sample cross-entropy of the given labels under the current main model."""
        logits = net.logits(self.X)
        return row_cross_entropy(logits, torch.as_tensor(self.y, dtype=torch.long)).numpy()

    def refresh_trusted(self, net):
        if self.user_trusted:
            return
        self.trusted_indices = self.select_trusted(self.losses(net))
        self.in_trusted_t = torch.zeros(len(self.y), dtype=torch.bool, device=self.device)
        self.in_trusted_t[torch.as_tensor(self.trusted_indices, device=self.device)] = True

    def select_trusted(self, losses):
        """Indices of the automatic trusted set for this epoch (subclasses define)."""
        raise NotImplementedError

    def trusted_batch(self, size):
        """A random mini-batch of the trusted set, on the device."""
        n = self.trusted_size
        rows = torch.randperm(n, generator=self.generator)[:max(1, min(size, n))]
        if self.user_trusted:
            X, y = self.X_trusted[rows], self.y_trusted[rows.numpy()]
        else:
            chosen = self.trusted_indices[rows.numpy()]
            X, y = self.X[chosen], self.y[chosen]
        return X.to(self.device), torch.as_tensor(y, dtype=torch.long, device=self.device)

    def noisy_batch(self, size):
        """A random mini-batch of the noisy set (extra batches of MLC-D's inner loop)."""
        rows = torch.randperm(len(self.y), generator=self.generator)
        rows = rows[~self.in_trusted_t.cpu()[rows]][:size]
        return self.X[rows].to(self.device), rows.to(self.device)

    # --- steps --------------------------------------------------------------------------

    def train_step(self, net, X, indices):
        indices = indices.to(self.device)
        X = X.to(self.device)
        if self.in_warmup:
            logits = net.infer(X)
            loss = (torch.nn.functional.cross_entropy(logits, self.y_t[indices], reduction="none")
                    * self.weight_t[indices]).mean()
            loss.backward()
            return {"loss": loss, "y_pred": logits}
        keep = ~self.in_trusted_t[indices]  # the trusted samples are left out while used
        if not keep.any():
            keep = torch.ones_like(keep)
        start = time.perf_counter()
        loss, logits = self.meta_step(net, X[keep], indices[keep])
        self.seconds["meta"] += time.perf_counter() - start
        return {"loss": loss, "y_pred": logits}

    def meta_step(self, net, X, indices):
        """One update of the main (and meta) parameters; sets the main parameters' ``.grad``.

        Returns
        -------
        loss : torch.Tensor
            The loss to report for the batch.
        logits : torch.Tensor
        """
        raise NotImplementedError


class MetaClassifierBase(NeuralClassifierBase):
    """Base of the estimators that learn from a trusted set (given or built from the data)."""

    _parameter_constraints = {
        **NeuralClassifierBase._parameter_constraints,
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "meta_lr": [Interval(Real, 0, None, closed="neither")],
        "inner_lr": [Interval(Real, 0, None, closed="neither")],
    }

    def fit(self, X, y, sample_weight=None, X_trusted=None, y_trusted=None):
        """Fit on noisy labels, with a trusted set if you have one.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training samples, 2-D or N-D.
        y : array-like of shape (n_samples,)
            Given (possibly wrong) labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples' losses on the noisy set.
        X_trusted, y_trusted : array-like, default=None
            A small set with clean labels (ideally class-balanced). Without it, a
            trusted set is built from the noisy data each epoch (class-balanced,
            lowest loss per class) and left out of the noisy set while used; see
            ``trusted_source_``.

        Returns
        -------
        self : estimator
        """
        if (X_trusted is None) != (y_trusted is None):
            raise ValueError("give both X_trusted and y_trusted, or neither")
        self._trusted_input = (X_trusted, y_trusted)
        try:
            return self._fit(X, y, sample_weight)
        finally:
            del self._trusted_input

    def _trusted_tensors(self):
        X_trusted, y_trusted = self._trusted_input
        if X_trusted is None:
            return None, None
        X_trusted = check_array(X_trusted, allow_nd=True, dtype=np.float32,
                                input_name="X_trusted")
        if tuple(X_trusted.shape[1:]) != self.input_shape_:
            raise ValueError(f"X_trusted has samples of shape {tuple(X_trusted.shape[1:])}, "
                             f"X has {self.input_shape_}")
        y_trusted = np.asarray(y_trusted)
        if y_trusted.shape != (len(X_trusted),):
            raise ValueError(f"y_trusted must have shape ({len(X_trusted)},), "
                             f"got {y_trusted.shape}")
        unseen = np.setdiff1d(np.unique(y_trusted), self.classes_)
        if len(unseen):
            raise ValueError(f"y_trusted has labels not among the classes: {unseen.tolist()}")
        return (torch.from_numpy(np.ascontiguousarray(X_trusted)),
                np.searchsorted(self.classes_, y_trusted))

    def find_label_issues(self):
        """The training labels as the fitted model corrects them.

        Returns
        -------
        issues : pandas.DataFrame
            One row per training sample: ``given_label``, ``corrected_label``,
            ``is_label_issue``.
        """
        check_is_fitted(self)
        return pd.DataFrame({"given_label": self._given_labels_,
                             "corrected_label": self.corrected_labels_,
                             "is_label_issue": self.label_issues_})

    def _finish_trusted(self, procedure):
        self.trusted_source_ = "user" if procedure.user_trusted else "auto"
        self.trusted_indices_ = (None if procedure.user_trusted
                                 else np.asarray(procedure.trusted_indices))
        self.trusted_size_history_ = np.asarray(procedure.history["trusted_size"])
