"""The training engine: Algorithm 1 of the Unlocker paper, one epoch at a time.

Every estimator of the package trains through one :class:`TrainingEngine`; what
differs is its :class:`Config` (the row, the prior, the trusted set) and its
strategy, the noisy-label method. Before each training epoch after the warm-up,
:meth:`~TrainingEngine.begin_epoch` runs, in the paper's order,

1. the score pass: raw logits z of every training sample, no grad;
2. the outer step for the previous epoch on D_bc (reusing those logits), then
   the EMA of the adjustment alpha;
3. selection and correction by the strategy on ``z - alpha``;
4. the balanced clean subset D_bc, which is also the trusted set of the
   meta-learning strategies (unless the user gave one);
5. the prior re-estimation;

and each mini-batch is step 6: the strategy's training step with alpha in the
clean samples' loss. After the last epoch the same update runs once more, so
that the fitted tau, alpha and label verdicts describe the trained model. The
math lives in :mod:`sklearn_unlocker.adjustment`; the methods in
:mod:`sklearn_unlocker.strategies`.

The internal skorch net (:class:`~sklearn_unlocker._net.TrainingNet`) is given
the engine at construction and calls it through skorch's hooks; the interface
it calls is :class:`Procedure`. Hyperparameters travel one way: the estimator
builds a :class:`Config`, the engine reads only that.
"""

import contextlib
import copy
import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from ._rows import row_cross_entropy
from .adjustment import (
    BC_FRACTION,
    BC_MIN_PER_CLASS,
    EMA_BETA,
    MAX_PRIOR_CHANGE,
    TAU_BOUNDS,
    TAU_LR,
    balanced_clean_subset,
    ema_update,
    estimate_prior,
    initial_prior,
    noise_direction,
    solve_tau,
)
from .strategies import BatchTargets, Scores, Split, TrainingContext

__all__ = ["ROWS", "Config", "Procedure", "Row", "TrainingEngine", "TrustedSet"]


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
#: A row with alpha in its loss predicts with raw ``z`` (Menon et al. 2021's rule after an
#: adjusted loss; the Unlocker paper is silent): ``argmax z`` measured ahead of
#: ``argmax(z - alpha)`` for the learned row too (the claims page, "prediction rule").
ROWS = {
    "none": Row(in_selection=False, in_loss=False, in_prediction=False, learns_tau=False,
                adapts=False),
    "posthoc": Row(in_selection=False, in_loss=False, in_prediction=True, learns_tau=False,
                   adapts=False),
    "loss": Row(in_selection=True, in_loss=True, in_prediction=False, learns_tau=False,
                adapts=False),
    "unlocker": Row(in_selection=True, in_loss=True, in_prediction=False, learns_tau=True),
}


@dataclass(frozen=True)
class Config:
    """What the engine needs to know, built by the estimator from its parameters.

    The Unlocker fields (tau to max_prior_change) default to values that leave the
    row "none" inert; ``bc_fraction=0`` with ``bc_min_per_class=k`` makes D_bc the
    k lowest-loss samples of each class (the meta estimators' trusted set).
    """

    row: Row
    warmup_epochs: int
    max_epochs: int
    batch_size: int
    tau: float = 1.0
    tau_solver: str = "sgd"
    tau_lr: float = TAU_LR
    tau_steps: int = 1
    tau_bounds: tuple = TAU_BOUNDS
    ema_beta: float = EMA_BETA
    prior: object = "observed"  # a mode name or a fixed prior array
    max_prior_change: float = MAX_PRIOR_CHANGE
    bc_fraction: float = BC_FRACTION
    bc_min_per_class: int = BC_MIN_PER_CLASS
    mixup_alpha: float = 0.0
    augment: object = None
    refresh_batchnorm: bool = True


@dataclass
class Record:
    """What the engine learned, epoch by epoch, and where its time went."""

    tau: list = field(default_factory=list)
    prior: list = field(default_factory=list)
    imbalance_ratio: list = field(default_factory=list)
    clean_fraction: list = field(default_factory=list)
    trusted_size: list = field(default_factory=list)
    empty_prior_classes: set = field(default_factory=set)
    epochs_with_empty_class: int = 0
    unselected_classes: set = field(default_factory=set)
    epochs_with_unselected_class: int = 0
    tau_clipped: int = 0
    seconds: dict = field(default_factory=lambda: {"score_pass": 0.0, "selection": 0.0,
                                                   "unlocker": 0.0})


