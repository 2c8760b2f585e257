"""Meta label correction as a strategy: MLC, MLC-D and EBOMLC (one update rule each)."""

import copy
import inspect
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from torch import nn

from .._inputs import iter_batches
from .._net import copies_due, to_host, wait_for_copies
from .._rows import row_cross_entropy
from .._sklearn_compat import Interval, StrOptions
from ..exceptions import UnlockerWarning
from ._base import Scores, Split
from ._functional import PenultimateTap, forward_at, parameters_of
from ._meta import MetaStrategy, penultimate_features
from ._meta_math import ebomlc_beta, mixture_upper_loss, mlcd_beta, soft_cross_entropy

__all__ = ["MetaLabelModel", "MetaLabelStrategy"]


class MetaLabelModel(nn.Module):
    """The meta model g(h(x), y): features and a label embedding to a class distribution.

    A label embedding (C x ``embedding_dim``) is concatenated with the features
    and fed to a three-layer MLP. A learnable skip connection adds
    ``label_logit * onehot(y)`` to the output logits, starting at ``label_skip``,
    so that the untrained model mostly returns the given label (training starts
    as cross-entropy on the given labels rather than on uniform targets). The
    skip is ours: neither the EBOMLC paper's meta model nor microsoft/MLC's
    ``MetaNet`` has it (measured with and without in
    ``benchmarks/results/claims_ebomlc.md``).

    Parameters
    ----------
    n_features : int
        Width of h(x).
    n_classes : int
    embedding_dim : int, default=128
    hidden_units : int, default=128
    label_skip : float or None, default=3.0
        Starting weight of the skip connection; None: none (``label_logit`` is None).

    Examples
    --------
    >>> import torch
    >>> from sklearn_unlocker.strategies import MetaLabelModel
    >>> _ = torch.manual_seed(0)
    >>> model = MetaLabelModel(n_features=8, n_classes=3, embedding_dim=4, hidden_units=16)
    >>> labels = torch.tensor([0, 1, 2, 0, 1])
    >>> proba = model(torch.randn(5, 8), labels)  # features h(x), given labels
    >>> proba.shape, bool(torch.allclose(proba.sum(dim=1), torch.ones(5)))
    (torch.Size([5, 3]), True)
    >>> proba.argmax(dim=1).tolist()  # untrained: mostly the given labels
    [0, 1, 2, 0, 1]
    """

    def __init__(self, n_features, n_classes, embedding_dim=128, hidden_units=128,
                 label_skip=3.0):
        super().__init__()
        self.embedding = nn.Embedding(n_classes, embedding_dim)
        self.mlp = nn.Sequential(
            nn.Linear(n_features + embedding_dim, hidden_units), nn.Tanh(),
            nn.Linear(hidden_units, hidden_units), nn.Tanh(),
            nn.Linear(hidden_units, n_classes),
        )
        self.label_logit = (None if label_skip is None
                            else nn.Parameter(torch.tensor(float(label_skip))))

    def forward(self, features, labels):
        logits = self.mlp(torch.cat([features, self.embedding(labels)], dim=1))
        if self.label_logit is None:
            return torch.softmax(logits, dim=1)
        onehot = nn.functional.one_hot(labels, logits.shape[1]).to(logits.dtype)
        return torch.softmax(logits + self.label_logit * onehot, dim=1)


