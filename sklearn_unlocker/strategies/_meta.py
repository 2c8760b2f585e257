"""What the meta-learning strategies share: meta parameters driven by the trusted set.

A meta-learning strategy (meta label correction, Dynamic Loss) trains the main
network on corrected targets while a trusted set, ``context.trusted`` (the
user's or the epoch's D_bc), drives meta parameters through a look-ahead of the
main network. Its training step sets the main parameters' gradients itself
(skorch then steps the main optimizer) and steps its own Adam optimizer on the
meta parameters. Samples of an automatic trusted set are left out of the noisy
batches while they serve as trusted. The warm-up trains like any strategy
(cross-entropy on the given labels, with alpha where the row puts it in the loss).
"""

import time

import torch

from ._base import BaseStrategy
from ._functional import PenultimateTap, optimizer_step, step_parameters

__all__ = ["MetaStrategy"]


class MetaStrategy(BaseStrategy):
    """Base of the meta-learning strategies (subclasses write ``build_meta`` and ``meta_step``).

    Attributes
    ----------
    seconds_ : dict
        Seconds spent in the meta-learning steps ("meta").

    Examples
    --------
    The built-in strategies that are meta-learning strategies:

    >>> from sklearn_unlocker.strategies import STRATEGIES, MetaStrategy, resolve_strategy
    >>> sorted(name for name in STRATEGIES
    ...        if isinstance(resolve_strategy(name), MetaStrategy))
    ['dynamic_loss', 'ebomlc', 'mlc', 'mlc_d']
    >>> isinstance(resolve_strategy("small_loss"), MetaStrategy)
    False
    """

    uses_mixup_alpha = "warmup"  # the meta steps train on unmixed batches

    def check_accelerator(self, num_processes):
        raise ValueError(
            "the meta-learning strategies (dynamic_loss, mlc, mlc_d, ebomlc) set the "
            "network's gradients themselves and step their own meta-model, which an "
            "accelerator does not synchronise; use them without one (device='cuda' for a "
            "GPU)")

    def prepare(self, net, context):
        self._validate_params()
        modules = self.build_meta(net, context)
        for name, module in modules.items():
            setattr(self, f"{name}_", module.to(net.device))
        self.meta_modules_ = list(modules)
        self.meta_optimizer_ = torch.optim.Adam(self.meta_parameters(), lr=self.meta_lr)
        self.seconds_ = {"meta": 0.0}

    def build_meta(self, net, context):
        """The meta networks of this fit, by name (each is set as ``<name>_``).

        Returns
        -------
        modules : dict of str to torch.nn.Module
        """
        raise NotImplementedError

    def meta_parameters(self):
        """Every parameter of the meta networks, in order."""
        return [p for name in self.meta_modules_ for p in getattr(self, f"{name}_").parameters()]

    def train_step(self, net, X, targets, context):
        if context.in_warmup:
            return super().train_step(net, X, targets, context)
        # trusted samples sit out; the mask is read on the host and the rows gathered on
        # the device, which a mask over device data would make wait
        keep = ~context.trusted.contains(targets.host_indices)
        if keep.any() and not keep.all():
            rows = keep.nonzero()[:, 0]
            X, targets = X.index_select(0, rows.to(X.device, non_blocking=True)), \
                targets.take(rows)
        if context.augment is not None:
            X = context.augment(X)
        start = time.perf_counter()
        loss, logits = self.meta_step(net, X, targets, context)
        self.seconds_["meta"] += time.perf_counter() - start
        return loss, logits

    def meta_step(self, net, X, targets, context):
        """One update of the main and meta parameters; sets the main parameters' ``.grad``.

        Returns
        -------
        loss : torch.Tensor
            The loss to report for the batch (without grad).
        logits : torch.Tensor
        """
        raise NotImplementedError

    def lookahead(self, net, params, grads, originals=None):
        """Parameters after one look-ahead (virtual or inner) step with these gradients.

        With ``inner_lr=None``, the training optimizer's own next step
        (:func:`~sklearn_unlocker.strategies._functional.optimizer_step`: its
        learning rate, momentum, weight decay and, for Adam, its moments as they
        are), as MLC's and Dynamic Loss's code do; with a number, a plain SGD step
        of that size.
        """
        if self.inner_lr is not None:
            return step_parameters(params, grads, self.inner_lr)
        return optimizer_step(params, grads, net.optimizer_, originals)

    def step_meta(self, grads):
        """Set the meta parameters' gradients and step their optimizer."""
        for p, g in zip(self.meta_parameters(), grads, strict=True):
            p.grad = None if g is None else g.detach().clone()
        self.meta_optimizer_.step()
        self.meta_optimizer_.zero_grad(set_to_none=True)

    @staticmethod
    def set_main_grads(parameters, grads):
        """Set the main parameters' gradients (skorch's optimizer steps on them)."""
        for p, g in zip(parameters, grads, strict=True):
            p.grad = None if g is None else torch.as_tensor(g).detach().clone()

    @staticmethod
    def noisy_batch(context, size):
        """A random batch of training samples outside the trusted set: inputs, positions."""
        n = len(context.labels)
        rows = torch.randperm(n, generator=context.generator)
        outside = rows[~context.trusted.member[rows]]
        rows = (outside if len(outside) else rows)[:size]  # a trusted set of every sample
        return context.inputs[rows], rows


def penultimate_features(module, X, feature_extractor=None):
    """Features h(x) (detached) and logits of a batch.

    h(x) is ``feature_extractor(X)`` when given (numpy arrays and tensors on any
    device are moved to ``X``'s device), else the input of the module's last
    ``torch.nn.Linear`` layer.
    """
    if feature_extractor is not None:
        with torch.no_grad():
            # numpy or a tensor on another device: onto the batch's device
            features = torch.as_tensor(feature_extractor(X), device=X.device).float()
        return features.reshape(len(X), -1), module(X)
    with PenultimateTap(module) as tap:
        logits = module(X)
    return tap.features.reshape(len(X), -1), logits
