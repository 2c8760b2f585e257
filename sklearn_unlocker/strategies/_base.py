"""The strategy interface: the noisy-label method "A" of Unlocker's Algorithm 1.

A strategy does two things, and Unlocker does the rest (the adjustment, the
prior, the balanced clean subset D_bc, tau):

- :meth:`BaseStrategy.split` looks at the logits of every training sample
  (post-hoc adjusted, ``z - alpha``, when the adjustment is used for
  selection) and says, per sample, how likely its given label is clean, whether
  to treat it as clean, which label it should have, and how sure that correction is.
- :meth:`BaseStrategy.loss` turns a mini-batch's raw logits and those per-sample
  decisions into the training loss.

Subclass :class:`BaseStrategy` (a scikit-learn estimator, so its parameters are
tunable as ``strategy__<name>`` in a grid search) and implement ``split``; the
default ``loss`` is the one DESIGN.md section 4 step 6 describes.
"""

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

__all__ = ["BaseStrategy", "BatchTargets", "Split"]


class Split(NamedTuple):
    """A strategy's verdict on every training sample.

    Attributes
    ----------
    clean_proba : ndarray of float, shape (n_samples,)
        Probability that the given label is clean (ranks samples for D_bc).
    clean_mask : ndarray of bool, shape (n_samples,)
        Samples trained on their given label (with the adjustment when the
        adjustment is in the loss).
    corrected_labels : ndarray of int, shape (n_samples,)
        The label each sample should have (the given label where clean), encoded
        ``0 .. n_classes-1``.
    confidence : ndarray of float, shape (n_samples,)
        Confidence in ``corrected_labels``; weighs the loss of the samples that
        are not clean.
    """

    clean_proba: np.ndarray
    clean_mask: np.ndarray
    corrected_labels: np.ndarray
    confidence: np.ndarray


class BatchTargets:
    """Everything the loss of a mini-batch may need, as tensors on the device.

    Fields are indexed out of the epoch's per-sample tensors on first access,
    so a loss pays only for what it reads.

    Attributes
    ----------
    target : torch.Tensor of int64, shape (batch,)
        The label to train on: the given label where clean, else the corrected one.
    weight : torch.Tensor of float, shape (batch,)
        Training weight: ``sample_weight`` times :meth:`BaseStrategy.training_weights`.
    clean_mask : torch.Tensor of bool, shape (batch,)
    labels : torch.Tensor of int64, shape (batch,)
        Given labels.
    corrected_labels : torch.Tensor of int64, shape (batch,)
        Labels from the last :meth:`BaseStrategy.split`.
    confidence : torch.Tensor of float, shape (batch,)
    sample_weight : torch.Tensor of float, shape (batch,)
    adjustment : torch.Tensor of shape (n_classes,) or None
        alpha as the loss should apply it to clean samples (``z + alpha``); ``None``
        when the logit adjustment is not part of the loss.
    unit_weight : bool
        True when every sample of the epoch has weight 1 (the loss may then be a
        plain mean).
    """

    FIELDS = ("target", "weight", "clean_mask", "labels", "corrected_labels", "confidence",
              "sample_weight")

    def __init__(self, rows, epoch_tensors, adjustment, unit_weight=False):
        self._rows = rows
        self._epoch = epoch_tensors
        self.adjustment = adjustment
        self.unit_weight = unit_weight

    def __getattr__(self, name):  # only called for attributes not set yet
        if name in BatchTargets.FIELDS:
            value = self._epoch[name][self._rows]
            setattr(self, name, value)
            return value
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")


class BaseStrategy(BaseEstimator):
    """Base class of noisy-label strategies.

    Subclasses implement :meth:`split`; they may override :meth:`loss`.
    Parameters go in ``__init__`` as keyword arguments stored unchanged, as
    for any scikit-learn estimator.
    """

    def split(self, logits, y, *, sample_weight=None, random_state=None):
        """Judge every training sample.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Logits of all training samples from the current model, on the CPU,
            already post-hoc adjusted (``z - alpha``) when the adjustment is used
            for selection.
        y : ndarray of int, shape (n_samples,)
            Given labels, encoded ``0 .. n_classes-1``.
        sample_weight : ndarray of shape (n_samples,), default=None
            Sample weights, if any.
        random_state : RandomState
            For any randomness (e.g. a mixture model's initialisation).

        Returns
        -------
        split : Split
        """
        raise NotImplementedError

    def training_weights(self, split):
        """How much each sample counts in training, given the epoch's split.

        Parameters
        ----------
        split : Split
            The verdict of :meth:`split`.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
            1 for clean samples, the correction's confidence for the others
            (sample weights are multiplied in by the estimator).
        """
        return np.where(split.clean_mask, 1.0, split.confidence)

    def loss(self, logits, targets):
        """Training loss of a mini-batch.

        Clean samples: cross-entropy of ``z + alpha`` with the given label (the
        logit-adjusted loss of Menon et al.; no alpha when the adjustment is not
        in the loss). Other samples: cross-entropy of the raw ``z`` with the
        corrected label. Each sample's loss is multiplied by its ``weight``; the
        sum is divided by the batch size.

        Parameters
        ----------
        logits : torch.Tensor of shape (batch, n_classes)
            Raw logits z of the batch (with grad).
        targets : BatchTargets
            The batch's labels, split and weights.

        Returns
        -------
        loss : torch.Tensor
            0-d tensor.
        """
        if targets.adjustment is not None:
            clean = targets.clean_mask.to(logits.dtype)
            logits = torch.addr(logits, clean, targets.adjustment.to(logits.dtype))
        if targets.unit_weight:
            return F.cross_entropy(logits, targets.target)
        per_sample = F.cross_entropy(logits, targets.target, reduction="none")
        return per_sample @ targets.weight.to(per_sample.dtype) / len(per_sample)
