"""Meta label correction: MLC, MLC-D and EBOMLC (DESIGN.md section 6)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._base import MetaClassifierBase, MetaProcedure
from ._functional import PenultimateTap, forward_at, parameters_of, step_parameters
from ._math import ebomlc_beta, mixture_upper_loss, mlcd_beta
from ._trusted import low_loss_indices

__all__ = ["MetaLabelCorrectionClassifier", "MetaLabelModel"]


class MetaLabelModel(nn.Module):
    """The meta model g(h(x), y): features and a label embedding to a class distribution.

    A label embedding (C x ``embedding_dim``) is concatenated with the features
    and fed to a three-layer MLP. A learnable skip connection adds
    ``label_logit * onehot(y)`` to the output logits, starting at 3, so that the
    untrained model mostly returns the given label (training starts as
    cross-entropy on the given labels rather than on uniform targets).

    Parameters
    ----------
    n_features : int
        Width of h(x).
    n_classes : int
    embedding_dim : int, default=128
    hidden_units : int, default=128
    """

    def __init__(self, n_features, n_classes, embedding_dim=128, hidden_units=128):
        super().__init__()
        self.embedding = nn.Embedding(n_classes, embedding_dim)
        self.mlp = nn.Sequential(
            nn.Linear(n_features + embedding_dim, hidden_units), nn.Tanh(),
            nn.Linear(hidden_units, hidden_units), nn.Tanh(),
            nn.Linear(hidden_units, n_classes),
        )
        self.label_logit = nn.Parameter(torch.tensor(3.0))

    def forward(self, features, labels):
        logits = self.mlp(torch.cat([features, self.embedding(labels)], dim=1))
        onehot = nn.functional.one_hot(labels, logits.shape[1]).to(logits.dtype)
        return torch.softmax(logits + self.label_logit * onehot, dim=1)


class _MLCProcedure(MetaProcedure):
    """The three update rules (see the estimator's docstring)."""

    def __init__(self, estimator, meta_model, **kwargs):
        super().__init__(estimator, **kwargs)
        self.meta_model = meta_model
        self.meta_optimizer = torch.optim.Adam(meta_model.parameters(), lr=estimator.meta_lr)
        self.history["beta"] = []
        self._betas = []

    def begin_epoch(self, net):
        if self._betas:
            self.history["beta"].append(float(np.mean(self._betas)))
            self._betas = []
        super().begin_epoch(net)

    def end_training(self, net):
        if self._betas:
            self.history["beta"].append(float(np.mean(self._betas)))

    def select_trusted(self, losses):
        sizes = np.bincount(self.y, minlength=self.n_classes)
        return low_loss_indices(losses, self.y, self.n_classes,
                                self.estimator._trusted_count(sizes))

    # --- pieces --------------------------------------------------------------------------

    def _features_and_logits(self, module, X):
        if self.estimator.feature_extractor is not None:
            with torch.no_grad():
                features = torch.as_tensor(self.estimator.feature_extractor(X)).float()
            return features.reshape(len(X), -1), module(X)
        with PenultimateTap(module) as tap:
            logits = module(X)
        return tap.features.reshape(len(X), -1), logits

    def _lower_loss(self, logits, features, labels, weights):
        """G: cross-entropy of the main model against the meta model's corrected labels."""
        targets = self.meta_model(features, labels)
        per_sample = -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1)
        return (per_sample * weights).mean()

    def meta_step(self, net, X, indices):
        method = self.estimator.method
        module = net.module_
        params = parameters_of(module)
        meta_params = list(self.meta_model.parameters())
        labels, weights = self.y_t[indices], self.weight_t[indices]
        X_c, y_c = self.trusted_batch(len(X))
        eta = self.estimator.inner_lr
        features, logits = self._features_and_logits(module, X)
        G = self._lower_loss(logits, features, labels, weights)

        if method == "mlc":
            # alpha: gradient of F at the one-step look-ahead w' (second order through w')
            grads = torch.autograd.grad(G, list(params.values()), create_graph=True,
                                        allow_unused=True)
            ahead = step_parameters(params, grads, eta)
            F = nn.functional.cross_entropy(forward_at(module, ahead, X_c), y_c)
            meta_grads = torch.autograd.grad(F, meta_params, allow_unused=True)
            self._apply(meta_params, meta_grads)
            # then w on G with the updated meta model
            G = self._lower_loss(module(X), features, labels, weights)
            G.backward(inputs=list(params.values()))
            return G.detach(), logits.detach()

        grad_G_w = torch.autograd.grad(G, list(params.values()), retain_graph=True,
                                       allow_unused=True)
        grad_G_a = torch.autograd.grad(G, meta_params, allow_unused=True)
        # the inner loop, first order: w_(k) is a constant (BOME)
        inner = {name: p.detach() for name, p in params.items()}
        steps = 5 if method == "mlc_d" else 1
        grads = grad_G_w
        for step in range(steps):
            inner = {name: value.detach().requires_grad_() for name, value in
                     step_parameters(inner, [None if g is None else g.detach() for g in grads],
                                     eta).items()}
            if step + 1 < steps:  # MLC-D: the next step on a fresh noisy batch
                X_k, rows_k = self.noisy_batch(len(X))
                with PenultimateTap(module) as tap:
                    module(X_k)
                G_k = self._lower_loss(forward_at(module, inner, X_k),
                                       tap.features.reshape(len(X_k), -1), self.y_t[rows_k],
                                       self.weight_t[rows_k])
                grads = torch.autograd.grad(G_k, list(inner.values()), allow_unused=True)
        G_ahead = self._lower_loss(forward_at(module, inner, X).detach(), features, labels,
                                   weights)
        grad_ahead_a = torch.autograd.grad(G_ahead, meta_params, allow_unused=True)
        # Q = G(w, a) - G(w_(k), a): grad_w Q = grad_w G(w, a); grad_a Q = the difference
        grad_Q_w = list(grad_G_w)
        grad_Q_a = [None if a is None else a - (0 if b is None else b)
                    for a, b in zip(grad_G_a, grad_ahead_a, strict=True)]

        features_c, logits_c = self._features_and_logits(module, X_c)
        if method == "mlc_d":
            F = nn.functional.cross_entropy(logits_c, y_c)
            grad_F_w = torch.autograd.grad(F, list(params.values()), allow_unused=True)
            grad_F_a = [None] * len(meta_params)
            beta = mlcd_beta(grad_F_w, grad_Q_w, grad_Q_a, self.estimator.delta)
            scale = beta
        else:  # ebomlc
            F = mixture_upper_loss(logits_c, self.meta_model(features_c, y_c), y_c,
                                   self.estimator.rho)
            grad_F = torch.autograd.grad(F, list(params.values()) + meta_params,
                                         allow_unused=True)
            grad_F_w, grad_F_a = grad_F[:len(params)], grad_F[len(params):]
            beta = ebomlc_beta(grad_F_w, grad_Q_w, grad_Q_a, self.estimator.delta)
            scale = self.estimator.xi * beta
        self._betas.append(beta)
        self._apply(list(params.values()), self._combine(grad_F_w, grad_Q_w, scale),
                    step=False)
        self._apply(meta_params, self._combine(grad_F_a, grad_Q_a, scale))
        return F.detach(), logits.detach()

    @staticmethod
    def _combine(first, second, scale):
        out = []
        for a, b in zip(first, second, strict=True):
            if a is None and b is None:
                out.append(None)
            else:
                out.append((0 if a is None else a) + (0 if b is None else scale * b))
        return out

    def _apply(self, parameters, grads, step=True):
        """Set ``.grad``; step the meta optimizer (the main one is stepped by skorch)."""
        for p, g in zip(parameters, grads, strict=True):
            p.grad = None if g is None else torch.as_tensor(g).detach().clone()
        if step:
            self.meta_optimizer.step()
            self.meta_optimizer.zero_grad(set_to_none=True)