class Procedure(Protocol):
    """The interface :class:`~sklearn_unlocker._net.TrainingNet` calls (skorch hooks only).

    ``extra_modules(module)`` from ``initialize_module``; ``begin_training(net)``
    from ``on_train_begin``; ``begin_epoch(net)`` from ``on_epoch_begin``;
    ``train_step(net, X, indices)`` from ``train_step_single`` (forward, loss,
    backward; returns skorch's ``{"loss", "y_pred"}``); ``loss(y_pred, indices)``
    from ``get_loss``; ``prediction_logits(net, X)`` (the logits the estimator
    predicts with) from ``validation_step`` and ``evaluation_step``;
    ``check_loss(net, value, X)`` from ``on_batch_end`` with the training loss
    skorch logged (a non-finite loss stops the fit there); ``passes_per_epoch`` and
    ``begin_pass(index)`` from ``run_single_epoch``, which makes that many passes
    over the training data (one per network for a strategy that trains them one
    after the other). The
    estimator calls ``end_training(net)`` once skorch's training is over, after
    every callback's ``on_train_end`` (so that the final update sees the
    parameters a ``Checkpoint(load_best=True)`` restored).
    """

    def extra_modules(self, module): ...

    def begin_training(self, net): ...

    def begin_epoch(self, net): ...

    passes_per_epoch: int

    def begin_pass(self, index): ...

    def train_step(self, net, X, indices): ...

    def loss(self, y_pred, indices): ...

    def prediction_logits(self, net, X): ...

    def check_loss(self, net, value, X): ...

    def end_training(self, net): ...


class TrustedSet:
    """The trusted (clean, class-balanced) set of the meta-learning strategies.

    The user's set when given, else the epoch's D_bc, drawn from the training
    data. Batches are class-balanced: a set with as many samples of each class (D_bc
    of the meta estimators) is drawn from uniformly; in another (D_bc inside
    Unlocker keeps 15% of each class) rows are drawn without replacement with
    probability inversely proportional to their class's size in the set.

    Attributes
    ----------
    source : {"user", "auto"}
    indices : ndarray of int
        The training positions in the set ("auto"), else empty.
    """

    def __init__(self, X_train, y_train, *, X=None, y=None, device="cpu", generator=None):
        self.source = "auto" if X is None else "user"
        self._X_train, self._y_train = X_train, np.asarray(y_train)
        self._X = X
        self._y = None if y is None else np.asarray(y)
        self.device = device
        self.generator = generator
        self.indices = np.empty(0, dtype=np.intp)
        self._member = torch.zeros(len(self._y_train), dtype=torch.bool)  # on the host
        self._weights = None if y is None else self._class_weights(self._y)
        self._stale = False  # member and weights follow indices lazily: only meta steps use them

    @staticmethod
    def _class_weights(labels):
        """Per-row draw weights, or None when every class has as many rows (uniform)."""
        sizes = np.bincount(labels)
        if len(np.unique(sizes[sizes > 0])) <= 1:
            return None
        return torch.as_tensor(1.0 / sizes[labels], dtype=torch.float64)

    def refresh(self, indices):
        """Make the automatic set these training positions (a user set stays as given)."""
        if self.source == "user":
            return
        self.indices = np.asarray(indices, dtype=np.intp)
        self._stale = True

    def _sync(self):
        if self._stale:
            self._member = torch.zeros(len(self._y_train), dtype=torch.bool)
            self._member[torch.from_numpy(self.indices)] = True
            self._weights = self._class_weights(self._y_train[self.indices])
            self._stale = False

    @property
    def member(self):
        """torch.Tensor of bool, shape (n_samples,), on the host: which training samples are
        in the set."""
        self._sync()
        return self._member

    def __len__(self):
        return len(self._y) if self.source == "user" else len(self.indices)

    def contains(self, indices):
        """Whether each training position is in the (automatic) set.

        Parameters
        ----------
        indices : torch.Tensor of int64
            On the host (``BatchTargets.host_indices``).

        Returns
        -------
        mask : torch.Tensor of bool, on the host
        """
        return self.member[indices.cpu() if isinstance(indices, torch.Tensor) else indices]

    def batch(self, size):
        """A class-balanced random batch of the set, on the device.

        Parameters
        ----------
        size : int
            At most this many samples (at least one).

        Returns
        -------
        X : torch.Tensor
        y : torch.Tensor of int64
        """
        self._sync()
        n = len(self)
        size = max(1, min(size, n))
        if self._weights is None:
            rows = torch.randperm(n, generator=self.generator)[:size].numpy()
        else:
            rows = torch.multinomial(self._weights, size, replacement=False,
                                     generator=self.generator).numpy()
        if self.source == "user":
            X, y = self._X[rows], self._y[rows]
        else:
            chosen = self.indices[rows]
            X, y = self._X_train[chosen], self._y_train[chosen]
        return (X.to(self.device, non_blocking=True),
                torch.as_tensor(y, dtype=torch.long).to(self.device, non_blocking=True))


