"""Algorithm 1 of the Unlocker paper, one epoch at a time (DESIGN.md section 4).

:class:`UnlockerProcedure` is what the internal skorch net calls: before each
training epoch, :meth:`~UnlockerProcedure.begin_epoch` runs

1. the score pass (raw logits z of every training sample, no grad),
2. the outer step for the previous epoch on D_bc, reusing those logits,
   then the EMA of the adjustment,
3. selection and correction by the strategy on ``z - alpha``,
4. the balanced clean subset D_bc,
5. the prior re-estimation,

and :meth:`~UnlockerProcedure.loss` gives the training loss of a batch
(step 6). The math lives in :mod:`sklearn_unlocker.adjustment`.
"""

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ._rows import row_softmax
from .adjustment import (
    balanced_clean_subset,
    ema_update,
    limit_prior_change,
    prior_counts,
    smoothed_prior,
    solve_tau,
)
from .strategies import BatchTargets, Split, TrainingContext

__all__ = ["ROWS", "UnlockerProcedure"]


@dataclass(frozen=True)
class Row:
    """Where the adjustment alpha is used, for one ``logit_adjustment`` value."""

    in_selection: bool
    in_loss: bool
    in_prediction: bool
    learns_tau: bool
    #: re-estimates the prior each epoch and smooths alpha by the EMA; the fixed-tau rows
    #: are standard logit adjustment instead: the prior of the given labels, alpha fixed
    adapts: bool = True


#: The paper's four rows (Table 5): NLL alone, + post-hoc LA, + LA (fixed tau), + Unlocker.
ROWS = {
    "none": Row(in_selection=False, in_loss=False, in_prediction=False, learns_tau=False),
    "posthoc": Row(in_selection=False, in_loss=False, in_prediction=True, learns_tau=False,
                   adapts=False),
    "loss": Row(in_selection=True, in_loss=True, in_prediction=False, learns_tau=False,
                adapts=False),
    "unlocker": Row(in_selection=True, in_loss=True, in_prediction=True, learns_tau=True),
}


@dataclass
class Settings:
    """The estimator's hyperparameters that the procedure needs."""

    row: Row
    tau: float
    tau_solver: str
    tau_lr: float
    tau_steps: int
    tau_bounds: tuple
    ema_beta: float
    prior: object  # a mode name or a fixed prior array
    max_prior_change: float
    bc_fraction: float
    bc_min_per_class: int
    warmup_epochs: int
    max_epochs: int
    batch_size: int
    mixup_alpha: float
    augment: object


@dataclass
class Record:
    """What the procedure learned, epoch by epoch, and where its time went."""

    tau: list = field(default_factory=list)
    prior: list = field(default_factory=list)
    imbalance_ratio: list = field(default_factory=list)
    clean_fraction: list = field(default_factory=list)
    empty_prior_classes: set = field(default_factory=set)
    epochs_with_empty_class: int = 0
    tau_clipped: int = 0
    seconds: dict = field(default_factory=lambda: {"score_pass": 0.0, "selection": 0.0,
                                                   "unlocker": 0.0})


