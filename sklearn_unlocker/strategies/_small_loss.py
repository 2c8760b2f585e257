"""Built-in strategies: "none" (no selection) and "small_loss" (GMM on the per-sample loss)."""

from numbers import Real

import numpy as np
import torch

from .._rows import row_cross_entropy, row_softmax
from .._sklearn_compat import Interval, StrOptions
from ..adjustment import noise_direction
from ._base import BaseStrategy, Split
from ._gmm import split_clean_probability

__all__ = ["NoSelection", "SmallLossStrategy"]


class NoSelection(BaseStrategy):
    """Every sample is clean: plain training on the given labels.

    ``UnlockerClassifier(strategy="none")``: with ``logit_adjustment="none"``
    it is plain cross-entropy, with ``"loss"`` or ``"posthoc"`` standard logit
    adjustment.

    It judges no label (``judges_labels = False``): the estimator's label-issue
    table flags the samples its fitted model predicts as another class.

    ``clean_proba`` is the softmax probability of the given label under the
    (adjusted) logits, so the most confident samples of each class still form
    Unlocker's balanced subset D_bc.

    Examples
    --------
    >>> import torch
    >>> split = NoSelection().split(torch.tensor([[2.0, 0.0], [0.0, 0.0]]), np.array([0, 1]))
    >>> split.clean_mask.tolist(), split.clean_proba.round(2).tolist()
    ([True, True], [0.88, 0.5])
    """

    judges_labels = False  # the label-issue table flags what the fitted model overrules

    def split(self, logits, y, *, sample_weight=None, random_state=None):
        y_t = torch.as_tensor(y, dtype=torch.long)
        n = len(y)
        return Split(
            clean_proba=torch.exp(-row_cross_entropy(logits.to(torch.float64), y_t)).numpy(),
            clean_mask=np.ones(n, dtype=bool),
            corrected_labels=np.asarray(y).copy(),
            confidence=np.ones(n),
        )