class MetaLabelStrategy(MetaStrategy):
    """Meta label correction: a meta model corrects each noisy label, a trusted set teaches it.

    Pass it as ``UnlockerClassifier(strategy=MetaLabelStrategy(method="mlc"))``
    to run it inside Unlocker (``strategy="mlc"``, ``"mlc_d"`` or ``"ebomlc"``
    with its defaults); on its own it is
    :class:`~sklearn_unlocker.MetaLabelCorrectionClassifier`.

    A meta model g(h(x), y) turns each noisy sample's features ``h(x)`` (the
    input of the main module's last Linear layer, detached, or a user
    ``feature_extractor``) and given label into a corrected label distribution;
    the main model trains on those (the lower loss G, soft cross-entropy) while
    the trusted set drives the meta model (the upper loss F):

    - "mlc" (Zheng et al. 2021): the meta parameters follow the gradient of F at
      a one-step look-ahead ``w' = w - inner_lr * grad_w G`` (second order
      through w'); then w steps with the look-ahead's gradient of G, taken
      before the meta update, and half of each trusted batch joins G, as
      microsoft/MLC's default method ``hmlc_K_mix`` does
      (``step_gradient="lookahead"``, ``train_on_trusted=True``).
    - "mlc_d": BOME's dynamic barrier on MLC (EBOMLC's Algorithm 1): k = 5 inner
      SGD steps (first order), ``Q = G(w) - G(w_k)``, ``beta`` of Eq. 7; w steps on
      ``grad_w F + beta grad_w Q``, the meta model on ``beta grad_a Q``.
    - "ebomlc" (Nguyen et al.): one inner step (Eq. 8), the mixture upper loss
      (Eq. 9, ``rho``), the alignment-aware barrier (Eqs. 10-11, ``delta``) and
      the scaled step (Eq. 12, ``xi``), first order throughout. ``grad_w Q`` is
      BOME's ``grad_w G(w)`` (``w_(1)`` held constant) unless ``q_gradient=
      "difference"`` asks for the paper's ``grad G(w) - grad G(w_(1))`` (Eq. 8,
      Algorithm 2): on the development grid BOME's read 0.533 against 0.481. In
      both the barrier coefficient stays near ``delta`` (0.24-0.28 in BOME's,
      0.24-0.32 in the paper's), so ``xi * beta`` acts as a nearly fixed weight of
      about ``xi * delta`` (0.125) on ``grad_w Q``
      (``benchmarks/results/claims_ebomlc.md``).

    Inside Unlocker (``UnlockerClassifier(strategy="ebomlc")``, a combination no
    paper has): the trusted set is D_bc unless ``fit`` gets one; the lower loss
    takes ``z + alpha`` where the row puts alpha in the loss (the logit-adjusted
    loss on corrected targets); the upper loss on the class-balanced trusted set
    takes the raw ``z``, which is the balanced classifier under an adjusted loss.
    A sample is "clean" for the prior and D_bc when the meta model keeps its
    given label; its clean probability (which ranks D_bc) is the softmax
    probability of its given label under the (adjusted) logits.

    Parameters
    ----------
    method : {"ebomlc", "mlc", "mlc_d"}, default="ebomlc"
    rho : float in (0, 1), default=0.2
        EBOMLC's mixture weight of the main model in the upper loss (the paper's 0.2).
    delta : float, default=0.25
        Barrier scale (the paper's 0.25).
    xi : float in (0, 1], default=0.5
        EBOMLC's scale of the noisy direction (the paper's 0.5).
    meta_lr : float, default=3e-4
        Adam learning rate of the meta model (the paper's 3e-4).
    inner_lr : float or None, default=None
        Step size of the look-ahead ("mlc") and the inner steps ("mlc_d",
        "ebomlc"). None: the training optimizer's own next step (its learning
        rate, momentum, weight decay, Adam moments), as microsoft/MLC's code
        reproduces its SGD update and as EBOMLC's Algorithms 1-2 use one step
        size for inner and real steps (their inner step is plain, without momentum
        or weight decay: with the SGD recipe a plain step of the same 0.1 reads
        the same, 0.533, ``benchmarks/results/claims_ebomlc.md``). A number: a
        plain SGD step of that size
        (our earlier default, 0.1, beside a real AdamW step of 3e-3; with the
        papers' SGD recipe the faces gained 0.009-0.018 over it on the
        development grid, ``benchmarks/results/development_meta.md``).
    feature_extractor : callable, default=None
        Maps a batch of X (a tensor on the device) to features h(x); default: the
        input of the main module's last Linear layer (see ``features``).
    features : {"frozen", "live"}, default="frozen"
        Where the default h(x) comes from: a frozen copy of the network taken
        when the warm-up ends, as the EBOMLC paper describes its backbone (one
        more forward pass per batch; with ``warmup_epochs=0`` that copy is the
        untrained network, so keep a warm-up), or the network being trained (detached),
        as microsoft/MLC's code does (the EBOMLC paper says its code is released on
        acceptance; no EBOMLC code was read). On the development grid (SGD recipe)
        frozen features gave EBOMLC 0.533 against 0.510 and MLC 0.480 against 0.459;
        MLC-D 0.477 against 0.482 (2 seeds, 7 settings).
    meta_hidden_units : int, default=128
        Width of the meta model's MLP (and of its label embedding).
    q_gradient : {"bome", "difference"}, default="bome"
        The main-parameter gradient of the value-function gap
        ``Q = G(w, a) - G(w_k, a)`` ("mlc_d", "ebomlc"): "bome" holds ``w_k``
        constant, ``grad_w Q = grad_w G(w)`` (BOME's first-order form);
        "difference" takes ``grad_w G(w) - grad_w G(w_k)``, the form EBOMLC's
        analysis uses (Lemma 2's proof, Eqs. 24-25). The meta part is the
        difference in both. On the development grid the paper's form read 0.481
        against 0.533 (``benchmarks/results/claims_ebomlc.md``).
    label_skip : float or None, default=3.0
        Starting weight of the meta model's learnable skip connection, which adds
        ``label_skip * onehot(y)`` to its logits so that an untrained meta model
        keeps the given label (in neither paper nor MLC's meta network); None: no
        skip connection: -0.004 [-0.015, +0.006] on the development grid
        (``benchmarks/results/claims_ebomlc.md``).
    inner_steps : int or None, default=None
        k, the inner steps of the value-function gap ("mlc_d", "ebomlc"), each on
        a fresh noisy batch after the first. None: the method's own, 5 for "mlc_d"
        (EBOMLC's Algorithm 1) and 1 for "ebomlc" (Algorithm 2; its Figure 7
        compares 1, 2 and 5). Measured in ``benchmarks/results/claims_ebomlc_k.md``.
    train_on_trusted : bool, default=True
        "mlc" only: as microsoft/MLC's default method ``hmlc_K_mix``, split each
        trusted batch in halves, the first for the upper loss and the second
        joining the lower loss G (a cross-entropy on its given labels, weighted
        by its share of the samples), so that w also trains on trusted data, in
        the look-ahead as in the real step. False: w never trains on the
        trusted set, as this package did before; on the development grid's 7
        meta settings (2 seeds) that read 0.482 against 0.518, -0.036 [-0.093,
        +0.021], behind in 6 of 7 (ahead by 0.071 on the 1-D CNN)
        (``benchmarks/results/claims_mlc.md``).
    step_gradient : {"lookahead", "recomputed"}, default="lookahead"
        "mlc" only: the gradient of w's real step. "lookahead": the gradient the
        look-ahead took, before the meta update (microsoft/MLC; one backward
        pass less); "recomputed": G's gradient with the meta model after its
        update, as this package did before: +0.005 [-0.003, +0.012] on the same
        grid, a tie (``benchmarks/results/claims_mlc.md``).

    Attributes
    ----------
    meta_model_ : MetaLabelModel
        After a fit: the trained meta model.
    betas_ : list of (int, float)
        (epoch, barrier coefficient) of every "mlc_d" / "ebomlc" step.
    seconds_ : dict
        Seconds in the meta steps.

    Examples
    --------
    >>> from sklearn_unlocker import UnlockerClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=60, n_test_per_class=10,
    ...                           imbalance_ratio=5, noise_rate=0.3, random_state=0)
    >>> clf = UnlockerClassifier(strategy=MetaLabelStrategy(method="mlc"), max_epochs=8,
    ...                          random_state=0).fit(data.X_train, data.y_train)
    >>> clf.strategy_.method, type(clf.strategy_.meta_model_).__name__
    ('mlc', 'MetaLabelModel')
    """

    _parameter_constraints = {
        "method": [StrOptions({"ebomlc", "mlc", "mlc_d"})],
        "rho": [Interval(Real, 0, 1, closed="neither")],
        "delta": [Interval(Real, 0, None, closed="neither")],
        "xi": [Interval(Real, 0, 1, closed="right")],
        "meta_lr": [Interval(Real, 0, None, closed="neither")],
        "inner_lr": [None, Interval(Real, 0, None, closed="neither")],
        "feature_extractor": [None, callable],
        "features": [StrOptions({"live", "frozen"})],
        "meta_hidden_units": [Interval(Integral, 1, None, closed="left")],
        "q_gradient": [StrOptions({"bome", "difference"})],
        "label_skip": [None, Interval(Real, None, None, closed="neither")],
        "inner_steps": [None, Interval(Integral, 1, None, closed="left")],
        "train_on_trusted": ["boolean"],
        "step_gradient": [StrOptions({"recomputed", "lookahead"})],
    }

    def __init__(self, method="ebomlc", rho=0.2, delta=0.25, xi=0.5, meta_lr=3e-4,
                 inner_lr=None, feature_extractor=None, features="frozen",
                 meta_hidden_units=128, q_gradient="bome", label_skip=3.0,
                 inner_steps=None, train_on_trusted=True, step_gradient="lookahead"):
        self.method = method
        self.rho = rho
        self.delta = delta
        self.xi = xi
        self.meta_lr = meta_lr
        self.inner_lr = inner_lr
        self.feature_extractor = feature_extractor
        self.features = features
        self.meta_hidden_units = meta_hidden_units
        self.q_gradient = q_gradient
        self.label_skip = label_skip
        self.inner_steps = inner_steps
        self.train_on_trusted = train_on_trusted
        self.step_gradient = step_gradient

    def build_meta(self, net, context):
        self._warn_ignored()
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            features, _ = penultimate_features(module, context.inputs[:2].to(net.device),
                                               self.feature_extractor)
        module.train(was_training)
        width = features.shape[1]
        self.betas_ = []
        self._frozen = None
        return {"meta_model": MetaLabelModel(width, context.n_classes, self.meta_hidden_units,
                                             self.meta_hidden_units, self.label_skip)}

    #: the methods that read each method-specific parameter
    _METHODS_READING = {"q_gradient": ("mlc_d", "ebomlc"), "inner_steps": ("mlc_d", "ebomlc"),
                        "train_on_trusted": ("mlc",), "step_gradient": ("mlc",)}

    def _warn_ignored(self):
        """Warn about each parameter set away from its default that the method does not read."""
        defaults = inspect.signature(type(self).__init__).parameters
        for name, methods in self._METHODS_READING.items():
            value = getattr(self, name)
            if self.method not in methods and value != defaults[name].default:
                warnings.warn(f"{name}={value!r} is ignored with method={self.method!r}: it "
                              f"applies to method {' and '.join(map(repr, methods))} only",
                              UnlockerWarning, stacklevel=3)

    # --- the score pass and the verdict --------------------------------------------------

    def score_training(self, net, X, y, batch_size=None):
        """Logits of every training sample and, beside them, the meta model's corrections."""
        module, device = net.module_, net.device
        if batch_size is None:  # the score pass's batches, as TrainingNet.logits reads them
            batch_size = getattr(net, "iterator_valid__batch_size", 1024)
        self._settle_betas()
        if self.features == "frozen" and self._frozen is None:  # the warm-up has just ended
            self._frozen = copy.deepcopy(module).eval().requires_grad_(False)
        was_training = module.training
        module.eval()
        logits, corrections, confidence = [], [], []
        with torch.no_grad(), net.autocast():
            for start, stop, batch in iter_batches(X, batch_size):
                batch = batch.to(device)
                labels = torch.as_tensor(y[start:stop], dtype=torch.long, device=device)
                features, z = penultimate_features(module, batch, self._extractor())
                best, choice = self.meta_model_(features, labels).max(dim=1)
                logits.append(to_host(z))
                corrections.append(to_host(choice, torch.long))
                confidence.append(to_host(best, torch.float64))
                if copies_due(device, len(logits)):  # out of pinned memory, in one piece
                    wait_for_copies(device)
                    logits, corrections, confidence = (
                        [torch.cat(parts)] for parts in (logits, corrections, confidence))
        wait_for_copies(device)
        module.train(was_training)
        return Scores(torch.cat(logits)[None], {"corrections": torch.cat(corrections).numpy(),
                                                "confidence": torch.cat(confidence).numpy()})

    def _settle_betas(self):
        """The epoch's barrier coefficients as floats: one read of the device per epoch
        (the steps keep them as tensors where they were computed)."""
        pending = [i for i, (_, beta) in enumerate(self.betas_) if torch.is_tensor(beta)]
        if pending:
            values = torch.stack([self.betas_[i][1] for i in pending]).tolist()
            for i, value in zip(pending, values, strict=True):
                self.betas_[i] = (self.betas_[i][0], value)

    def split(self, logits, y, *, sample_weight=None, random_state=None, corrections=None,
              confidence=None):
        """The meta model's verdict: a label is clean where it keeps it. ``corrections`` and
        ``confidence`` are the score pass's (:meth:`score_training` returns them)."""
        if corrections is None or confidence is None:
            raise ValueError("MetaLabelStrategy.split needs the corrections and confidence "
                             "of its score pass: pass score_training(...).extras")
        y = np.asarray(y)
        clean = corrections == y
        clean_proba = torch.exp(-row_cross_entropy(
            logits.to(torch.float64), torch.as_tensor(y, dtype=torch.long))).numpy()
        return Split(clean_proba, clean, np.asarray(corrections).copy(),
                     np.where(clean, 1.0, confidence))

    def _extractor(self):
        """h(x) as a callable, or None for the live network's penultimate layer."""
        if self.feature_extractor is not None or self._frozen is None:
            return self.feature_extractor
        return self._frozen_features

    def _frozen_features(self, X):
        with torch.no_grad(), PenultimateTap(self._frozen) as tap:
            self._frozen(X)
        return tap.features

    # --- the update rules ---------------------------------------------------------------

    def meta_step(self, net, X, targets, context):
        step = {"mlc": self._mlc_step, "mlc_d": self._mlc_d_step,
                "ebomlc": self._ebomlc_step}[self.method]
        return step(net, X, targets, context)

    def _lower_loss(self, logits, features, targets):
        """G: soft cross-entropy of the main model against the meta model's corrections."""
        if targets.adjustment is not None:
            logits = logits + targets.adjustment
        return soft_cross_entropy(logits, self.meta_model_(features, targets.labels),
                                  targets.sample_weight)

    def _mlc_step(self, net, X, targets, context):
        """MLC: meta step through a one-step look-ahead (second order), then w on G."""
        module = net.module_
        params = parameters_of(module)
        X_c, y_c = context.trusted.batch(len(X))
        mixed = None
        if self.train_on_trusted and len(y_c) > 1:  # hmlc_K_mix: half of it joins G
            half = len(y_c) // 2
            X_c, y_c, mixed = X_c[:half], y_c[:half], (X_c[half:], y_c[half:])
        features, logits = penultimate_features(module, X, self._extractor())
        G = self._mixed_lower_loss(module, logits, features, targets, mixed)
        grads = torch.autograd.grad(G, list(params.values()), create_graph=True,
                                    allow_unused=True)
        ahead = self.lookahead(net, params, grads)
        F = nn.functional.cross_entropy(forward_at(module, ahead, X_c), y_c)
        self.step_meta(torch.autograd.grad(F, self.meta_parameters(), allow_unused=True))
        if self.step_gradient == "lookahead":  # microsoft/MLC: the gradient taken above
            self.set_main_grads(list(params.values()), grads)
            return G.detach(), logits.detach()
        # with the updated meta model
        G = self._mixed_lower_loss(module, module(X), features, targets, mixed)
        G.backward(inputs=list(params.values()))
        return G.detach(), logits.detach()

    def _mixed_lower_loss(self, module, logits, features, targets, mixed):
        """G, and where ``mixed`` holds trusted samples, their cross-entropy beside it,
        each weighted by its share of the samples (microsoft/MLC's ``hmlc_K_mix``)."""
        G = self._lower_loss(logits, features, targets)
        if mixed is None:
            return G
        X_m, y_m = mixed
        logits_m = module(X_m)
        if targets.adjustment is not None:
            logits_m = logits_m + targets.adjustment
        n, m = len(logits), len(y_m)
        return (n * G + m * nn.functional.cross_entropy(logits_m, y_m)) / (n + m)

    def _value_gap(self, net, X, targets, context, inner_steps):
        """BOME's first-order value-function gap ``Q = G(w, a) - G(w_k, a)``.

        Returns the main model's features and logits on the batch and the
        gradients of Q with respect to the main and the meta parameters.
        """
        module = net.module_
        params = parameters_of(module)
        meta_params = self.meta_parameters()
        features, logits = penultimate_features(module, X, self._extractor())
        G = self._lower_loss(logits, features, targets)
        grad_G_w = torch.autograd.grad(G, list(params.values()), retain_graph=True,
                                       allow_unused=True)
        grad_G_a = torch.autograd.grad(G, meta_params, allow_unused=True)
        # the inner loop, first order: w_(k) is a constant
        inner = {name: p.detach() for name, p in params.items()}
        grads = grad_G_w
        for step in range(inner_steps):
            inner = {name: value.detach().requires_grad_() for name, value in
                     self.lookahead(net, inner, [None if g is None else g.detach()
                                                 for g in grads], originals=params).items()}
            if step + 1 < inner_steps:  # the next inner step on a fresh noisy batch
                X_k, rows_k = self.noisy_batch(context, len(X))
                X_k = X_k.to(X.device, non_blocking=True)
                features_k, _ = penultimate_features(module, X_k, self._extractor())
                G_k = self._lower_loss(forward_at(module, inner, X_k), features_k,
                                       targets.at(rows_k.to(X.device, non_blocking=True)))
                grads = torch.autograd.grad(G_k, list(inner.values()), allow_unused=True)
        if self.q_gradient == "bome":  # w_k a constant: grad_w Q = grad_w G(w)
            G_ahead = self._lower_loss(forward_at(module, inner, X).detach(), features, targets)
            grad_ahead_a = torch.autograd.grad(G_ahead, meta_params, allow_unused=True)
            grad_Q_w = list(grad_G_w)
        else:  # EBOMLC's Lemma 2: grad Q = grad G(w) - grad G(w_k), in w as in a
            G_ahead = self._lower_loss(forward_at(module, inner, X), features, targets)
            grad_ahead = torch.autograd.grad(G_ahead, list(inner.values()) + meta_params,
                                             allow_unused=True)
            grad_ahead_a = grad_ahead[len(inner):]
            grad_Q_w = _difference(grad_G_w, grad_ahead[:len(inner)])
        return features, logits, grad_Q_w, _difference(grad_G_a, grad_ahead_a)

    def _mlc_d_step(self, net, X, targets, context):
        """MLC-D: five first-order inner steps, plain upper loss, the barrier of Eq. 7."""
        module = net.module_
        params = list(parameters_of(module).values())
        X_c, y_c = context.trusted.batch(len(X))
        _, logits, grad_Q_w, grad_Q_a = self._value_gap(net, X, targets, context,
                                                        self.inner_steps or 5)
        F = nn.functional.cross_entropy(module(X_c), y_c)
        grad_F_w = torch.autograd.grad(F, params, allow_unused=True)
        beta = mlcd_beta(grad_F_w, grad_Q_w, grad_Q_a, self.delta)
        self.betas_.append((context.epoch, beta))
        self.set_main_grads(params, _combine(grad_F_w, grad_Q_w, beta))
        self.step_meta(_combine([None] * len(grad_Q_a), grad_Q_a, beta))
        return F.detach(), logits.detach()

    def _ebomlc_step(self, net, X, targets, context):
        """EBOMLC: one inner step, the mixture upper loss, the barrier of Eqs. 10-12."""
        module = net.module_
        params = list(parameters_of(module).values())
        meta_params = self.meta_parameters()
        X_c, y_c = context.trusted.batch(len(X))
        _, logits, grad_Q_w, grad_Q_a = self._value_gap(net, X, targets, context,
                                                        self.inner_steps or 1)
        features_c, logits_c = penultimate_features(module, X_c, self._extractor())
        F = mixture_upper_loss(logits_c, self.meta_model_(features_c, y_c), y_c, self.rho)
        grad_F = torch.autograd.grad(F, params + meta_params, allow_unused=True)
        grad_F_w, grad_F_a = grad_F[:len(params)], grad_F[len(params):]
        beta = ebomlc_beta(grad_F_w, grad_Q_w, grad_Q_a, self.delta)
        self.betas_.append((context.epoch, beta))
        scale = self.xi * beta
        self.set_main_grads(params, _combine(grad_F_w, grad_Q_w, scale))
        self.step_meta(_combine(grad_F_a, grad_Q_a, scale))
        return F.detach(), logits.detach()


def _difference(first, second):
    """``first - second`` over lists of gradients (None counts as 0; None where first is)."""
    return [None if a is None else a - (0 if b is None else b)
            for a, b in zip(first, second, strict=True)]


def _combine(first, second, scale):
    """``first + scale * second`` over lists of gradients (None counts as 0)."""
    out = []
    for a, b in zip(first, second, strict=True):
        if a is None and b is None:
            out.append(None)
        else:
            out.append((0 if a is None else a) + (0 if b is None else scale * b))
    return out