class TrainingEngine:
    """State and per-epoch work of one fit: Algorithm 1 around a strategy (a :class:`Procedure`).

    Parameters
    ----------
    config : Config
        Hyperparameters.
    strategy : BaseStrategy
        The noisy-label method (a fresh object, owned by this fit).
    X : torch.Tensor
        Training inputs (CPU).
    y : ndarray of int
        Encoded given labels.
    sample_weight : ndarray or None
    n_classes : int
    device : str
        Where the losses are computed.
    random_state : numpy.random.RandomState
        For the strategy and the outer step.
    generator : torch.Generator
        For the outer step's mini-batches and the trusted batches.
    trusted : tuple of (torch.Tensor, ndarray), default=None
        A trusted set from the user (inputs, encoded labels).
    resume : dict, default=None
        :meth:`state` of a finished fit to continue (warm start): tau, prior,
        alpha and the record go on from there, and the strategy, already
        prepared, is not prepared again.
    """

    def __init__(self, config, strategy, *, X, y, sample_weight, n_classes, device,
                 random_state, generator, trusted=None, resume=None):
        self.config = config
        self.strategy = strategy
        self.X = X
        self.y = np.asarray(y)
        self.sample_weight = sample_weight
        self.n_classes = n_classes
        self.device = device
        self.random_state = random_state
        self.generator = generator
        self.record = Record()

        self.fixed_prior = not isinstance(config.prior, str)
        self.prior = initial_prior(config.prior, self.y, n_classes, adapts=config.row.adapts,
                                   sample_weight=sample_weight)
        self.tau = float(config.tau)
        self.alpha = self.tau * np.log(self.prior)
        # label quality: the given label's probability, summed over the fit's score passes
        self.quality_sum, self.quality_passes = np.zeros(len(self.y)), 0
        self.resumed = resume is not None
        if self.resumed:
            self.tau, self.alpha = resume["tau"], resume["alpha"].copy()
            if np.array_equal(resume["labels"], self.y):  # the same labels: the mean goes on
                self.quality_sum = resume["quality_sum"].copy()
                self.quality_passes = resume["quality_passes"]
            self.prior = self.prior if self.fixed_prior else resume["prior"].copy()
            self.record = copy.deepcopy(resume["record"])
            self.record.seconds = dict.fromkeys(self.record.seconds, 0.0)
            if hasattr(strategy, "seconds_"):
                strategy.seconds_ = dict.fromkeys(strategy.seconds_, 0.0)
        self.split = None
        self.score_extras = {}  # what the last score pass computed beside the logits
        self.bc_indices = None
        self.split_takes_context = "context" in inspect.signature(strategy.split).parameters
        X_trusted, y_trusted = (None, None) if trusted is None else trusted
        self.trusted = TrustedSet(X, self.y, X=X_trusted, y=y_trusted, device=device,
                                  generator=generator)
        self.labels = torch.as_tensor(self.y, dtype=torch.long)  # the given labels, on the host

        self.context = TrainingContext(
            epoch=0, max_epochs=config.max_epochs, warmup_epochs=config.warmup_epochs,
            prior=self.prior, augment=config.augment, mixup_alpha=config.mixup_alpha,
            random_state=random_state, generator=generator, inputs=X, labels=self.y,
            n_classes=n_classes, trusted=self.trusted,
        )
        self._set_targets(None)

    # --- the net's hooks ------------------------------------------------------------

    def extra_modules(self, module):
        return self.strategy.extra_modules(module)

    def begin_training(self, net):
        if not self.resumed:
            with net.autocast():  # a strategy may run the network to size its meta model
                self.strategy.prepare(net, self.context)

    @property
    def passes_per_epoch(self):
        """Passes over the training data each epoch: the strategy's (one per network for
        a strategy that trains them one after the other)."""
        return getattr(self.strategy, "passes_per_epoch", 1)

    def begin_pass(self, index):
        """The net starts pass ``index`` of a strategy with several: it trains network
        ``index`` (``TrainingContext.network``)."""
        self.context.network = index

    def begin_epoch(self, net):
        epoch = len(net.history)  # skorch has just opened this epoch's row: 1-based
        if epoch > self.config.warmup_epochs:
            self._update(net)
        self.context.epoch, self.context.prior = epoch, self.prior
        self._log(net, in_warmup=epoch <= self.config.warmup_epochs)

    def end_training(self, net):
        """Outer step and selection on the final model, so tau_, alpha and the label issues
        describe what was trained (Algorithm 1 ends each epoch with the outer step)."""
        # a warm start's first pass scores these weights again: it goes on without this one
        self.resumable_quality = self.quality_sum.copy(), self.quality_passes
        logits = self._update(net)
        alpha = torch.as_tensor(self.alpha, dtype=logits.dtype)
        self.label_quality = self.quality_sum / self.quality_passes
        if self.config.row.in_prediction:  # what predict() gives for each training sample
            logits = logits - alpha
        self.predicted_labels = logits.argmax(dim=1).numpy()

    # --- Algorithm 1, steps 1-5 -------------------------------------------------------

    def _update(self, net):
        """Steps 1-5 on the current weights, each timed into ``timings_``; the raw logits."""
        with self._timed("score_pass"):
            scores, logits = self._score(net)  # 1. raw logits of every training sample
        with self._timed("unlocker"):
            self._accumulate_quality(logits)
            self._outer_step(logits)  # 2. tau on the last D_bc, then the EMA of alpha
        with self._timed("selection"):
            selection_logits = self._select(scores, logits)  # 3. select, correct
        self._record_unselected()
        with self._timed("unlocker"):
            self._refresh_trusted()  # 4. D_bc (or the strategy's own trusted set)
            self._estimate_prior(selection_logits)  # 5. the prior of the cleaned labels
        self._set_targets(self.split)
        return logits

    @contextlib.contextmanager
    def _timed(self, name):
        """Add the block's seconds to ``record.seconds[name]`` (a block that raises adds none)."""
        start = time.perf_counter()
        yield
        self.record.seconds[name] += time.perf_counter() - start

    def _score(self, net):
        """Step 1: every network's logits (n_networks, n, C) and their mean, all finite."""
        with net.batch_statistics(self.config.refresh_batchnorm):
            scores = self.strategy.score_training(net, self.X, self.y)
        # what else the pass computed for the split travels beside the logits
        scores, self.score_extras = ((scores.logits, scores.extras) if isinstance(scores, Scores)
                                     else (scores, {}))
        logits = scores.mean(dim=0)
        if not torch.isfinite(logits).all():
            raise FloatingPointError(self._diverged(
                net, "the network's logits on the training set are not all finite", self.X))
        return scores, logits

    def _select(self, scores, logits):
        """Step 3: the strategy's split on ``z - alpha`` (where the row selects on it), kept
        in ``self.split``; returns the logits it judged."""
        if self.config.row.in_selection:
            shift = torch.as_tensor(self.alpha, dtype=logits.dtype)
            scores, selection_logits = scores - shift, logits - shift
        else:
            selection_logits = logits
        if self.context.noise_direction is None and getattr(
                self.strategy, "needs_noise_direction", False):  # once, at the first selection
            self.context.noise_direction = self._noise_direction(logits)
        one_network = getattr(self.strategy, "n_networks", 1) == 1
        split = self.strategy.split(scores[0] if one_network else scores,
                                    self.y, sample_weight=self.sample_weight,
                                    random_state=self.random_state,
                                    **({"context": self.context} if self.split_takes_context
                                       else {}), **self.score_extras)
        self.split = split._replace(**{name: np.asarray(getattr(split, name))
                                       for name in Split._fields})
        return selection_logits

    def _record_unselected(self):
        """Count an epoch in which a class present in y has no sample judged clean."""
        present = np.bincount(self.y, minlength=self.n_classes) > 0
        kept = np.bincount(self.y[self.split.clean_mask], minlength=self.n_classes) > 0
        if np.any(present & ~kept):  # a class the method trains on no given label of
            self.record.epochs_with_unselected_class += 1
            self.record.unselected_classes.update(np.flatnonzero(present & ~kept).tolist())

    def _refresh_trusted(self):
        """Step 4: D_bc from the split, and the trusted set (the strategy's own, if any)."""
        self.bc_indices = balanced_clean_subset(
            self.split.clean_proba, self.split.clean_mask, self.y, self.n_classes,
            fraction=self.config.bc_fraction, min_per_class=self.config.bc_min_per_class,
        )
        own = self.strategy.select_trusted(self.split, self.y, self.n_classes,
                                           self.random_state)
        self.trusted.refresh(self.bc_indices if own is None else own)

    def _accumulate_quality(self, logits):
        """Add this pass's probability of each given label to the fit's running sum.

        ``label_quality`` is its mean over the score passes: Dataset Cartography's
        confidence (Swayamdipta et al., 2020), on the raw logits. On the
        development grid it ranked the wrong labels with AUROC 0.917 against 0.835
        for the final model's probability on the selection logits and 0.867 for
        cleanlab's out-of-fold self-confidence (benchmarks/results/
        development_label_quality.md).
        """
        self.quality_sum += torch.exp(-row_cross_entropy(logits.double(), self.labels)).numpy()
        self.quality_passes += 1

    def _noise_direction(self, logits):
        """:func:`noise_direction` of the balanced logits: the network's estimate of the
        given labels' posterior (``z + alpha`` where the loss adds alpha, else ``z``)
        less the given labels' log prior."""
        label_prior = initial_prior("ir_aware", self.y, self.n_classes,
                                    sample_weight=self.sample_weight)
        shift = -np.log(label_prior) + (self.alpha if self.config.row.in_loss else 0.0)
        return noise_direction(logits + torch.as_tensor(shift, dtype=logits.dtype), self.y,
                               self.n_classes, sample_weight=self.sample_weight)

    def _outer_step(self, logits):
        """Step 2: new tau on D_bc (from the previous epoch), then the EMA of alpha."""
        config = self.config
        if config.row.learns_tau and self.bc_indices is not None and len(self.bc_indices):
            self.tau, clipped = solve_tau(
                self.tau, logits.numpy()[self.bc_indices], np.log(self.prior),
                self.y[self.bc_indices], solver=config.tau_solver, lr=config.tau_lr,
                steps=config.tau_steps, batch_size=config.batch_size,
                bounds=config.tau_bounds, random_state=self.random_state,
            )
            self.record.tau_clipped += int(clipped)
        if config.row.adapts:
            self.alpha = ema_update(self.alpha, self.tau * np.log(self.prior), config.ema_beta)

    def _estimate_prior(self, selection_logits):
        """Step 5: the class prior from the cleaned labels."""
        if self.fixed_prior or not self.config.row.adapts:
            return
        prior, empty = estimate_prior(
            self.config.prior, self.y, self.n_classes, clean_mask=self.split.clean_mask,
            corrected_labels=self.split.corrected_labels, selection_logits=selection_logits,
            previous=self.prior, max_change=self.config.max_prior_change,
            sample_weight=self.sample_weight,
        )
        if empty.any():
            self.record.epochs_with_empty_class += 1
            self.record.empty_prior_classes.update(np.flatnonzero(empty).tolist())
        self.prior = prior

    # --- step 6: the loss -------------------------------------------------------------

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
        # every field on the host too, where a batch's masks are built (BatchTargets.host)
        self.host_tensors = {
            **{name: as_tensor(np.ascontiguousarray(value)) for name, value in extra.items()},
            "target": as_tensor(np.where(clean, self.y, corrected), dtype=torch.long),
            "weight": as_tensor(sample_weight * weights, dtype=torch.float32),
            "clean_mask": as_tensor(clean),
            "labels": self.labels,
            "corrected_labels": as_tensor(corrected, dtype=torch.long),
            "confidence": as_tensor(confidence, dtype=torch.float32),
            "sample_weight": as_tensor(sample_weight, dtype=torch.float32),
        }
        self.epoch_tensors = {name: tensor.to(device) for name, tensor in
                              self.host_tensors.items()}
        self.loss_adjustment = (as_tensor(self.alpha, dtype=torch.float32, device=device)
                                if self.config.row.in_loss else None)

    def _targets(self, indices):
        # positions on the host (an accelerate-prepared loader may already have moved them)
        host = indices if indices.device.type == "cpu" else None
        return BatchTargets(indices.to(self.device, non_blocking=True), self.epoch_tensors,
                            self.loss_adjustment, self.unit_weight, host_indices=host,
                            host_tensors=self.host_tensors)

    def train_step(self, net, X, indices):
        """One mini-batch: the strategy's loss, then backward (skorch steps the optimizer).

        A strategy that sets the gradients itself (the meta-learning ones) returns a
        loss without grad, and nothing is back-propagated here.
        """
        X = X.to(net.device, non_blocking=True)  # asynchronous from pinned memory (CUDA)
        with net.autocast():
            loss, logits = self.strategy.train_step(net, X, self._targets(indices), self.context)
        if loss.requires_grad:
            net.backward(loss)
        return {"loss": loss, "y_pred": logits}

    def check_loss(self, net, value, X):
        """Stop a fit whose logged training loss (skorch's read of the step's loss) is not
        finite; read there, the check costs the device no synchronisation of its own."""
        if not math.isfinite(value):
            raise FloatingPointError(self._diverged(net, f"the training loss became {value}", X))

    def _diverged(self, net, what, X):
        """The message for a fit that went non-finite: where, and the likely causes."""
        largest = (float(X.abs().max()) if isinstance(X, torch.Tensor) and X.numel()
                   and X.is_floating_point() else float("nan"))
        return (f"{what} in epoch {max(self.context.epoch, 1)} (training stopped): the "
                f"learning rate may be too high (lr={net.lr}) or the inputs unscaled (largest "
                f"|x| {largest:.3g}); scale X (e.g. sklearn's StandardScaler) or lower lr. A "
                f"module that returns NaN or inf fails the same way.")

    def loss(self, y_pred, indices):
        """The strategy's loss of logits ``y_pred`` for the samples at ``indices``."""
        return self.strategy.loss(y_pred, self._targets(indices))

    def prediction_logits(self, net, X):
        """The logits the estimator predicts with now: the networks' mean, adjusted by
        alpha where the row adjusts predictions (evaluation mode, no grad, CPU)."""
        logits = self.strategy.score(net, X).mean(dim=0)
        if self.config.row.in_prediction:
            logits = logits - torch.as_tensor(self.alpha, dtype=logits.dtype)
        return logits

    # --- bookkeeping ------------------------------------------------------------------

    def _log(self, net, in_warmup):
        record = self.record
        ratio = float(self.prior.max() / self.prior.min())
        clean = 1.0 if self.split is None else float(self.split.clean_mask.mean())
        record.tau.append(self.tau)
        record.prior.append(self.prior.copy())
        record.imbalance_ratio.append(ratio)
        record.clean_fraction.append(clean)
        record.trusted_size.append(0 if in_warmup else len(self.trusted))
        net.history.record("tau", self.tau)
        net.history.record("est_ir", ratio)
        net.history.record("clean", clean)

    def state(self):
        """What a warm start continues from: tau, alpha, prior, the record and the label
        quality's running sum."""
        return {"tau": self.tau, "alpha": self.alpha.copy(), "prior": self.prior.copy(),
                "record": self.record, "labels": self.y.copy(),
                "quality_sum": self.resumable_quality[0],
                "quality_passes": self.resumable_quality[1]}

    def timings(self):
        """Seconds per part of the engine's work, plus the strategy's own (``seconds_``)."""
        return {**self.record.seconds, **getattr(self.strategy, "seconds_", {})}