class UnlockerProcedure:
    """State and per-epoch work of Unlocker; owned by one fit.

    Parameters
    ----------
    settings : Settings
        Hyperparameters.
    strategy : BaseStrategy
        The noisy-label method.
    X : torch.Tensor
        Training inputs (CPU).
    y : ndarray of int
        Encoded given labels.
    sample_weight : ndarray or None
        Sample weights.
    n_classes : int
        Number of classes.
    device : str
        Where the loss is computed.
    random_state : RandomState
        For the strategy.
    generator : torch.Generator
        For the outer step's mini-batches.
    """

    def __init__(self, settings, strategy, *, X, y, sample_weight, n_classes, device,
                 random_state, generator):
        self.settings = settings
        self.strategy = strategy
        self.X = X
        self.y = np.asarray(y)
        self.sample_weight = sample_weight
        self.n_classes = n_classes
        self.device = device
        self.random_state = random_state
        self.generator = generator
        self.record = Record()

        fixed = not isinstance(settings.prior, str)
        self.fixed_prior = fixed
        if fixed:
            self.prior = np.asarray(settings.prior, dtype=np.float64)
        else:
            counts = prior_counts("observed", self.y, n_classes, sample_weight=sample_weight)
            # standard LA (the fixed-tau rows) uses the given labels' frequencies as they are
            pseudo = self._pseudo_count() if settings.row.adapts else 0.0
            self.prior, _ = smoothed_prior(counts, pseudo)
        self.tau = float(settings.tau)
        self.alpha = self.tau * np.log(self.prior)
        self.split = None
        self.bc_indices = None

        self.y_t = torch.as_tensor(self.y, dtype=torch.long, device=device)
        weights = np.ones(len(self.y)) if sample_weight is None else sample_weight
        self.weight_t = torch.as_tensor(weights, dtype=torch.float32, device=device)
        self.context = TrainingContext(
            epoch=0, max_epochs=settings.max_epochs, warmup_epochs=settings.warmup_epochs,
            prior=self.prior, augment=settings.augment, mixup_alpha=settings.mixup_alpha,
            random_state=random_state, generator=generator, inputs=X,
        )
        self._set_targets(None)

    # --- per epoch -----------------------------------------------------------------

    def begin_epoch(self, net):
        epoch = len(net.history)  # skorch has just opened this epoch's row: 1-based
        if epoch > self.settings.warmup_epochs:
            self._update(net)
        self.context.epoch, self.context.prior = epoch, self.prior
        self._log(net)

    def end_training(self, net):
        """Outer step and selection on the final model, so tau_, alpha and the label issues
        describe what was trained (Algorithm 1 ends each epoch with the outer step)."""
        self._update(net)

    def _update(self, net):
        seconds = self.record.seconds
        start = time.perf_counter()
        scores = self.strategy.score(net, self.X)  # (n_networks, n, C)
        logits = scores.mean(dim=0)
        seconds["score_pass"] += time.perf_counter() - start

        start = time.perf_counter()
        self._outer_step(logits)
        seconds["unlocker"] += time.perf_counter() - start

        start = time.perf_counter()
        if self.settings.row.in_selection:
            shift = torch.as_tensor(self.alpha, dtype=logits.dtype)
            scores, selection_logits = scores - shift, logits - shift
        else:
            selection_logits = logits
        split = self.strategy.split(scores[0] if self.strategy.n_networks == 1 else scores,
                                    self.y, sample_weight=self.sample_weight,
                                    random_state=self.random_state)
        self.split = split._replace(**{name: np.asarray(getattr(split, name))
                                       for name in Split._fields})
        seconds["selection"] += time.perf_counter() - start

        start = time.perf_counter()
        self.bc_indices = balanced_clean_subset(
            self.split.clean_proba, self.split.clean_mask, self.y, self.n_classes,
            fraction=self.settings.bc_fraction, min_per_class=self.settings.bc_min_per_class,
        )
        self._estimate_prior(selection_logits)
        seconds["unlocker"] += time.perf_counter() - start
        self._set_targets(self.split)

    def _outer_step(self, logits):
        """Step 2: new tau on D_bc (from the previous epoch), then the EMA of alpha."""
        settings = self.settings
        if settings.row.learns_tau and self.bc_indices is not None and len(self.bc_indices):
            self.tau, clipped = solve_tau(
                self.tau, logits.numpy()[self.bc_indices], np.log(self.prior),
                self.y[self.bc_indices], solver=settings.tau_solver, lr=settings.tau_lr,
                steps=settings.tau_steps, batch_size=settings.batch_size,
                bounds=settings.tau_bounds, random_state=self.random_state,
            )
            self.record.tau_clipped += int(clipped)
        if settings.row.adapts:
            self.alpha = ema_update(self.alpha, self.tau * np.log(self.prior),
                                    settings.ema_beta)

    def _pseudo_count(self):
        return 1.0 if self.settings.prior == "ir_aware" else 0.0

    def _estimate_prior(self, selection_logits):
        """Step 5: the class prior from the cleaned labels."""
        if self.fixed_prior or not self.settings.row.adapts:
            return
        mode = self.settings.prior
        proba = None
        if mode == "ir_aware":  # the adjusted posterior, needed for the relabelled rows only
            noisy = torch.as_tensor(~self.split.clean_mask)
            proba = row_softmax(selection_logits[noisy]).double().numpy()
        counts = prior_counts(mode, self.y, self.n_classes, clean_mask=self.split.clean_mask,
                              corrected_labels=self.split.corrected_labels,
                              corrected_proba=proba, sample_weight=self.sample_weight)
        prior, empty = smoothed_prior(counts, self._pseudo_count())
        if empty.any():
            self.record.epochs_with_empty_class += 1
            self.record.empty_prior_classes.update(np.flatnonzero(empty).tolist())
        if mode == "ir_aware":
            prior, _ = limit_prior_change(prior, self.prior, self.settings.max_prior_change)
        self.prior = prior

    # --- the loss of step 6 --------------------------------------------------------

    def _set_targets(self, split):
        """Per-sample training tensors for the coming epoch (a batch indexes into them)."""
        n = len(self.y)
        if split is None:  # warm-up: every sample is clean, with its given label
            weights = np.ones(n)
            clean, corrected, confidence, extra = np.ones(n, dtype=bool), self.y, np.ones(n), {}
        else:
            weights = np.asarray(self.strategy.training_weights(split), dtype=np.float64)
            clean, corrected, confidence = split.clean_mask, split.corrected_labels, \
                split.confidence
            extra = self.strategy.batch_fields(split)
        sample_weight = np.ones(n) if self.sample_weight is None else self.sample_weight
        clean = np.asarray(clean, dtype=bool)
        self.unit_weight = bool(np.all(sample_weight * weights == 1.0))
        as_tensor = torch.as_tensor
        device = self.device
        self.epoch_tensors = {
            **{name: as_tensor(np.asarray(value), device=device) for name, value in extra.items()},
            "target": as_tensor(np.where(clean, self.y, corrected), dtype=torch.long,
                                device=device),
            "weight": as_tensor(sample_weight * weights, dtype=torch.float32, device=device),
            "clean_mask": as_tensor(clean, device=device),
            "labels": self.y_t,
            "corrected_labels": as_tensor(corrected, dtype=torch.long, device=device),
            "confidence": as_tensor(confidence, dtype=torch.float32, device=device),
            "sample_weight": self.weight_t,
        }
        self.loss_adjustment = (as_tensor(self.alpha, dtype=torch.float32, device=device)
                                if self.settings.row.in_loss else None)

    def train_step(self, net, X, indices):
        """One mini-batch: the strategy's loss, then backward (skorch steps the optimizer)."""
        targets = BatchTargets(indices.to(self.device), self.epoch_tensors,
                               self.loss_adjustment, self.unit_weight)
        loss, logits = self.strategy.train_step(net, X.to(net.device), targets, self.context)
        loss.backward()
        return {"loss": loss, "y_pred": logits}

    # --- bookkeeping ---------------------------------------------------------------

    def _log(self, net):
        record = self.record
        ratio = float(self.prior.max() / self.prior.min())
        clean = 1.0 if self.split is None else float(self.split.clean_mask.mean())
        record.tau.append(self.tau)
        record.prior.append(self.prior.copy())
        record.imbalance_ratio.append(ratio)
        record.clean_fraction.append(clean)
        net.history.record("tau", self.tau)
        net.history.record("est_ir", ratio)
        net.history.record("clean", clean)
