"""Virtual parameter steps and feature taps for the meta-learning estimators.

Look-ahead ("virtual") steps evaluate the module at parameters ``w - lr * grad``
without touching the module, through :func:`torch.func.functional_call`.
Buffers (batch-norm statistics) are passed as copies, so virtual forward passes
leave the module's running statistics alone.
"""

from torch import nn
from torch.func import functional_call

__all__ = ["PenultimateTap", "forward_at", "last_linear", "parameters_of", "step_parameters"]


def parameters_of(module):
    """The module's trainable parameters, by name.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    params : dict of str to torch.Tensor
    """
    return {name: p for name, p in module.named_parameters() if p.requires_grad}


def step_parameters(params, grads, lr):
    """``w - lr * grad`` for every parameter (a missing gradient leaves it unchanged).

    Parameters
    ----------
    params : dict of str to torch.Tensor
    grads : sequence of torch.Tensor or None
        In the order of ``params``.
    lr : float
        Step size.

    Returns
    -------
    params : dict of str to torch.Tensor
        Differentiable in ``grads`` when they were computed with ``create_graph=True``.

    Examples
    --------
    >>> import torch
    >>> step_parameters({"w": torch.tensor([1.0])}, [torch.tensor([2.0])], 0.5)
    {'w': tensor([0.])}
    """
    return {name: p if g is None else p - lr * g
            for (name, p), g in zip(params.items(), grads, strict=True)}


def forward_at(module, params, X):
    """The module's output at other parameter values, its buffers untouched.

    Parameters
    ----------
    module : torch.nn.Module
    params : dict of str to torch.Tensor
        Values for (some of) its parameters.
    X : torch.Tensor
        Input batch.

    Returns
    -------
    output : torch.Tensor
    """
    buffers = {name: b.clone() for name, b in module.named_buffers()}
    return functional_call(module, {**buffers, **params}, (X,))


def last_linear(module):
    """The module's last ``torch.nn.Linear`` layer (its classifier head).

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    layer : torch.nn.Linear

    Raises
    ------
    ValueError
        If the module has no Linear layer.
    """
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(
            "the module has no torch.nn.Linear layer whose input could serve as features; "
            "pass feature_extractor= (a callable mapping X to features)"
        )
    return layers[-1]


class PenultimateTap:
    """Context manager that records the input of a module's last Linear layer.

    Parameters
    ----------
    module : torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> with PenultimateTap(net) as tap:
    ...     _ = net(torch.zeros(5, 3))
    >>> tap.features.shape
    torch.Size([5, 4])
    """

    def __init__(self, module):
        self.layer = last_linear(module)
        self.features = None

    def _hook(self, layer, inputs):
        self.features = inputs[0].detach()

    def __enter__(self):
        self._handle = self.layer.register_forward_pre_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self._handle.remove()
        return False