class MetaLabelCorrectionClassifier(MetaClassifierBase):
    """Meta label correction (MLC, MLC-D, EBOMLC) around any torch module.

    A meta model g(h(x), y) turns each noisy sample's features ``h(x)`` (the
    input of the main module's last Linear layer, detached, or a user
    ``feature_extractor``) and given label into a corrected label distribution;
    the main model f_w trains on those (the lower loss G) while a trusted set
    drives the meta model (the upper loss F):

    - "mlc" (Zheng et al. 2021): the meta parameters follow the gradient of F at
      a one-step look-ahead ``w' = w - inner_lr * grad_w G`` (second order
      through w'); then w takes a step on G.
    - "mlc_d": BOME's dynamic barrier on MLC (EBOMLC's Algorithm 1): k = 5 inner
      SGD steps (first order), ``Q = G(w) - G(w_k)``, ``beta`` of Eq. 7; w steps on
      ``grad_w F + beta grad_w Q``, the meta model on ``beta grad_a Q``.
    - "ebomlc" (Nguyen et al.): one inner step (Eq. 8), the mixture upper loss
      (Eq. 9, ``rho``), the alignment-aware barrier (Eqs. 10-11, ``delta``) and
      the scaled step (Eq. 12, ``xi``), first order throughout.

    With no trusted set given to ``fit``, one is built each epoch from the noisy
    data: the ``trusted_per_class`` lowest-loss samples of each class, left out of
    the noisy batches while used.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The main network (see :class:`~sklearn_unlocker.UnlockerClassifier`); it
        needs a final ``torch.nn.Linear`` layer unless ``feature_extractor`` is given.
    method : {"ebomlc", "mlc", "mlc_d"}, default="ebomlc"
    rho : float in (0, 1), default=0.2
        EBOMLC's mixture weight of the main model in the upper loss (the paper's 0.2).
    delta : float, default=0.25
        Barrier scale (the paper's 0.25).
    xi : float in (0, 1], default=0.5
        EBOMLC's scale of the noisy direction (the paper's 0.5).
    meta_lr : float, default=3e-4
        Adam learning rate of the meta model, much smaller than the main one
        (the paper's 3e-4).
    inner_lr : float, default=0.1
        Step size of the look-ahead / inner SGD steps (the papers' main SGD rate).
    trusted_per_class : float or int, default=0.5
        Automatic trusted set per class: a float is a fraction of the smallest
        class's size (0.5 gives 2% of a CIFAR-10 training set at IR 100, the
        papers' trusted share), an int a count; at least 1.
    feature_extractor : callable, default=None
        Maps a batch of X (a tensor on the device) to features h(x); default: the
        input of the main module's last Linear layer.
    meta_hidden_units : int, default=128
        Width of the meta model's MLP (and of its label embedding).
    warmup_epochs : int, default=5
        Epochs of plain cross-entropy before meta learning starts.
    max_epochs, batch_size, lr, optimizer, classes, device, callbacks, random_state, verbose
        As in :class:`~sklearn_unlocker.UnlockerClassifier`.
    **kwargs
        Routed skorch parameters, as in :class:`~sklearn_unlocker.UnlockerClassifier`.

    Attributes
    ----------
    classes_, n_features_in_, input_shape_, net_, history_, device_
        As in :class:`~sklearn_unlocker.UnlockerClassifier`.
    meta_model_ : MetaLabelModel
        The trained meta model (on the CPU).
    corrected_labels_ : ndarray of shape (n_samples,)
        argmax of the meta model's distribution for each training sample, in the
        original label values.
    label_issues_ : ndarray of bool, shape (n_samples,)
        Where the corrected label differs from the given one.
    barrier_history_ : ndarray of shape (n_epochs,)
        Mean barrier coefficient beta per meta-learning epoch ("mlc_d", "ebomlc").
    trusted_source_ : {"user", "auto"}
    trusted_indices_ : ndarray or None
        The last automatic trusted set (indices into the training set).
    trusted_size_history_ : ndarray of shape (n_epochs,)
    timings_ : dict
        Seconds: "fit", "meta" (the meta-learning steps), "trusted_set".

    Examples
    --------
    >>> from sklearn_unlocker.meta import MetaLabelCorrectionClassifier
    >>> from sklearn_unlocker.datasets import make_noisy_tabular
    >>> data = make_noisy_tabular(n_samples_per_class=60, n_test_per_class=10,
    ...                           imbalance_ratio=5, noise_rate=0.3, random_state=0)
    >>> clf = MetaLabelCorrectionClassifier(max_epochs=8, random_state=0)
    >>> clf.fit(data.X_train, data.y_train).trusted_source_
    'auto'
    """

    _parameter_constraints = {
        **MetaClassifierBase._parameter_constraints,
        "method": [StrOptions({"ebomlc", "mlc", "mlc_d"})],
        "rho": [Interval(Real, 0, 1, closed="neither")],
        "delta": [Interval(Real, 0, None, closed="neither")],
        "xi": [Interval(Real, 0, 1, closed="right")],
        "trusted_per_class": [Interval(Real, 0, None, closed="neither")],
        "feature_extractor": [None, callable],
        "meta_hidden_units": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        module=None,
        *,
        method="ebomlc",
        rho=0.2,
        delta=0.25,
        xi=0.5,
        meta_lr=3e-4,
        inner_lr=0.1,
        trusted_per_class=0.5,
        feature_extractor=None,
        meta_hidden_units=128,
        warmup_epochs=5,
        max_epochs=60,
        batch_size=128,
        lr=3e-3,
        optimizer=torch.optim.AdamW,
        classes=None,
        device="auto",
        callbacks=None,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.module = module
        self.method = method
        self.rho = rho
        self.delta = delta
        self.xi = xi
        self.meta_lr = meta_lr
        self.inner_lr = inner_lr
        self.trusted_per_class = trusted_per_class
        self.feature_extractor = feature_extractor
        self.meta_hidden_units = meta_hidden_units
        self.warmup_epochs = warmup_epochs
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.classes = classes
        self.device = device
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self._store_skorch_kwargs(kwargs)

    def _trusted_count(self, class_sizes):
        n_min = int(class_sizes[class_sizes > 0].min())
        if isinstance(self.trusted_per_class, Integral):
            return max(1, int(self.trusted_per_class))
        return max(1, int(self.trusted_per_class * n_min))

    def _make_procedure(self, *, net, X, y, sample_weight, n_classes, device, random_state,
                        generator, strategy):
        X_trusted, y_trusted = self._trusted_tensors()
        module = net.module_
        if self.feature_extractor is not None:
            with torch.no_grad():
                width = int(np.prod(torch.as_tensor(
                    self.feature_extractor(X[:2].to(device))).shape[1:]))
        else:
            with torch.no_grad(), PenultimateTap(module) as tap:
                module.eval()
                module(X[:2].to(device))
                module.train()
            width = int(np.prod(tap.features.shape[1:]))
        meta_model = MetaLabelModel(width, n_classes, self.meta_hidden_units,
                                    self.meta_hidden_units).to(device)
        return _MLCProcedure(self, meta_model, X=X, y=y, sample_weight=sample_weight,
                             n_classes=n_classes, device=device, random_state=random_state,
                             generator=generator, X_trusted=X_trusted, y_trusted=y_trusted)

    def _finish_fit(self, procedure, fit_seconds):
        self._finish_trusted(procedure)
        self.meta_model_ = procedure.meta_model.cpu().eval()
        self.barrier_history_ = np.asarray(procedure.history["beta"])
        self.history_ = self.net_.history
        self.timings_ = {"fit": fit_seconds, **procedure.seconds}
        corrected = self._meta_corrections(procedure)
        self.corrected_labels_ = self.classes_[corrected]
        self.label_issues_ = corrected != procedure.y

    def _meta_corrections(self, procedure):
        module, rows = self.net_.module_, []
        module.eval()
        with torch.no_grad():
            for start in range(0, len(procedure.X), 1024):
                X = procedure.X[start:start + 1024].to(self.device_)
                features, _ = procedure._features_and_logits(module, X)
                labels = torch.as_tensor(procedure.y[start:start + 1024], dtype=torch.long)
                rows.append(self.meta_model_(features.cpu(), labels).argmax(dim=1))
        module.train()
        return torch.cat(rows).numpy()

