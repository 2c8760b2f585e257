"""DivideMix (Li, Socher and Hoi, ICLR 2020) as an Unlocker strategy.

Two networks. Each epoch, each network's per-sample losses (on Unlocker's
adjusted logits) are split by a two-component Gaussian mixture into a labelled
(probably clean) and an unlabelled part; each network then trains on the split
computed from the *other* network's losses (co-divide), so that the two do not
confirm their own mistakes. In a training step the labelled samples get
co-refined targets (their label mixed with the network's own prediction by the
clean probability, sharpened), the unlabelled ones co-guessed targets (both
networks' predictions on two augmented views, averaged and sharpened), and the
network learns from a MixMatch interpolation of the two: cross-entropy on the
labelled part, squared error on the unlabelled part weighted by a ramped
``lambda_u``, plus a penalty pulling the batch's mean prediction towards a prior.
Predictions average both networks.

Inside Unlocker: the split and the corrected labels use ``z - alpha`` (and, with
``pseudo_labels="adjusted"``, the co-refined and co-guessed targets), the labelled branch's
cross-entropy uses ``z + alpha`` (unlabelled targets are guesses, left
unadjusted), and DivideMix's penalty towards a *uniform* mean prediction, which
fights a long tail, pulls towards Unlocker's estimated prior instead by default.
"""

import contextlib
import copy
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .._rows import row_cross_entropy, row_softmax
from .._sklearn_compat import Interval, StrOptions
from ._base import BaseStrategy
from ._gmm import split_clean_probability

__all__ = ["DivideMixSplit", "DivideMixStrategy", "co_guess", "co_refine", "linear_rampup",
           "mixmatch", "prior_penalty", "sharpen"]


def sharpen(proba, temperature):
    """Sharpen distributions: ``p ** (1 / T)``, renormalised (MixMatch).

    Parameters
    ----------
    proba : torch.Tensor of shape (n, C)
        Rows of probabilities.
    temperature : float
        T; below 1 sharpens, 1 leaves unchanged.

    Returns
    -------
    proba : torch.Tensor of shape (n, C)

    Examples
    --------
    >>> [round(p, 4) for p in sharpen(torch.tensor([[0.6, 0.4]]), 0.5)[0].tolist()]
    [0.6923, 0.3077]
    """
    powered = proba ** (1.0 / temperature)
    return powered / powered.sum(dim=1, keepdim=True)


def co_refine(labels_onehot, clean_proba, proba, temperature):
    """DivideMix's co-refinement: ``sharpen(w * y + (1 - w) * p, T)`` per labelled sample.

    Parameters
    ----------
    labels_onehot : torch.Tensor of shape (n, C)
        Given labels, one-hot.
    clean_proba : torch.Tensor of shape (n,)
        w: the other network's clean probability of each sample.
    proba : torch.Tensor of shape (n, C)
        The network's own prediction (mean over the two views).
    temperature : float
        Sharpening temperature.

    Returns
    -------
    targets : torch.Tensor of shape (n, C)
    """
    w = clean_proba[:, None]
    return sharpen(w * labels_onehot + (1 - w) * proba, temperature)


def co_guess(probas, temperature):
    """DivideMix's co-guessing: the mean of several predictions, sharpened.

    Parameters
    ----------
    probas : list of torch.Tensor of shape (n, C)
        Both networks' predictions on both views.
    temperature : float
        Sharpening temperature.

    Returns
    -------
    targets : torch.Tensor of shape (n, C)
    """
    return sharpen(torch.stack(probas).mean(dim=0), temperature)


def linear_rampup(epoch, warmup_epochs, rampup_epochs):
    """Weight ramp of the unlabelled loss: ``clip((epoch - warmup) / rampup, 0, 1)``.

    Parameters
    ----------
    epoch : int
        Current epoch, counted from 1.
    warmup_epochs : int
        Epochs of warm-up.
    rampup_epochs : int
        Epochs from 0 to full weight.

    Returns
    -------
    factor : float in [0, 1]

    Examples
    --------
    >>> [linear_rampup(e, 5, 4) for e in (5, 6, 8, 9, 30)]
    [0.0, 0.25, 0.75, 1.0, 1.0]
    """
    if rampup_epochs <= 0:
        return 1.0
    return float(np.clip((epoch - warmup_epochs) / rampup_epochs, 0.0, 1.0))


