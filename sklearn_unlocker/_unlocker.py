"""UnlockerClassifier: the scikit-learn face of Unlocker (NeurIPS 2025)."""

import inspect
import warnings
from numbers import Integral, Real

import numpy as np
import torch

from ._base import NeuralClassifierBase
from ._engine import ROWS, Config
from ._sklearn_compat import HasMethods, Interval, StrOptions
from .adjustment import (
    BC_FRACTION,
    BC_MIN_PER_CLASS,
    EMA_BETA,
    MAX_PRIOR_CHANGE,
    PRIOR_MODES,
    TAU_BOUNDS,
    TAU_LR,
)
from .augment import resolve_augment
from .exceptions import UnlockerWarning
from .strategies import STRATEGIES, BaseStrategy, MetaStrategy, resolve_strategy

__all__ = ["UnlockerClassifier"]


class UnlockerClassifier(NeuralClassifierBase):
    """Classifier for long-tailed, label-noisy data: Unlocker around any torch module.

    Each epoch a noisy-label strategy (DivideMix by default) keeps the samples
    whose labels look clean and corrects the others, judging them on
    logit-adjusted predictions (``alpha = tau * log pi``); the clean samples
    train on the logit-adjusted loss. With ``logit_adjustment="unlocker"`` the
    class prior ``pi`` is also re-estimated each epoch and ``tau`` is learned on
    a small balanced clean subset (D_bc) picked from the training data (Chen et
    al., "Unlocker", NeurIPS 2025, Algorithm 1; see the
    :ref:`user guide <algorithm>`).

    Use it as any scikit-learn classifier: ``UnlockerClassifier().fit(X,
    y_noisy).predict(X_test)``, with ``module=`` for your own torch network and
    ``find_label_issues()`` for the labels it judges wrong. The defaults
    (DivideMix with logit adjustment, tau 1) are the strongest method on our
    benchmarks; the :ref:`user guide <which-method>` says when to choose
    another strategy or row, and what each costs.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network: maps a batch of X to ``(batch, n_classes)`` logits. A class is
        built with its ``module__*`` parameters; ``n_features``, ``n_classes`` and
        ``in_channels`` are filled from the data when it accepts them and they are
        not given. An instance is deep-copied, never trained in place. ``None``
        builds :class:`~sklearn_unlocker.modules.MLP` (N-D input is flattened).
    strategy : str or BaseStrategy, default="dividemix"
        The noisy-label method: "dividemix" is DivideMix (two networks, co-divide,
        co-refinement, co-guessing, MixMatch; about 4x the fit time of plain
        cross-entropy; without ``augment`` it gets
        :func:`~sklearn_unlocker.augment.default_views`); "small_loss" splits
        samples by a two-component Gaussian mixture per class on their (adjusted)
        loss and trains on the clean part (near plain cross-entropy's cost);
        "none" trains on every given label. The meta-learning methods "mlc",
        "mlc_d", "ebomlc" (meta label correction,
        :class:`~sklearn_unlocker.strategies.MetaLabelStrategy`) and
        "dynamic_loss" (:class:`~sklearn_unlocker.strategies.DynamicLossStrategy`)
        learn on a trusted set: D_bc, or the one given to ``fit``; their docstrings
        say where alpha enters them. An object (see
        :mod:`sklearn_unlocker.strategies`) is cloned, never modified. Its
        parameters, or a named strategy's, are tunable as ``strategy__<name>``
        (``set_params(strategy__p_threshold=0.3)`` on a name sets ``strategy`` to
        that strategy's object with the parameter changed).
    logit_adjustment : {"loss", "unlocker", "posthoc", "none"}, default="loss"
        The paper's four rows. "unlocker": learned tau, alpha in selection and in
        the clean samples' loss, the prior re-estimated each epoch and alpha
        smoothed by the EMA; it predicts with raw logits, as logit adjustment does
        after an adjusted loss (the paper is silent; ``argmax z`` measured ahead of
        ``argmax(z - alpha)``, see the claims page). "loss" and
        "posthoc" are standard logit adjustment (Menon et al. 2021) on top of the
        strategy: fixed ``tau`` and the prior of the given labels, neither
        re-estimated nor smoothed; "loss" puts
        alpha in selection and loss and predicts with raw logits (the paper's
        "NLL + LA"; the default), "posthoc" puts it only in prediction. The
        parameters only "unlocker" reads (``tau_solver``, ``tau_lr``,
        ``tau_steps``, ``ema_beta``, ``max_prior_change``, a ``prior`` mode) warn
        when set with another row. "none": no adjustment
        and no re-estimated prior (NLL alone; ``prior_`` is the given labels', and
        DivideMix's penalty pulls towards it).
    tau : float, default=1.0
        Initial tau when it is learned, the fixed value otherwise (the paper's 1.0).
    tau_solver : {"sgd", "appendix_sgd", "exact", "closed_form"}, default="sgd"
        Outer step: "sgd" is the paper's (``tau_steps`` passes of one gradient step
        of rate ``tau_lr`` per mini-batch of D_bc, with the true gradient, see
        :mod:`sklearn_unlocker.adjustment`); "appendix_sgd" the same steps with the
        appendix's Eq. 14 as printed, which is not the objective's gradient (for
        measuring the erratum); "exact" minimises the objective in 1-D;
        "closed_form" is the centred least-squares tau of appendix Eq. 33.
    tau_lr : float, default=0.5
        Learning rate of the "sgd" outer step.
    tau_steps : int, default=1
        Passes over D_bc per epoch of the "sgd" outer step.
    tau_bounds : tuple of float, default=(-1.0, 1.5)
        Tau is kept in this interval; reaching a bound raises an
        :class:`~sklearn_unlocker.exceptions.UnlockerWarning` after fit. The
        paper's Algorithm 1 leaves tau unbounded; the upper bound 1.5 is ours:
        where noise hides the tail the estimated prior comes out flatter than
        the true one, and an unbounded tau grows to make up for it and
        over-adjusts (the measurements: :doc:`/research/design`).
    ema_beta : float in (0, 1], default=0.5
        EMA of the adjustment, paper's convention: ``alpha <- beta * tau log pi +
        (1 - beta) * alpha``, so ``beta`` weighs the *new* value and ``1`` turns the
        EMA off.
    prior : {"ir_aware", "corrected", "clean", "observed"} or array-like, default="ir_aware"
        Class prior estimate. "corrected": given labels of the clean samples plus
        corrected (argmax) labels of the others, the paper's. "ir_aware": the clean
        samples' given labels plus the others counted by their adjusted posterior
        (expected rather than argmax labels), one pseudo-sample per class, and each
        class's prior allowed to change at most ``max_prior_change``-fold per epoch
        (so the estimated imbalance ratio at most its square); hard counts
        ("corrected") overshoot under joint noise (the
        :ref:`user guide <priors>` and :doc:`/benchmarks/trajectories`). No mode
        finds the true ratio where noise hides the tail. "clean": given labels
        of the clean samples.
        "observed": all given labels. An array of known class frequencies (in the
        order of ``classes_``) is used as given, divided by its sum, and never
        re-estimated.
    max_prior_change : float >= 1, default=2.0
        For ``prior="ir_aware"``: largest factor by which one class's estimated
        prior may change from one epoch to the next.
    bc_fraction : float in (0, 1], default=0.15
        Share q of each class in D_bc (the rebuttal's best value).
    bc_min_per_class : int, default=3
        Fewest samples per class in D_bc.
    warmup_epochs : int, default=5
        Epochs of training on every given label before selection starts (as in
        DivideMix). Where the row puts alpha in the loss ("unlocker", "loss"), the
        warm-up already uses the logit-adjusted loss with the initial ``tau`` and the
        prior of the given labels, not plain cross-entropy as DivideMix has it (the
        same accuracy on our development grid, :doc:`/research/design`), so the
        loss stays one and the same from the first epoch.
    mixup_alpha : float, default=0.0
        Mixup (Zhang et al. 2018) in training: each batch is mixed with a shuffled
        copy of itself, ``lam ~ Beta(a, a)`` with ``lam = max(lam, 1 - lam)``, and
        the loss is ``lam * L_i + (1 - lam) * L_j`` of the two samples' own losses.
        It keeps a network from memorising noisy labels it trains on, but where
        selection leaves a mostly clean set it slows an under-fitting network
        down; 0 turns it off. DivideMix mixes with its own ``alpha`` and ignores it.
    augment : callable, default=None
        Data augmentation of training batches: any callable on one sample tensor,
        e.g. a ``torchvision.transforms.v2`` transform, is applied to each sample
        of a batch independently (:class:`~sklearn_unlocker.augment.PerSample`);
        :mod:`sklearn_unlocker.augment` also has batched ``RandomShift`` (images,
        signals) and ``GaussianNoise`` (tabular). DivideMix uses it for its two
        views. ``None``: no augmentation.
    refresh_batchnorm : bool, default=True
        Re-estimate the running statistics of the module's batch-norm layers in
        each epoch's score pass over the training set (the pass that selection,
        the prior and tau read): it runs on batch statistics, in batches of a
        fixed random order, and leaves their average as the running statistics
        ("precise BN", Wu & Johnson 2021), at no extra forward pass. The
        exponential average that training keeps lags the weights when an epoch
        has few steps, and selection on stale statistics keeps noisy samples
        (measured in :doc:`/research/design`). The final pass also leaves
        statistics of the final weights for ``predict``. Modules without
        batch norm are unaffected; turn it off for batch-norm layers that must
        stay frozen. The MLC family's strategies (``"mlc"``, ``"mlc_d"``,
        ``"ebomlc"``) run a score pass of their own, which reads the statistics
        training left.
    max_epochs : int, default=60
        Training epochs, warm-up included.
    batch_size : int, default=128
        Mini-batch size (training and outer step).
    lr : float, default=3e-3
        Learning rate of ``optimizer``.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Routed parameters ``optimizer__*`` (e.g. ``optimizer__weight_decay``) go to it.
    classes : array-like, default=None
        All class labels. Fixes the output width when a training fold lacks a
        class; default: the labels seen in ``y``.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        "auto" uses CUDA when available.
    mixed_precision : {None, "bfloat16"}, default=None
        "bfloat16" runs the forward passes (training, the score pass,
        prediction) under ``torch.autocast`` in bfloat16 on the fit's device;
        the parameters and the optimizer stay float32, and bfloat16 needs no
        loss scaling. Faster and lighter on GPUs with bfloat16 units (and on
        recent CPUs); float16, which needs a gradient scaler, is not offered.
    accelerator : accelerate.Accelerator, default=None
        Train through Hugging Face accelerate, on one or several GPUs (skorch's
        accelerate route): the networks and optimizer are prepared by it (DDP
        across processes), each process trains on its share of every epoch's
        batches (``batch_size`` is per process), and the score pass is split
        among the processes and gathered, so that selection, the prior and D_bc
        see every sample in every process. Launch the script with ``accelerate
        launch`` (or ``torchrun``); each process fits the same estimator and ends
        with the same model. The accelerator places the model (leave
        ``device="auto"``) and sets the precision (``Accelerator(mixed_precision=
        "bf16")``; float16 goes through accelerate's gradient scaler, untested
        here for want of a GPU). Not with gradient accumulation, uneven batches,
        DivideMix's ``batching="original"`` on several processes, nor with the
        meta-learning strategies (each a clear error). The fitted estimator holds
        plain networks: it predicts in one process and pickles as usual (set
        ``accelerator=None`` before pickling it for use elsewhere). See the
        :ref:`user guide <large-data>`.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (``callbacks__*`` parameters are routed to them).
        With a ``train_split``, skorch's ``EarlyStopping``, ``Checkpoint``,
        ``EpochScoring`` and ``LRScheduler`` work as with any skorch net; they
        see the model's predictions (as :meth:`predict_proba` gives them) on the
        validation set. Each fit works on copies (``net_.callbacks_``). See the
        :ref:`user guide <validation>`.
    train_split : callable or None, default=None
        skorch's validation split, e.g. ``skorch.dataset.ValidSplit(0.2,
        stratified=True)`` or ``skorch.helper.predefined_split(Dataset(X_val,
        y_val))``. None (the default) trains on every sample: the noisy-label
        methods need all of them, and there is nothing to stop early on. With a
        split, the held-out samples are left out of training, selection and the
        prior, and each epoch logs ``valid_loss`` (cross-entropy of the
        predictions) and ``valid_acc``. Their labels are the ones given, so
        on noisy data a split of ``X`` measures *noisy* accuracy: a clean
        validation set (``predefined_split``) measures what you want. A split
        left to numpy's global random state is drawn from ``random_state``.
    warm_start : bool, default=False
        As in skorch: ``fit`` on a fitted estimator continues training it
        (module, optimizer state, the strategy's own models, tau, prior and the
        EMA of the adjustment) for ``max_epochs`` more epochs, with no second
        warm-up; ``history_`` continues. False refits from scratch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the strategy. The same value
        on CPU gives the same model; global random state is left untouched.
    verbose : int, default=0
        1: a log line per epoch (loss, tau, estimated imbalance ratio, share of
        clean samples); 2: also a progress bar.
    **kwargs
        Routed skorch parameters: ``module__*``, ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*``, ``callbacks__*``, and
        ``iterator_train`` (e.g. ``torch.utils.data.DataLoader``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_names_ : ndarray of str
        Only after fitting a torchvision dataset with integer labels (e.g.
        ``ImageFolder``): its ``classes``, the name of each label
        (``clf.class_names_[clf.predict(folder)]``). Predicting on or scoring a
        dataset whose ``classes`` differ is an error.
    n_features_in_ : int
        Number of features (the second dimension for N-D input).
    input_shape_ : tuple
        Shape of one sample.
    prior_ : ndarray of shape (n_classes,)
        Last estimated class prior.
    tau_ : float
        Last tau from the outer step (the fixed ``tau`` when not learned).
    adjustment_ : ndarray of shape (n_classes,)
        The adjustment alpha after the final EMA; predictions use ``z - alpha``
        when ``logit_adjustment`` is "posthoc", raw ``z`` otherwise.
    imbalance_ratio_ : float
        Imbalance ratio of ``prior_``.
    tau_history_, imbalance_ratio_history_ : ndarray of shape (n_epochs,)
        Tau and estimated imbalance ratio used in each epoch.
    prior_history_ : ndarray of shape (n_epochs, n_classes)
        Estimated prior at the start of each epoch.
    clean_fraction_history_ : ndarray of shape (n_epochs,)
        Share of samples treated as clean in each epoch.
    train_indices_ : ndarray of int
        Positions in ``X`` of the samples trained on (all of them without a
        ``train_split``); the per-sample attributes below follow this order.
    label_issues_ : ndarray of bool, shape (n_samples,)
        Training samples whose given label the final model judges wrong.
    clean_proba_ : ndarray of shape (n_samples,)
        Final clean probability of each training sample (the strategy's verdict,
        which ``label_issues_`` thresholds).
    label_quality_ : ndarray of shape (n_samples,)
        Each training sample's probability of its given label on the raw logits,
        averaged over the fit's score passes (every epoch after the warm-up and
        the final model): the ``label_quality`` that :meth:`find_label_issues`
        ranks by.
    corrected_labels_ : ndarray of shape (n_samples,)
        Final label of each training sample (the given one where clean), in the
        original label values.
    noise_matrix_ : ndarray of shape (n_classes, n_classes)
        The noise the fit found: row i, the given labels of the samples whose
        corrected label is ``classes_[i]`` (``P(given j | true i)``; cleanlab's
        ``noise_matrix`` is the transpose). For
        :func:`~sklearn_unlocker.model_selection.make_noise_aware_scorer`.
    true_prior_ : ndarray of shape (n_classes,)
        The share of each class among the corrected labels.
    timings_ : dict
        Seconds spent in the whole fit ("fit"), the score passes ("score_pass"),
        the strategy's selection ("selection") and Unlocker's own work: outer
        step, EMA, D_bc and prior estimation ("unlocker"); the meta-learning
        strategies add their meta steps ("meta"). On CUDA, each score pass ends
        by waiting for the device, so "fit" and "score_pass" are wall time;
        "meta" is read per batch without waiting (a wait per batch would slow the
        fit), so it counts the time to queue the steps' work, not to run it.
    net_ : skorch.NeuralNet
        The fitted internal net (``net_.module_`` is the trained module;
        ``net_.networks()`` lists all the strategy's networks).
    strategy_ : BaseStrategy
        The fitted strategy (a clone of ``strategy``); predictions average the
        logits of its networks.
    history_ : skorch.History
        Per-epoch log (loss, tau, est_ir, clean, duration).
    device_ : str
        Device used.

    Examples
    --------
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=100, n_test_per_class=20,
    ...                           imbalance_ratio=10, noise_rate=0.3, random_state=0)
    >>> clf = UnlockerClassifier(max_epochs=20, random_state=0).fit(data.X_train, data.y_train)
    >>> clf.predict(data.X_test[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **NeuralClassifierBase._parameter_constraints,
        # a name, or a strategy object: a BaseStrategy, or anything with its hooks
        "strategy": [StrOptions(set(STRATEGIES)), BaseStrategy, HasMethods([
            "split", "prepare", "extra_modules", "score_training", "score", "train_step",
            "loss", "training_weights", "batch_fields", "select_trusted", "get_params"])],
        "accelerator": [None, HasMethods(["prepare", "backward", "gather", "unwrap_model"])],
        "logit_adjustment": [StrOptions(set(ROWS))],
        "tau": [Interval(Real, None, None, closed="neither")],
        "tau_solver": [StrOptions({"sgd", "appendix_sgd", "exact", "closed_form"})],
        "tau_lr": [Interval(Real, 0, None, closed="neither")],
        "tau_steps": [Interval(Integral, 1, None, closed="left")],
        "tau_bounds": [tuple],
        "ema_beta": [Interval(Real, 0, 1, closed="right")],
        "prior": [StrOptions(set(PRIOR_MODES)), "array-like"],
        "max_prior_change": [Interval(Real, 1, None, closed="left")],
        "bc_fraction": [Interval(Real, 0, 1, closed="right")],
        "bc_min_per_class": [Interval(Integral, 1, None, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "mixup_alpha": [Interval(Real, 0, None, closed="left")],
        "augment": [None, callable],
        "refresh_batchnorm": ["boolean"],
    }

    def __init__(
        self, module=None, *, strategy="dividemix", logit_adjustment="loss", tau=1.0,
        tau_solver="sgd", tau_lr=TAU_LR, tau_steps=1, tau_bounds=TAU_BOUNDS, ema_beta=EMA_BETA,
        prior="ir_aware", max_prior_change=MAX_PRIOR_CHANGE, bc_fraction=BC_FRACTION,
        bc_min_per_class=BC_MIN_PER_CLASS, warmup_epochs=5, mixup_alpha=0.0, augment=None,
        refresh_batchnorm=True, max_epochs=60, batch_size=128, lr=3e-3,
        optimizer=torch.optim.AdamW, classes=None, device="auto", mixed_precision=None,
        accelerator=None, callbacks=None, train_split=None, warm_start=False,
        random_state=None, verbose=0, **kwargs,
    ):
        self.module = module
        self.strategy = strategy
        self.logit_adjustment = logit_adjustment
        self.tau = tau
        self.tau_solver = tau_solver
        self.tau_lr = tau_lr
        self.tau_steps = tau_steps
        self.tau_bounds = tau_bounds
        self.ema_beta = ema_beta
        self.prior = prior
        self.max_prior_change = max_prior_change
        self.bc_fraction = bc_fraction
        self.bc_min_per_class = bc_min_per_class
        self.warmup_epochs = warmup_epochs
        self.mixup_alpha = mixup_alpha
        self.augment = augment
        self.refresh_batchnorm = refresh_batchnorm
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.classes = classes
        self.device = device
        self.mixed_precision = mixed_precision
        self.accelerator = accelerator
        self.callbacks = callbacks
        self.train_split = train_split
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self._store_skorch_kwargs(kwargs)

    def fit(self, X, y=None, sample_weight=None, X_trusted=None, y_trusted=None):
        """Fit on long-tailed, noisy labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...), or Dataset
            Training samples: tabular (2-D) or N-D (e.g. images ``N x C x H x W``),
            kept in memory; or a map-style torch ``Dataset`` of ``(x, y)`` pairs
            (e.g. ``torchvision.datasets.ImageFolder`` with a transform to tensors),
            streamed through a ``DataLoader`` and never held in memory
            (``iterator_train__num_workers``, ``iterator_valid__num_workers``,
            ``__pin_memory`` route to its loaders).
        y : array-like of shape (n_samples,), default=None
            Given (possibly wrong) labels, any hashable values. None when X is a
            Dataset: its labels are the given ones.
        sample_weight : array-like of shape (n_samples,), default=None
            Multiplies each sample's loss and its weight in the prior counts.
        X_trusted, y_trusted : array-like, default=None
            A small set with clean labels, for the meta-learning strategies
            ("mlc", "mlc_d", "ebomlc", "dynamic_loss"), which otherwise use D_bc.
            The other strategies have no use for it: giving one is an error.

        Returns
        -------
        self : UnlockerClassifier
        """
        if X_trusted is not None and not isinstance(resolve_strategy(self.strategy),
                                                    MetaStrategy):
            raise ValueError(
                f"X_trusted and y_trusted are used by the meta-learning strategies only "
                f"('mlc', 'mlc_d', 'ebomlc', 'dynamic_loss' or a MetaStrategy); "
                f"strategy={self.strategy!r} selects its clean samples from X itself"
            )
        return self._fit(X, y, sample_weight, X_trusted=X_trusted, y_trusted=y_trusted)

    def _named_estimator(self, name, value):
        if name == "strategy" and isinstance(value, str) and value in STRATEGIES:
            return resolve_strategy(value)
        return None

    #: parameters only the learned-tau row reads, and those only a row that adapts reads
    _TAU_KNOBS = ("tau_solver", "tau_lr", "tau_steps")
    _ADAPT_KNOBS = ("ema_beta", "max_prior_change")

    def _warn_ignored(self):
        """An UnlockerWarning naming the set parameters that this row does not read."""
        row = ROWS[self.logit_adjustment]
        defaults = inspect.signature(type(self).__init__).parameters
        ignored = [name for name in self._TAU_KNOBS if not row.learns_tau] + [
            name for name in self._ADAPT_KNOBS if not row.adapts]
        if not row.adapts and isinstance(self.prior, str):
            ignored.append("prior")
        changed = [name for name in ignored if getattr(self, name) != defaults[name].default]
        if changed:
            warnings.warn(
                f"{', '.join(changed)} {'is' if len(changed) == 1 else 'are'} ignored with "
                f"logit_adjustment={self.logit_adjustment!r}: only "
                f"logit_adjustment='unlocker' learns tau and re-estimates the prior; set it "
                f"to use them", UnlockerWarning, stacklevel=6)
        strategy = self._make_strategy()
        uses = getattr(strategy, "uses_mixup_alpha", True)
        if self.mixup_alpha != defaults["mixup_alpha"].default and uses is not True:
            name = type(strategy).__name__
            why = (f"after the warm-up with strategy {name}, whose meta steps train on "
                   f"unmixed batches" if uses == "warmup" else
                   f"with strategy {name}, which mixes with its own alpha (e.g. "
                   f"strategy=DivideMixStrategy(alpha=...))")
            warnings.warn(f"mixup_alpha={self.mixup_alpha} is ignored {why}", UnlockerWarning,
                          stacklevel=6)

    def _engine_config(self, y_encoded):
        self._warn_ignored()
        n_classes = len(self.classes_)
        low, high = self._checked_tau_bounds()
        prior = self.prior
        if not isinstance(prior, str):
            try:
                prior = np.asarray(prior, dtype=np.float64)
            except (TypeError, ValueError):
                prior = np.full(0, np.nan)  # not numbers: the error below names it
            if prior.shape != (n_classes,) or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
                raise ValueError(
                    f"prior must be a mode name or {n_classes} positive class frequencies "
                    f"(one per class, in the order of classes_); got {self.prior!r}"
                )
            prior = prior / prior.sum()
        return Config(
            row=ROWS[self.logit_adjustment], tau=float(self.tau), tau_solver=self.tau_solver,
            tau_lr=float(self.tau_lr), tau_steps=int(self.tau_steps), tau_bounds=(low, high),
            ema_beta=float(self.ema_beta), prior=prior,
            max_prior_change=float(self.max_prior_change), bc_fraction=float(self.bc_fraction),
            bc_min_per_class=int(self.bc_min_per_class),
            warmup_epochs=int(self.warmup_epochs), max_epochs=int(self.max_epochs),
            batch_size=int(self.batch_size), mixup_alpha=float(self.mixup_alpha),
            augment=resolve_augment(self.augment), refresh_batchnorm=bool(self.refresh_batchnorm),
        )

    def _checked_tau_bounds(self):
        bounds = self.tau_bounds
        numbers = all(isinstance(b, Real) and not isinstance(b, bool) for b in bounds)
        if len(bounds) != 2 or not numbers or not all(np.isfinite(b) for b in bounds) or \
                bounds[0] >= bounds[1]:
            raise ValueError(f"tau_bounds must be two numbers (low, high) with low < high; got "
                             f"{bounds!r}")
        if not bounds[0] <= self.tau <= bounds[1]:
            raise ValueError(f"tau={self.tau} lies outside tau_bounds={bounds!r}")
        return float(bounds[0]), float(bounds[1])

    def _make_strategy(self):
        return resolve_strategy(self.strategy)

    def _fitted_attributes(self, engine):
        record = engine.record
        self.prior_ = engine.prior
        self.imbalance_ratio_ = float(self.prior_.max() / self.prior_.min())
        self.tau_ = float(engine.tau)
        self.adjustment_ = np.asarray(engine.alpha, dtype=np.float64)
        self._prediction_shift_ = (self.adjustment_ if ROWS[self.logit_adjustment].in_prediction
                                   else np.zeros(len(self.classes_)))
        self.tau_history_ = np.asarray(record.tau)
        self.prior_history_ = np.asarray(record.prior)
        self.imbalance_ratio_history_ = np.asarray(record.imbalance_ratio)
        self.clean_fraction_history_ = np.asarray(record.clean_fraction)
        self._warn_degenerate(record)

    def _warn_degenerate(self, record):
        absent = np.bincount(np.searchsorted(self.classes_, self._given_labels_),
                             minlength=len(self.classes_)) == 0
        if absent.any():
            warnings.warn(
                f"class(es) {self.classes_[absent].tolist()} of `classes` have no training "
                f"sample; their prior was floored so that log(prior) stays finite",
                UnlockerWarning, stacklevel=6,
            )
        if record.epochs_with_unselected_class:
            names = self.classes_[sorted(record.unselected_classes)].tolist()
            warnings.warn(
                f"class(es) {names} had no sample judged clean in "
                f"{record.epochs_with_unselected_class} epoch(s): the method trained on none of "
                f"their given labels then, and their prior came from corrections alone",
                UnlockerWarning, stacklevel=6,
            )
        if record.epochs_with_empty_class:
            names = self.classes_[sorted(record.empty_prior_classes)].tolist()
            warnings.warn(
                f"class(es) {names} had no clean or corrected sample in "
                f"{record.epochs_with_empty_class} epoch(s); their prior was floored "
                f"({'one pseudo-sample' if self.prior == 'ir_aware' else 'half a sample'}) "
                f"so that log(prior) stays finite",
                UnlockerWarning, stacklevel=6,
            )
        if record.tau_clipped:
            warnings.warn(
                f"tau reached tau_bounds={self.tau_bounds} in {record.tau_clipped} outer "
                f"step(s) and was held there; the final tau is {self.tau_:.3f}",
                UnlockerWarning, stacklevel=6,
            )

    #: what prediction reads beside the networks; save_params keeps it with them
    _adjustment_state = ("prior_", "imbalance_ratio_", "tau_", "adjustment_",
                         "_prediction_shift_")

    def _prediction_adjustment(self):
        return self._prediction_shift_  # the fitted row's: set_params does not change it
