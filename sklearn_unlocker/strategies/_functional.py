"""Virtual parameter steps and feature taps for the meta-learning strategies.

Look-ahead ("virtual") steps evaluate the module at stepped parameters without
touching the module, through :func:`torch.func.functional_call`. Buffers
(batch-norm statistics) are passed as copies, so virtual forward passes leave
the module's running statistics alone. :func:`optimizer_step` is the step the
training optimizer itself would take (SGD with momentum and weight decay, Adam,
AdamW), written differentiably, as the reference implementations do (MLC's
``update_params_sgd``, Dynamic Loss through ``higher``).
"""

import torch
from torch import nn
from torch.func import functional_call

__all__ = ["PenultimateTap", "forward_at", "last_linear", "optimizer_step", "parameters_of",
           "step_parameters"]


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


def optimizer_step(params, grads, optimizer, originals=None):
    """The parameters after ``optimizer``'s next step with these gradients; its state untouched.

    Differentiable in ``grads`` (and ``params``): the look-ahead of a meta step
    is then the update the training loop really makes, at the optimizer's
    current learning rate, momentum and weight decay. Supports
    :class:`torch.optim.SGD` (momentum, dampening, Nesterov, weight decay) and
    :class:`torch.optim.Adam` / :class:`torch.optim.AdamW` (without amsgrad),
    reading each parameter's state (momentum buffer, moments, step count).

    Parameters
    ----------
    params : dict of str to torch.Tensor
        Values of the module's parameters to step from: the parameters the
        optimizer holds, or stand-ins for them (a later inner step).
    grads : sequence of torch.Tensor or None
        In the order of ``params``; None leaves a parameter unchanged.
    optimizer : torch.optim.Optimizer
        The training optimizer, already holding the module's parameters.
    originals : dict of str to torch.nn.Parameter, default=None
        The parameters whose optimizer state and settings a stand-in uses
        (its momentum buffer and moments as they are now); default ``params``.

    Returns
    -------
    params : dict of str to torch.Tensor

    Raises
    ------
    TypeError
        For another optimizer.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> sgd = torch.optim.SGD([w], lr=0.5, weight_decay=0.1)
    >>> optimizer_step({"w": w}, [torch.tensor([2.0])], sgd)["w"]  # 1 - 0.5 * (2 + 0.1)
    tensor([-0.0500], grad_fn=<SubBackward0>)
    """
    kind = type(optimizer)
    if kind not in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW):
        raise TypeError(f"the look-ahead reproduces SGD, Adam and AdamW steps; got "
                        f"{kind.__name__} (pass inner_lr=<float> for a plain SGD look-ahead)")
    group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
    originals = params if originals is None else originals
    out = {}
    for (name, p), g in zip(params.items(), grads, strict=True):
        if g is None:
            out[name] = p
            continue
        original = originals[name]
        group = group_of.get(id(original))
        if group is None:
            raise ValueError(f"parameter {name!r} is not held by the optimizer")
        state = optimizer.state.get(original, {})
        out[name] = (_sgd_step if kind is torch.optim.SGD else _adam_step)(
            p, g, group, state, decoupled=kind is torch.optim.AdamW)
    return out


def _sgd_step(p, g, group, state, decoupled=False):
    lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
    d = g + weight_decay * p if weight_decay else g
    if momentum:
        buffer = state.get("momentum_buffer")
        buffer = d if buffer is None else momentum * buffer + (1 - group["dampening"]) * d
        d = d + momentum * buffer if group["nesterov"] else buffer
    return p - lr * d


def _adam_step(p, g, group, state, decoupled):
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    weight_decay = group["weight_decay"]
    if group.get("amsgrad"):
        raise TypeError("the look-ahead does not reproduce amsgrad")
    if weight_decay and not decoupled:
        g = g + weight_decay * p
    step = float(state["step"]) + 1 if "step" in state else 1.0
    exp_avg = state.get("exp_avg", torch.zeros_like(p))
    exp_avg_sq = state.get("exp_avg_sq", torch.zeros_like(p))
    m = beta1 * exp_avg + (1 - beta1) * g
    v = beta2 * exp_avg_sq + (1 - beta2) * g * g
    v_hat = v / (1 - beta2 ** step)
    # sqrt'(0) is infinite: a parameter whose every gradient so far was 0 moves by 0, no NaN
    denom = torch.sqrt(v_hat.clamp_min(1e-30)) + eps
    base = p * (1 - lr * weight_decay) if weight_decay and decoupled else p
    return base - (lr / (1 - beta1 ** step)) * m / denom


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