def mixmatch(inputs, targets, lam, permutation):
    """MixMatch's interpolation of each sample with a permuted partner.

    Parameters
    ----------
    inputs : torch.Tensor of shape (n, ...)
    targets : torch.Tensor of shape (n, C)
    lam : float
        Weight of the sample itself (DivideMix takes ``max(lam, 1 - lam)``).
    permutation : torch.Tensor of int64, shape (n,)
        Partner of each sample.

    Returns
    -------
    mixed_inputs, mixed_targets : torch.Tensor
    """
    return (lam * inputs + (1 - lam) * inputs[permutation],
            lam * targets + (1 - lam) * targets[permutation])


def prior_penalty(logits, prior):
    """DivideMix's regulariser: ``KL(prior || mean softmax)`` over a batch.

    Parameters
    ----------
    logits : torch.Tensor of shape (n, C)
        Raw logits of the batch.
    prior : torch.Tensor of shape (C,)
        Target of the mean prediction (DivideMix: uniform).

    Returns
    -------
    penalty : torch.Tensor
        0-d tensor, 0 when the mean prediction equals the prior.
    """
    mean = torch.softmax(logits, dim=1).mean(dim=0)
    return torch.sum(prior * torch.log(prior / mean.clamp_min(1e-12)))


def _proba(logits, shift):
    """Softmax of ``logits - shift`` (``shift=None``: of the raw logits)."""
    return torch.softmax(logits if shift is None else logits - shift, dim=1)


@contextlib.contextmanager
def _evaluation_mode(modules):
    """Every module in evaluation mode inside the block, each back to its own mode after."""
    modes = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, modes, strict=True):
            module.train(mode)


class DivideMixSplit(NamedTuple):
    """DivideMix's verdict: Unlocker's :class:`~sklearn_unlocker.strategies.Split` fields
    (averaged over the two networks) plus each network's own clean probabilities.

    Attributes
    ----------
    clean_proba, clean_mask, corrected_labels, confidence : ndarray
        As in :class:`~sklearn_unlocker.strategies.Split`; clean probability and
        corrections are the means of both networks (on ``z - alpha``).
    network_clean_proba : ndarray of shape (n_samples, 2)
        Column k: the clean probability from network k's losses.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_unlocker.strategies import DivideMixSplit, DivideMixStrategy
    >>> network_clean = np.array([[0.9, 0.7], [0.2, 0.4], [0.6, 0.3]])
    >>> split = DivideMixSplit(clean_proba=network_clean.mean(axis=1),
    ...                        clean_mask=network_clean.mean(axis=1) > 0.5,
    ...                        corrected_labels=np.array([0, 1, 2]),
    ...                        confidence=np.array([1.0, 0.6, 0.55]),
    ...                        network_clean_proba=network_clean)
    >>> split.clean_mask.tolist(), split.network_clean_proba[:, 1].tolist()
    ([True, False, False], [0.7, 0.4, 0.3])
    >>> fields = DivideMixStrategy().batch_fields(split)  # what each training step reads
    >>> sorted(fields), fields["network_clean_proba"].shape
    (['network_clean_proba'], (3, 2))
    """

    clean_proba: np.ndarray
    clean_mask: np.ndarray
    corrected_labels: np.ndarray
    confidence: np.ndarray
    network_clean_proba: np.ndarray


