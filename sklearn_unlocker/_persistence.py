"""Keeping a fitted estimator: pickling onto the device at hand, and its saved parameters.

Pickling: the fitted state beside skorch's net (which maps its own) is pickled
as one blob that loads onto :func:`~sklearn_unlocker._net.map_location` of the
fitted device, so a CUDA-fitted estimator unpickles on a CPU machine.

Parameters: :func:`save_params` writes what prediction reads, in one file: every
network's ``state_dict`` (the main module and the strategy's, e.g. DivideMix's
second network) and the estimator's adjustment state (``tau_``, ``prior_``,
``adjustment_``...), which lives outside the skorch net; :func:`load_params`
restores it into a fitted estimator of the same architecture and classes.
"""

import io
import pickle

import numpy as np
import torch
from sklearn.exceptions import NotFittedError

from ._net import map_location

#: the key under which the fitted state beside skorch's net is pickled
DEVICE_STATE = "__device_state__"


class MappedUnpickler(pickle.Unpickler):
    """pickle's Unpickler, but torch storages load onto ``location`` (as skorch's own)."""

    def __init__(self, file, location):
        super().__init__(file)
        self.location = location

    def find_class(self, module, name):
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return lambda data: torch.load(io.BytesIO(data), map_location=self.location,
                                           weights_only=False)
        return super().find_class(module, name)


def pickled_state(state):
    """An instance's ``__dict__`` for pickling: fitted attributes (but ``net_`` and
    ``device_``) in one blob that :func:`unpickled_state` maps to this machine's device."""
    state = dict(state)
    fitted = {key: state.pop(key) for key in [k for k in state if k.endswith("_")
                                              and k not in ("net_", "device_")]}
    if fitted:
        try:
            state[DEVICE_STATE] = pickle.dumps(fitted)
        except (pickle.PicklingError, AttributeError, TypeError):
            # something only cloudpickle pickles (a lambda augment, a local class): left
            # as it is, for the pickler at hand (it then loads on the device it was on)
            state.update(fitted)
    return state


def unpickled_state(state):
    """The state :func:`pickled_state` made, its fitted blob loaded onto this machine."""
    if DEVICE_STATE in state:
        state = dict(state)
        location = map_location(state.get("device_", "cpu"))
        state.update(MappedUnpickler(io.BytesIO(state.pop(DEVICE_STATE)), location).load())
    return state


def _networks(est):
    """The fitted networks by name: ``module`` and the strategy's extra ones."""
    net = est.net_
    return {"module": net.module_,
            **{name: getattr(net, f"{name}_") for name in net.extra_module_names_}}


def _check_fitted(est, action):
    if not hasattr(est, "net_"):
        raise NotFittedError(
            f"This {type(est).__name__} instance is not fitted yet: {action} works on a "
            f"fitted estimator (load_params restores saved parameters into one of the same "
            f"module, strategy and classes: fit it first, e.g. with max_epochs=1)")


def save_params(est, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                **kwargs):
    """Write the networks and the adjustment state to ``f_params``; the rest through skorch."""
    _check_fitted(est, "save_params")
    if f_params is not None:
        adjustment = {name: _portable(getattr(est, name)) for name in est._adjustment_state
                      if hasattr(est, name)}
        torch.save({"classes": est.classes_.tolist(),
                    "networks": {name: module.state_dict()
                                 for name, module in _networks(est).items()},
                    "adjustment": adjustment}, f_params)
    others = {key: value for key, value in dict(
        f_optimizer=f_optimizer, f_criterion=f_criterion, f_history=f_history,
        **kwargs).items() if value is not None}
    if others:
        est.net_.save_params(**others)


def load_params(est, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                **kwargs):
    """Restore what :func:`save_params` wrote into a fitted estimator of the same shape."""
    _check_fitted(est, "load_params")
    if f_params is not None:
        saved = torch.load(f_params, map_location="cpu", weights_only=True)
        if saved["classes"] != est.classes_.tolist():
            raise ValueError(f"the saved parameters are of a model of classes "
                             f"{saved['classes']}; this estimator's classes_ are "
                             f"{est.classes_.tolist()}")
        networks = _networks(est)
        if set(saved["networks"]) != set(networks):
            raise ValueError(f"the saved parameters hold the networks "
                             f"{sorted(saved['networks'])}; this estimator's strategy trains "
                             f"{sorted(networks)}: load them into an estimator fitted with "
                             f"the same strategy")
        for name, module in networks.items():
            module.load_state_dict(saved["networks"][name])
        for name, value in saved["adjustment"].items():
            setattr(est, name, value.numpy() if torch.is_tensor(value) else value)
    others = {key: value for key, value in dict(
        f_optimizer=f_optimizer, f_criterion=f_criterion, f_history=f_history,
        **kwargs).items() if value is not None}
    if others:
        est.net_.load_params(**others)
        if f_history is not None:
            est.history_ = est.net_.history
    return est


def _portable(value):
    """A fitted value as ``torch.load(weights_only=True)`` reads it back: arrays as tensors."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.asarray(value, dtype=np.float64))
    return float(value)
