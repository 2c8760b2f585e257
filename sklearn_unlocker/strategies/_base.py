"""The strategy interface: the noisy-label method "A" of Unlocker's Algorithm 1.

A strategy decides which labels to trust and how to train; the engine does
the rest (the adjustment alpha, the prior, the balanced clean subset D_bc, tau).
Each epoch after the warm-up the engine

1. scores every training sample with :meth:`BaseStrategy.score_training` (raw
   logits, one row block per network),
2. subtracts alpha when the adjustment is used for selection and asks
   :meth:`BaseStrategy.split` for a :class:`Split`: per sample a clean
   probability, a clean mask, a corrected label and its confidence,
3. builds D_bc, which is also the trusted set ``context.trusted`` of the
   meta-learning strategies (:meth:`BaseStrategy.select_trusted` may choose
   another),
4. trains one epoch, calling :meth:`BaseStrategy.train_step` on each
   mini-batch with its :class:`BatchTargets` and the epoch's
   :class:`TrainingContext`.

The default ``train_step`` is a forward pass (optionally with mixup) and
:meth:`BaseStrategy.loss`; a single-network strategy usually implements
``split`` only. A strategy with more networks (DivideMix) also sets
``n_networks``, builds them in :meth:`BaseStrategy.extra_modules` and writes its
own ``train_step``; one with meta parameters (the meta-learning strategies)
builds them in :meth:`BaseStrategy.prepare`. Strategies are scikit-learn
estimators, so their parameters are tunable as ``strategy__<name>`` in a grid
search.

``examples/plot_custom_strategy.py`` writes one from scratch.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

__all__ = ["BaseStrategy", "BatchTargets", "Split", "TrainingContext"]


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
        Confidence in ``corrected_labels``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_unlocker.strategies import BaseStrategy, Split
    >>> split = Split(clean_proba=np.array([0.9, 0.2, 0.8]),
    ...               clean_mask=np.array([True, False, True]),
    ...               corrected_labels=np.array([0, 2, 1]),
    ...               confidence=np.array([1.0, 0.7, 1.0]))
    >>> split.corrected_labels.tolist(), int(split.clean_mask.sum())
    ([0, 2, 1], 2)
    >>> BaseStrategy().training_weights(split).tolist()  # the default training weights
    [1.0, 0.7, 1.0]
    """

    clean_proba: np.ndarray
    clean_mask: np.ndarray
    corrected_labels: np.ndarray
    confidence: np.ndarray


class Scores(NamedTuple):
    """What a score pass returns when a strategy needs more than logits from it.

    :meth:`BaseStrategy.score_training` may return this instead of the logits
    alone; the engine hands ``extras`` to :meth:`BaseStrategy.split` as keyword
    arguments, so that what the epoch's verdict reads travels with it.

    Attributes
    ----------
    logits : torch.Tensor of shape (n_networks, n_samples, n_classes)
    extras : dict
        Per-sample arrays computed in the same pass (e.g. a meta model's
        corrections), keyed by ``split``'s keyword names.

    Examples
    --------
    A score pass that also reports a per-sample margin, which ``split`` then
    takes as a keyword:

    >>> import numpy as np
    >>> import torch
    >>> from sklearn_unlocker.strategies import Scores
    >>> logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])  # (n_networks, n, C)
    >>> scores = Scores(logits, {"margin": np.array([2.0, 1.0])})
    >>> scores.logits.shape, sorted(scores.extras)
    (torch.Size([1, 2, 2]), ['margin'])
    """

    logits: torch.Tensor
    extras: dict