class DivideMixStrategy(BaseStrategy):
    """DivideMix: co-divide, co-refinement, co-guessing and MixMatch with two networks.

    Pass it as ``UnlockerClassifier(strategy=DivideMixStrategy(alpha=0.1))`` to
    set its parameters; ``strategy="dividemix"`` (the default) is it with its
    defaults.

    The second network is a copy of the estimator's module with every
    submodule's parameters re-initialised (``reset_parameters``); one optimizer
    trains both. Each step trains both networks on the same mini-batch: network
    k on the labelled/unlabelled split computed from the other network's losses.
    Co-guesses and co-refinements are computed without grad, both networks in
    evaluation mode, on one pair of augmented views of the mini-batch that both
    networks share (DivideMix's code draws each network's views in its own pass
    over the data): four no-grad forward passes a step instead of up to twelve.
    ``sample_weight`` weighs the prior and D_bc but not the mixed losses.

    By default both branches are cut from the mini-batch itself, so the
    unlabelled branch weighs what the split's proportions give it.
    ``batching="original"`` follows DivideMix's code instead: each labelled
    sample of a mini-batch (by the other network's split) is paired with one
    unlabelled sample drawn at random from that split's whole unlabelled set, so
    the two branches weigh the same in every step.

    Parameters
    ----------
    p_threshold : float, default=0.5
        Clean-probability threshold of the labelled set (DivideMix's default).
    temperature : float, default=0.5
        Sharpening temperature T (DivideMix's default).
    alpha : float, default=4.0
        MixMatch's Beta(alpha, alpha) (DivideMix's value for CIFAR; 0.5 for
        Clothing1M). Strong mixing keeps a network from fitting noise, and keeps a
        network that under-fits from fitting at all: on the development grid
        (benchmarks/results/development_dividemix_alpha.md, DivideMix + LA) 0.1
        lifted the 1-D CNN on MNIST-1D by 0.07 to 0.21, but cost the MLPs and
        ``ConvNet`` up to 0.10 and 0.20 (mean 0.613 against 0.635 at 4). Lower it
        for a small or shallow network that does not reach a low training loss.
    lambda_u : float, default=1.0
        Weight of the unlabelled loss after the ramp. DivideMix used 25 at 50%
        noise on CIFAR-10 over 300 epochs. On our development grid (60 epochs,
        small networks, the two views augmented, ``batching="original"``;
        benchmarks/results/development_dividemix.md) mean balanced accuracy over
        eight settings was 0.562 at 1, 0.560 at 5 and 0.500 at 25 (25 lost up to
        0.37 on the 1-D CNN under tail-to-head noise): the co-guessed targets of a
        weak network are wrong too often to weigh much. Raise it with larger models
        and longer training.
    rampup_epochs : int, default=16
        Epochs after the warm-up over which ``lambda_u`` ramps up linearly
        (DivideMix's 16).
    prior_penalty : {"estimated", "uniform", "off"}, default="estimated"
        Target of the penalty on the batch's mean prediction: the row's prior
        (Unlocker's current estimate with ``logit_adjustment="unlocker"``, the given
        labels' prior in the other rows, the defaults' included), DivideMix's
        uniform (which fights a long tail), or none.
        "estimated" by design: a long-tailed mean prediction is not uniform. On the
        development grid (the defaults, 25 settings, 2 seeds) DivideMix's uniform
        target read 0.602 against 0.648, -0.045 [-0.059, -0.032], behind in 23 of
        25 settings (``benchmarks/results/claims_dividemix.md``).
    per_class : bool, default=True
        One loss mixture per given class (as :class:`SmallLossStrategy`); DivideMix
        itself fits one for all samples (``False``). On a long tail the global split
        calls the tail noisy: on the reported grids (32 settings, rows
        ``dividemix_global`` and ``dividemix_global+unlocker``) DivideMix alone with it
        reaches few-shot accuracy 0.00-0.03 and 0.513 balanced accuracy, and inside
        Unlocker 0.687 against 0.719 per class. Unlocker lifts the global split by
        +0.132 under symmetric noise, but by more under joint (+0.21) and tail-to-head
        noise (+0.22), so the paper's relieve claim (the largest gains under symmetric
        noise, with DPC as base method) does not reproduce with it either; the
        per-class split is ahead without that lift.
    min_class_size : int, default=10
        Smallest class with its own mixture.
    batching : {"shared", "original"}, default="shared"
        Where the unlabelled branch comes from: the batch's own unlabelled samples,
        or drawn from every unlabelled sample, one per labelled sample of the batch
        (DivideMix's code). On the development grid "shared" was as accurate (mean
        0.570 against 0.562, per setting within the seed spread) in 0.74x the time;
        under tail-to-head noise at IR 10 (digits, tabular data; 3 seeds,
        ``benchmarks/results/dividemix_t2h.md``) "original" lost 0.07-0.17 whether
        the views were augmented or not: an unlabelled branch as heavy as the
        labelled one feeds the head-biased guesses back.
    pseudo_labels : {"raw", "adjusted"}, default="raw"
        The logits of co-refinement and co-guessing. "raw": ``z``, as DivideMix
        computes them. "adjusted": ``z - alpha`` wherever the row adjusts selection
        (``logit_adjustment`` "loss" and "unlocker"; raw ``z`` under the others), as
        Unlocker's Algorithm 1 corrects the noisy samples on ``A(theta - alpha)`` and
        its rebuttal adjusts the pseudo-labels by LA. A measured departure from the
        Unlocker paper: on the development grid (25 settings, 2 seeds;
        ``benchmarks/results/development_default_choice.md``) the adjusted targets
        lost 0.007 on average with LA (95% interval -0.015 to +0.001; tabular
        families -0.012, -0.021 to -0.003) and 0.006 inside Unlocker (-0.013 to
        +0.001); they won only on shape images with LA (+0.005, within the seeds'
        spread). The selection and the corrected labels of the split use ``z - alpha``
        either way.
    guess_mode : {"evaluation", "train"}, default="evaluation"
        The mode the network being trained guesses and refines in: "evaluation",
        both networks in evaluation mode on one shared pass; "train", as DivideMix's
        code, where the trained network's own guesses and refinements come from it
        in train mode (batch norm on the batch, dropout on; its running statistics
        move with these passes) and the other network's in evaluation mode. Here the
        train-mode pass runs over the batch's two views whole (the reference passes
        its labelled and unlabelled inputs separately, so their batch statistics
        differ). "train" costs two more no-grad passes per trained network a step.
        With neither batch norm nor dropout (the default MLP, ``ConvNet1d``) the
        two modes compute the same numbers. On the development grid's shape images
        (``ConvNet``) "train" read +0.006 [-0.013, +0.024], a tie, at 1.08x the fit
        time (``benchmarks/results/claims_dividemix_guess_mode.md``).
    training_order : {"joint", "sequential"}, default="joint"
        "joint": each step trains both networks on the same mini-batch, one pass
        over the data an epoch. "sequential", DivideMix's code: network 1 trains
        in a pass of its own, then network 2 in another, against network 1's
        updated weights (the warm-up too); each pass shuffles the data anew, so an
        epoch takes twice the optimizer steps (a scheduler stepped per batch runs
        twice as fast; DivideMix's code changes its rate per epoch). One optimizer
        over both networks steps as two would (AdamW and SGD update each
        parameter from its own gradient, and a network's loss has no gradient in
        the other's parameters), so the reference's two optimizers are this
        option's order and the recipe. On the development grid (25 settings, the
        defaults) "sequential" read -0.005 [-0.010, +0.001], a tie, at 1.16x the fit
        time (``benchmarks/results/claims_dividemix.md``).

    Attributes
    ----------
    n_networks : int
        2.
    needs_views : bool
        True: without an ``augment``, the estimator gives the two views
        :func:`~sklearn_unlocker.augment.default_views` (never two identical ones).
    unlabelled_pools_ : list of two ndarrays
        After a split: the training positions network k draws its unlabelled branch
        from (those the other network judged noisy).

    Examples
    --------
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=50, n_test_per_class=10,
    ...                           imbalance_ratio=5, noise_rate=0.2, random_state=0)
    >>> clf = UnlockerClassifier(strategy=DivideMixStrategy(), max_epochs=3, warmup_epochs=1,
    ...                          random_state=0).fit(data.X_train, data.y_train)
    >>> clf.strategy_.n_networks, len(clf.strategy_.unlabelled_pools_)
    (2, 2)
    >>> clf.predict_proba(data.X_test[:3]).shape  # the mean of both networks
    (3, 10)
    """

    n_networks = 2
    needs_views = True

    uses_mixup_alpha = False  # MixMatch mixes with the strategy's own alpha

    _parameter_constraints = {
        "p_threshold": [Interval(Real, 0, 1, closed="neither")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "lambda_u": [Interval(Real, 0, None, closed="left")],
        "rampup_epochs": [Interval(Integral, 0, None, closed="left")],
        "prior_penalty": [StrOptions({"estimated", "uniform", "off"})],
        "per_class": ["boolean"],
        "min_class_size": [Interval(Real, 2, None, closed="left")],
        "batching": [StrOptions({"shared", "original"})],
        "pseudo_labels": [StrOptions({"adjusted", "raw"})],
        "guess_mode": [StrOptions({"evaluation", "train"})],
        "training_order": [StrOptions({"joint", "sequential"})],
    }

    def __init__(self, p_threshold=0.5, temperature=0.5, alpha=4.0, lambda_u=1.0,
                 rampup_epochs=16, prior_penalty="estimated", per_class=True,
                 min_class_size=10, batching="shared", pseudo_labels="raw",
                 guess_mode="evaluation", training_order="joint"):
        self.p_threshold = p_threshold
        self.temperature = temperature
        self.alpha = alpha
        self.lambda_u = lambda_u
        self.rampup_epochs = rampup_epochs
        self.prior_penalty = prior_penalty
        self.per_class = per_class
        self.min_class_size = min_class_size
        self.batching = batching
        self.pseudo_labels = pseudo_labels
        self.guess_mode = guess_mode
        self.training_order = training_order

    @property
    def passes_per_epoch(self):
        """2 with ``training_order="sequential"`` (a pass per network), else 1."""
        return 2 if self.training_order == "sequential" else 1

    def extra_modules(self, module):
        self._validate_params()
        second = copy.deepcopy(module)
        for submodule in second.modules():
            if callable(getattr(submodule, "reset_parameters", None)):
                submodule.reset_parameters()
        return {"module2": second}

    def score(self, net, X):
        return net.logits(X, net.networks())  # one pass over X for both networks

    def _clean_proba(self, logits, y):
        losses = row_cross_entropy(logits, torch.as_tensor(y, dtype=torch.long)).double().numpy()
        return split_clean_probability(losses, y, per_class=self.per_class,
                                       min_class_size=self.min_class_size)

    def split(self, logits, y, *, sample_weight=None, random_state=None):
        y = np.asarray(y)
        network_clean = np.stack([self._clean_proba(z, y) for z in logits], axis=1)
        clean_proba = network_clean.mean(axis=1)
        clean = clean_proba > self.p_threshold
        confidence, corrected = ((row_softmax(logits[0]) + row_softmax(logits[1])) / 2).max(1)
        corrected = np.where(clean, y, corrected.numpy())
        confidence = np.where(clean, 1.0, confidence.double().numpy())
        # network k trains on the other network's split: its unlabelled pool
        self.unlabelled_pools_ = [np.flatnonzero(network_clean[:, 1 - k] <= self.p_threshold)
                                  for k in range(2)]
        return DivideMixSplit(clean_proba, clean, corrected, confidence, network_clean)

    def check_accelerator(self, num_processes):
        if num_processes > 1 and self.batching == "original":
            raise ValueError(
                "DivideMixStrategy(batching='original') draws as many unlabelled samples as "
                "each batch has labelled ones, so processes would make different passes; use "
                "batching='shared' (the default) with several processes")

    def batch_fields(self, split):
        return {"network_clean_proba": split.network_clean_proba.astype(np.float32)}

    def train_step(self, net, X, targets, context):
        networks = net.networks()
        trained = range(len(networks)) if context.network is None else (context.network,)
        if context.in_warmup:  # plain (adjusted) cross-entropy on every given label
            logits = [networks[k](X if context.augment is None else context.augment(X))
                      for k in trained]
            return sum(self.loss(z, targets) for z in logits), logits[0]
        augment = context.augment if context.augment is not None else (lambda batch: batch)
        # the pseudo-labels' logits: z - alpha where the row adjusts selection (Algorithm 1)
        shift = targets.adjustment if self.pseudo_labels == "adjusted" else None
        clean_proba = targets.network_clean_proba
        host_clean = targets.host("network_clean_proba")
        views = [augment(X), augment(X)]  # one pair of views per batch, shared by both networks
        batch_proba, own_proba = self._batch_probas(networks, views, shift, trained)
        n_classes = own_proba[trained[0]][0].shape[1]
        prior = self._penalty_target(context, n_classes, X.device)
        ramp = self.lambda_u * linear_rampup(context.epoch, context.warmup_epochs,
                                            self.rampup_epochs)
        total, first_logits = None, None
        for k in trained:
            module = networks[k]
            # co-divide: the other network's split, read on the host so that the batch's
            # rows are picked with device gathers, not masks (which wait for the device)
            labelled = host_clean[:, 1 - k] > self.p_threshold
            rows_l = labelled.nonzero()[:, 0].to(X.device, non_blocking=True)
            views_l = [v.index_select(0, rows_l) for v in views]
            own = (own_proba[k][0].index_select(0, rows_l)
                   + own_proba[k][1].index_select(0, rows_l)) / 2
            if self.batching == "shared":
                rows_u = (~labelled).nonzero()[:, 0].to(X.device, non_blocking=True)
                views_u = [v.index_select(0, rows_u) for v in views]
                guesses = [p.index_select(0, rows_u) for j in range(2)
                           for p in (own_proba if j == k else batch_proba)[j]]
            else:  # DivideMix's: as many unlabelled samples, drawn from the whole epoch's pool
                x_unlabelled = self._draw_unlabelled(k, len(rows_l), context, X.device)
                views_u = [augment(x_unlabelled), augment(x_unlabelled)]
                guesses = self._guesses(networks, k, views_u, shift)
            if len(rows_l) + len(views_u[0]) < 2:
                continue  # nothing to mix (and batch norm needs two samples)
            onehot = F.one_hot(targets.labels.index_select(0, rows_l), n_classes).to(own.dtype)
            refined = co_refine(onehot, clean_proba[:, 1 - k].index_select(0, rows_l), own,
                                self.temperature)
            guessed = co_guess(guesses, self.temperature)
            loss, logits = self._mixmatch_loss(module, views_l, views_u, refined, guessed,
                                               targets.adjustment, ramp, prior, context)
            total = loss if total is None else total + loss
            first_logits = logits if first_logits is None else first_logits
        if total is None:  # no network had two samples to mix: a zero step
            first_logits = networks[trained[0]](X)
            total = first_logits.sum() * 0.0
        return total, first_logits

    def _batch_probas(self, networks, views, shift, trained):
        """Each network's probabilities on the batch's views, in evaluation mode (the
        other network's, for co-guessing) and, for the ``trained`` ones, in
        ``guess_mode`` (their own step's). In train mode a network's evaluation pass
        serves only another trained network: ``None`` where none reads it (the
        sequential order's one trained network)."""
        in_train_mode = self.guess_mode == "train"
        read = [not in_train_mode or any(k != j for k in trained) for j in range(len(networks))]
        with torch.no_grad(), _evaluation_mode(networks):  # every no-grad pass of the step
            batch_proba = [[_proba(module(v), shift) for v in views] if needed else None
                           for module, needed in zip(networks, read, strict=True)]
        if not in_train_mode:
            return batch_proba, batch_proba
        with torch.no_grad():  # DivideMix's code: the trained network in train mode
            return batch_proba, [[_proba(module(v), shift) for v in views] if k in trained
                                 else batch_proba[k] for k, module in enumerate(networks)]

    def _guesses(self, networks, k, views, shift):
        """Both networks' probabilities on the views (network order), network k's in
        ``guess_mode``, the other's in evaluation mode."""
        in_eval = networks if self.guess_mode == "evaluation" else networks[1 - k:2 - k]
        with torch.no_grad(), _evaluation_mode(in_eval):
            return [_proba(module(v), shift) for module in networks for v in views]

    def _draw_unlabelled(self, k, count, context, device):
        """``count`` inputs drawn at random from the samples network k treats as unlabelled."""
        pool = self.unlabelled_pools_[k]
        if count == 0 or len(pool) == 0:
            return context.inputs[:0].to(device)
        rows = torch.randint(len(pool), (count,), generator=context.generator)
        return context.inputs[torch.as_tensor(pool)[rows]].to(device, non_blocking=True)

    def _penalty_target(self, context, n_classes, device):
        if self.prior_penalty == "off":
            return None
        if self.prior_penalty == "uniform":
            return torch.full((n_classes,), 1.0 / n_classes, device=device)
        if getattr(self, "_prior_cache", (None,))[0] is not context.prior:  # new each epoch
            self._prior_cache = (context.prior, torch.as_tensor(
                context.prior, dtype=torch.float32, device=device))
        return self._prior_cache[1]

    def _mixmatch_loss(self, module, views_l, views_u, refined, guessed, adjustment, ramp,
                       prior, context):
        """Loss of one network: MixMatch over its labelled views (refined targets) and
        unlabelled views (guessed targets)."""
        inputs = torch.cat([*views_l, *views_u])
        mixed_targets = torch.cat([refined, refined, guessed, guessed])
        lam = float(context.random_state.beta(self.alpha, self.alpha))
        lam = max(lam, 1.0 - lam)
        permutation = torch.randperm(len(inputs), generator=context.generator).to(
            inputs.device, non_blocking=True)
        mixed_inputs, mixed_targets = mixmatch(inputs, mixed_targets, lam, permutation)
        logits = module(mixed_inputs)
        n_labelled = 2 * len(refined)
        loss = logits.new_zeros(())
        if n_labelled:
            labelled_logits = logits[:n_labelled]
            if adjustment is not None:  # Unlocker: alpha on the labelled branch only
                labelled_logits = labelled_logits + adjustment
            loss = loss - (F.log_softmax(labelled_logits, dim=1)
                           * mixed_targets[:n_labelled]).sum(dim=1).mean()
        if n_labelled < len(logits):
            loss = loss + ramp * ((torch.softmax(logits[n_labelled:], dim=1)
                                   - mixed_targets[n_labelled:]) ** 2).mean()
        if prior is not None:
            loss = loss + prior_penalty(logits, prior)
        return loss, logits