class SmallLossStrategy(BaseStrategy):
    """Small-loss selection (Arazo et al. 2019; the co-divide of DivideMix, on one network).

    Pass it as ``UnlockerClassifier(strategy=SmallLossStrategy(loss_power="auto"))``
    to set its parameters; ``strategy="small_loss"`` is it with its defaults.

    The per-sample cross-entropy of the given label under the (adjusted) logits
    (raised to ``loss_power``) is split by a two-component Gaussian mixture; a
    sample is clean when its posterior of the low-loss component exceeds
    ``p_threshold``. The other samples get the argmax of the adjusted logits as
    corrected label, with its softmax probability as confidence; the corrected
    labels feed Unlocker's prior estimate.

    The defaults (one mixture per class, no training on the corrected labels,
    the loss itself) were chosen on the development grid; the measurements are
    in :doc:`/research/design` and :doc:`/research/results`.

    Parameters
    ----------
    p_threshold : float, default=0.5
        Clean-probability threshold (DivideMix's default).
    per_class : bool, default=True
        Fit one mixture per given class instead of one for all samples. A
        long-tailed model is biased: whole tail classes (or, for a weak model, all
        classes but the head) have high losses even when clean, and a global split
        calls them noisy, which starves them and locks the bias in. Classes with
        fewer than ``min_class_size`` samples use the global split, which on the
        reported grids collapses the tail (rows ``small_loss_global`` and
        ``unlocker_global``; :doc:`/research/results`).
    min_class_size : int, default=10
        Smallest class that gets its own mixture when ``per_class=True``.
    train_noisy : bool, default=False
        Also train the samples judged noisy on their corrected labels, weighted by
        the confidence of the correction (pseudo-labelling). Off by default: on the
        development grid it fed the model's own mistakes back.
    loss_power : float in (0, 1] or "auto", default=1.0
        The mixture is fitted to ``loss ** loss_power``; 1 is the loss itself, as
        in DivideMix. 0.5 (the square root) is for noise that hides the tail:
        where a class's given labels are mostly flips (a tail class under
        symmetric noise), its few clean samples have the smallest losses but the
        flips' wide, skewed spread takes both components of a mixture on min-max
        scaled losses (the low-loss mode swallowed 26 of 28 samples, 5 of them
        clean); on the square root they stand apart. With Unlocker it gains
        under symmetric and joint noise but loses under tail-to-head noise,
        where the stricter cut drops clean samples (measured in
        :doc:`/research/design`), so the default stays 1.

        "auto" chooses once per fit, at the first selection after the warm-up:
        0.5 where the noise direction is positive, else 1 (the choice is
        ``loss_power_``, the direction ``noise_direction_``). The direction is
        :func:`~sklearn_unlocker.adjustment.noise_direction` of the model's
        balanced logits (``TrainingContext.noise_direction``): positive where the
        model sends the samples it disagrees with to larger classes than their
        labels, i.e. flips from the head fill the small classes. Called outside a
        fit, ``split`` reads it from the logits it is given. With an MLP it gains
        under symmetric noise and leaves tail-to-head noise as it was, but with a
        CNN after 5 warm-up epochs it misreads tail-to-head noise (a tiny class
        not learned yet looks like flips; measured in :doc:`/research/design`).
        So "auto" is for an MLP on noise of unknown direction, not the default.

    Attributes
    ----------
    loss_power_ : float or None
        The power the fit uses: ``loss_power``, or what "auto" chose (None until
        its first selection).
    noise_direction_ : float or None
        With "auto", the noise direction it chose by; else None.

    Examples
    --------
    >>> import torch
    >>> logits = torch.tensor([[4.0, 0.0]] * 8 + [[0.0, 4.0]] * 2)
    >>> y = np.zeros(10, dtype=int)
    >>> split = SmallLossStrategy().split(logits, y, random_state=0)
    >>> split.clean_mask.sum(), split.corrected_labels[-2:].tolist()
    (np.int64(8), [1, 1])
    """

    _parameter_constraints = {
        "p_threshold": [Interval(Real, 0, 1, closed="neither")],
        "per_class": ["boolean"],
        "min_class_size": [Interval(Real, 2, None, closed="left")],
        "train_noisy": ["boolean"],
        "loss_power": [Interval(Real, 0, 1, closed="right"), StrOptions({"auto"})],
    }

    def __init__(self, p_threshold=0.5, per_class=True, min_class_size=10, train_noisy=False,
                 loss_power=1.0):
        self.p_threshold = p_threshold
        self.per_class = per_class
        self.min_class_size = min_class_size
        self.train_noisy = train_noisy
        self.loss_power = loss_power

    def prepare(self, net, context):
        """A new fit chooses its ``loss_power="auto"`` afresh at its first selection."""
        self.loss_power_ = None if self.loss_power == "auto" else float(self.loss_power)
        self.noise_direction_ = None

    def split(self, logits, y, *, sample_weight=None, random_state=None, context=None):
        self._validate_params()
        y = np.asarray(y)
        power = self._power(logits, y, sample_weight, context)
        losses = row_cross_entropy(logits, torch.as_tensor(y, dtype=torch.long)).double().numpy()
        if power != 1:  # rounding can leave a loss a hair below 0
            losses = np.maximum(losses, 0.0) ** power
        clean_proba = split_clean_probability(losses, y, per_class=self.per_class,
                                              min_class_size=self.min_class_size)
        clean = clean_proba > self.p_threshold
        corrected, confidence = y.copy(), np.ones(len(y))
        noisy = ~clean
        if noisy.any():  # corrections are needed for the samples judged noisy only
            best, choice = row_softmax(logits[torch.as_tensor(noisy)]).max(dim=1)
            corrected[noisy], confidence[noisy] = choice.numpy(), best.double().numpy()
        return Split(clean_proba, clean, corrected, confidence)

    @property
    def needs_noise_direction(self):
        """``loss_power="auto"`` reads the noise direction."""
        return self.loss_power == "auto"

    def _power(self, logits, y, sample_weight, context):
        """``loss_power``; for "auto", 0.5 if the noise direction at the fit's first
        selection is positive, else 1, kept for the rest of the fit."""
        if self.loss_power != "auto":
            return self.loss_power
        if getattr(self, "loss_power_", None) is None:
            direction = None if context is None else context.noise_direction
            if direction is None:  # called on its own: the logits are taken as balanced
                direction = noise_direction(logits, y, logits.shape[1],
                                            sample_weight=sample_weight)
            self.noise_direction_ = direction
            self.loss_power_ = 0.5 if direction > 0 else 1.0
        return self.loss_power_

    def training_weights(self, split):
        """1 for clean samples; for the others their confidence if ``train_noisy``, else 0."""
        if self.train_noisy:
            return super().training_weights(split)
        return split.clean_mask.astype(np.float64)