@dataclass
class TrainingContext:
    """What a training step may need beyond its batch; updated by the engine each epoch.

    Attributes
    ----------
    epoch : int
        Current epoch, counted from 1.
    max_epochs : int
        Epochs of the fit.
    warmup_epochs : int
        Epochs of warm-up (training on every given label, no selection).
    prior : ndarray of shape (n_classes,)
        Current estimate of the class prior.
    augment : callable or None
        Maps a batch of inputs to an augmented batch (independent per sample).
    mixup_alpha : float
        Beta parameter of mixup in the default step; 0 for none.
    random_state : numpy.random.RandomState
        For numpy randomness.
    generator : torch.Generator
        For torch randomness (permutations).
    inputs : torch.Tensor or None
        Every training input (on the CPU), for a step that draws samples beyond its
        batch (DivideMix's unlabelled batches); index it with training positions.
    labels : ndarray of int or None
        Every given label, encoded ``0 .. n_classes-1``.
    n_classes : int or None
        Number of classes.
    trusted : TrustedSet or None
        The trusted set of the meta-learning strategies: the user's
        (``fit(..., X_trusted=, y_trusted=)``) or the epoch's D_bc;
        ``trusted.batch(size)`` draws a class-balanced batch and
        ``trusted.contains(indices)`` tells which training samples are in it.
    noise_direction : float or None
        Which way the label noise runs between class sizes, as the model sees it
        at the fit's first selection (:func:`~sklearn_unlocker.adjustment.noise_direction`
        of its balanced logits; read once, so a fit pays for it once): positive
        where the noise hides the tail; None before that selection.
    network : int or None
        The network this pass over the data trains, for a strategy whose
        ``passes_per_epoch`` is above 1 (network k in pass k, as DivideMix's
        code trains its two networks one after the other); None where every
        network trains in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_unlocker.strategies import TrainingContext
    >>> context = TrainingContext(epoch=2, max_epochs=10, warmup_epochs=3,
    ...                           prior=np.array([0.8, 0.2]), augment=None, mixup_alpha=0.0,
    ...                           random_state=np.random.RandomState(0),
    ...                           generator=torch.Generator().manual_seed(0))
    >>> context.in_warmup, context.prior.tolist(), context.n_classes is None
    (True, [0.8, 0.2], True)
    """

    epoch: int
    max_epochs: int
    warmup_epochs: int
    prior: np.ndarray
    augment: object
    mixup_alpha: float
    random_state: np.random.RandomState
    generator: torch.Generator
    inputs: object = None
    labels: object = None
    n_classes: int = None
    trusted: object = None
    noise_direction: float = None
    network: int = None

    @property
    def in_warmup(self):
        """Whether the current epoch is a warm-up epoch."""
        return self.epoch <= self.warmup_epochs


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
    indices : torch.Tensor of int64, shape (batch,)
        Positions of the batch's samples in the training set.
    host_indices : torch.Tensor of int64, shape (batch,)
        The same positions in host memory: masks and gathers over per-sample
        arrays a strategy keeps on the host cost the device no synchronisation.
    adjustment : torch.Tensor of shape (n_classes,) or None
        alpha as the loss should apply it to clean samples (``z + alpha``); ``None``
        when the logit adjustment is not part of the loss.
    unit_weight : bool
        True when every sample of the epoch has weight 1 (the loss may then be a
        plain mean).

    Any array a strategy returns from :meth:`BaseStrategy.batch_fields` is a
    field too, under its key.

    Examples
    --------
    The engine builds the targets of each mini-batch from the epoch's per-sample
    tensors; a loss reads them as fields:

    >>> import torch
    >>> from sklearn_unlocker.strategies import BaseStrategy, BatchTargets
    >>> epoch = {"target": torch.tensor([0, 1, 1, 2]),
    ...          "weight": torch.tensor([1.0, 0.5, 1.0, 0.25])}
    >>> targets = BatchTargets(torch.tensor([1, 3]), epoch, adjustment=None)
    >>> targets.target.tolist(), targets.weight.tolist()
    ([1, 2], [0.5, 0.25])
    >>> targets.take(torch.tensor([False, True])).target.tolist()
    [2]
    >>> round(float(BaseStrategy().loss(torch.zeros(2, 3), targets)), 4)  # log(3) * 0.75 / 2
    0.412
    """

    def __init__(self, rows, epoch_tensors, adjustment, unit_weight=False, host_indices=None,
                 host_tensors=None):
        self.indices = rows
        self._host_indices = host_indices
        self._host = host_tensors or {}
        self._epoch = epoch_tensors
        self.adjustment = adjustment
        self.unit_weight = unit_weight

    def __getattr__(self, name):  # only called for attributes not set yet
        epoch = self.__dict__.get("_epoch", {})
        if name in epoch:
            value = epoch[name][self.indices]
            setattr(self, name, value)
            return value
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    @property
    def host_indices(self):
        if self._host_indices is None:  # a copy from the device, once
            self._host_indices = self.indices.cpu()
        return self._host_indices

    def host(self, name):
        """The batch's rows of a per-sample field, in host memory.

        A mask built from them picks the batch's rows with device gathers
        (``index_select``) instead of a boolean mask over device data, which
        makes the host wait for the device.

        Parameters
        ----------
        name : str
            A field (``"clean_mask"``, a :meth:`BaseStrategy.batch_fields` key, ...).

        Returns
        -------
        values : torch.Tensor
        """
        source = self._host.get(name)
        if source is None:  # the engine keeps host copies; elsewhere, a copy per call
            source = self._epoch[name].cpu()
        return source[self.host_indices]

    def take(self, rows):
        """The targets of some of the batch's samples (a mask or positions), in that order.

        Parameters
        ----------
        rows : torch.Tensor of bool or int64
            Which samples of the batch; on the host, the selection costs a device
            no synchronisation.

        Returns
        -------
        targets : BatchTargets
        """
        if rows.dtype == torch.bool:  # on the device, this waits for it: pass host rows
            rows = rows.nonzero()[:, 0]
        host = (self._host_indices[rows] if self._host_indices is not None
                and rows.device == self._host_indices.device else None)
        return BatchTargets(
            self.indices.index_select(0, rows.to(self.indices.device, non_blocking=True)),
            self._epoch, self.adjustment, self.unit_weight, host_indices=host,
            host_tensors=self._host)

    def at(self, indices):
        """The targets of other training samples, by their positions in the training set.

        Parameters
        ----------
        indices : torch.Tensor of int64
            Training positions (on the device).

        Returns
        -------
        targets : BatchTargets
        """
        return BatchTargets(indices, self._epoch, self.adjustment, self.unit_weight,
                            host_tensors=self._host)


class BaseStrategy(BaseEstimator):
    """Base class of noisy-label strategies.

    Subclasses implement :meth:`split`; they may override any other hook.
    Parameters go in ``__init__`` as keyword arguments stored unchanged, as for
    any scikit-learn estimator.

    Attributes
    ----------
    n_networks : int
        Networks the strategy trains (1 unless it builds more in
        :meth:`extra_modules`).
    passes_per_epoch : int
        Passes over the training data in an epoch (1): a strategy that trains
        its networks one after the other makes one pass per network and reads
        which one from ``TrainingContext.network``.
    needs_views : bool
        Whether training compares augmented views of each sample (DivideMix's
        co-guessing): with ``augment=None`` the estimator then uses
        :func:`~sklearn_unlocker.augment.default_views` instead of two identical views.
    uses_mixup_alpha : bool or {"warmup"}
        Whether training reads ``TrainingContext.mixup_alpha`` (the estimator's
        ``mixup_alpha``): True, False (DivideMix mixes with its own ``alpha``), or
        "warmup" (the meta-learning strategies: only the warm-up's plain steps mix).
        The estimator warns when ``mixup_alpha`` is set for a strategy that ignores
        it, in part or whole.
    needs_noise_direction : bool
        Whether :meth:`split` reads ``TrainingContext.noise_direction``; the engine
        computes it (one more pass over the logits) only for a strategy that does.
    judges_labels : bool
        Whether :meth:`split` judges the labels. A strategy that trusts every label
        (:class:`NoSelection`) sets it to False; the label-issue table then flags the
        training samples the fitted model predicts as another class (cleanlab's
        ``filter_by="predicted_neq_given"``, on the fit's own predictions).

    Examples
    --------
    A strategy that keeps a label when the (adjusted) probability of the given
    label reaches its class's mean (confident learning's per-class threshold;
    ``examples/plot_custom_strategy.py`` explains it):

    >>> import numpy as np
    >>> import torch
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> from sklearn_unlocker.strategies import BaseStrategy, Split
    >>> class ConfidentThreshold(BaseStrategy):
    ...     def split(self, logits, y, *, sample_weight=None, random_state=None):
    ...         proba = torch.softmax(logits.double(), dim=1).numpy()
    ...         given = proba[np.arange(len(y)), y]
    ...         n_classes = proba.shape[1]
    ...         mean = (np.bincount(y, weights=given, minlength=n_classes)
    ...                 / np.maximum(np.bincount(y, minlength=n_classes), 1))
    ...         clean = given >= mean[y]
    ...         return Split(clean_proba=given, clean_mask=clean,
    ...                      corrected_labels=np.where(clean, y, proba.argmax(axis=1)),
    ...                      confidence=np.where(clean, 1.0, proba.max(axis=1)))
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_test_per_class=10,
    ...                           imbalance_ratio=5, noise_rate=0.2, random_state=0)
    >>> clf = UnlockerClassifier(strategy=ConfidentThreshold(), max_epochs=3, warmup_epochs=1,
    ...                          random_state=0).fit(data.X_train, data.y_train)
    >>> type(clf.strategy_).__name__, clf.predict(data.X_test[:3]).shape
    ('ConfidentThreshold', (3,))
    """

    n_networks = 1
    passes_per_epoch = 1
    needs_views = False
    needs_noise_direction = False
    judges_labels = True
    uses_mixup_alpha = True

    def check_accelerator(self, num_processes):
        """Raise ``ValueError`` if the strategy cannot train under an ``accelerate``
        accelerator with ``num_processes`` processes; every strategy can by default.

        Parameters
        ----------
        num_processes : int
        """

    def extra_modules(self, module):
        """Modules to build beside the estimator's module, e.g. a second network.

        Called once per fit inside skorch's ``initialize_module``, after the main
        module exists, with the random state seeded, so that the modules are moved
        to the device, trained by the same optimizer and pickled with the net.

        Parameters
        ----------
        module : torch.nn.Module
            The estimator's (initialized) module.

        Returns
        -------
        modules : dict of str to torch.nn.Module
            Each is set on the net as ``<name>_``; default: none.
        """
        return {}

    def prepare(self, net, context):
        """Build what the strategy trains beside the net (meta models, their optimizers).

        Called once per fit when training begins (skorch's ``on_train_begin``), with
        the random state seeded and the net initialized. Default: nothing.

        Parameters
        ----------
        net : skorch.NeuralNet
            The estimator's net (``net.module_``, ``net.device``).
        context : TrainingContext
            Labels, number of classes, inputs.
        """

    def score_training(self, net, X, y):
        """The score pass over the training set; :meth:`score` by default.

        A strategy that needs more than logits from this pass (a meta model's
        corrections, computed batch by batch beside the logits) returns
        :class:`Scores`, whose ``extras`` reach :meth:`split` as keyword arguments.

        Parameters
        ----------
        net : skorch.NeuralNet
        X : torch.Tensor of shape (n_samples, ...)
            Training inputs.
        y : ndarray of int, shape (n_samples,)
            Given labels, encoded.

        Returns
        -------
        logits : torch.Tensor of shape (n_networks, n_samples, n_classes), or Scores
        """
        return self.score(net, X)

    def select_trusted(self, split, y, n_classes, random_state):
        """This epoch's automatic trusted set, or None for the engine's D_bc (the default).

        Parameters
        ----------
        split : Split
            The epoch's verdict.
        y : ndarray of int
            Given labels, encoded.
        n_classes : int
        random_state : numpy.random.RandomState

        Returns
        -------
        indices : ndarray of int or None
        """
        return None

    def score(self, net, X):
        """Raw logits of every sample, one block per network.

        Parameters
        ----------
        net : skorch.NeuralNet
            The estimator's net: ``net.networks()`` lists the main module and the
            extra ones; ``net.logits(X, module)`` runs one in evaluation mode
            without grad.
        X : torch.Tensor of shape (n_samples, ...)
            Inputs.

        Returns
        -------
        logits : torch.Tensor of shape (n_networks, n_samples, n_classes)
            Unlocker uses their mean over networks for its outer step, its prior
            and predictions.
        """
        return net.logits(X)[None]

    def split(self, logits, y, *, sample_weight=None, random_state=None):
        """Judge every training sample.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Logits of all training samples from the current model, on the CPU,
            already post-hoc adjusted (``z - alpha``) when the adjustment is used
            for selection. A strategy with ``n_networks > 1`` receives the
            per-network logits, of shape (n_networks, n_samples, n_classes).
        y : ndarray of int, shape (n_samples,)
            Given labels, encoded ``0 .. n_classes-1``.
        sample_weight : ndarray of shape (n_samples,), default=None
            Sample weights, if any.
        random_state : RandomState
            For any randomness.
        context : TrainingContext, optional
            The epoch's context (e.g. ``context.noise_direction``); the engine
            passes it only to a ``split`` that takes a ``context`` keyword.

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
            (sample weights are multiplied in by the engine).
        """
        return np.where(split.clean_mask, 1.0, split.confidence)

    def batch_fields(self, split):
        """Extra per-sample arrays a training step may read from its :class:`BatchTargets`.

        Parameters
        ----------
        split : Split
            The verdict of :meth:`split`.

        Returns
        -------
        fields : dict of str to ndarray of shape (n_samples, ...)
            Default: none.
        """
        return {}

    def train_step(self, net, X, targets, context):
        """Loss of one mini-batch (the engine calls ``backward``; skorch steps the optimizer).

        A step that sets the main parameters' ``.grad`` itself returns a loss
        without grad (the engine then does not back-propagate it).

        The default is a forward pass (of the batch augmented by
        ``context.augment``, if any) and :meth:`loss`. With
        ``context.mixup_alpha > 0`` it is mixup (Zhang et al. 2018): each sample
        mixed with a random partner, ``x = lam x_i + (1 - lam) x_j`` with ``lam ~
        Beta(a, a)`` and ``lam = max(lam, 1 - lam)`` as in DivideMix, and the two
        samples' own losses mixed, ``lam L_i + (1 - lam) L_j``, so each branch keeps
        its target, weight and adjustment.

        Parameters
        ----------
        net : skorch.NeuralNet
            The estimator's net (``net.infer`` runs the main module in training mode).
        X : torch.Tensor
            The batch's inputs, on the device (not augmented: ``context.augment``
            is for the step to apply).
        targets : BatchTargets
            The batch's labels, split and weights.
        context : TrainingContext
            Epoch, prior, randomness.

        Returns
        -------
        loss : torch.Tensor
            0-d tensor with grad.
        logits : torch.Tensor
            Logits of the batch (for skorch's callbacks).
        """
        if context.augment is not None:
            X = context.augment(X)
        a = context.mixup_alpha
        if a > 0 and len(X) > 1:
            lam = float(context.random_state.beta(a, a))
            lam = max(lam, 1.0 - lam)
            partner = torch.randperm(len(X), generator=context.generator).to(
                X.device, non_blocking=True)
            logits = net.infer(lam * X + (1.0 - lam) * X[partner])
            loss = (lam * self.loss(logits, targets)
                    + (1 - lam) * self.loss(logits, targets.take(partner)))
            return loss, logits
        logits = net.infer(X)
        return self.loss(logits, targets), logits

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
