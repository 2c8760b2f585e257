"""What a warm start may change, and the fitted state it continues.

A fit records :func:`signature` (the networks, their optimizer, the method) in
``_warm_signature_``; a fit with ``warm_start=True`` reads :func:`fitted_state`
and :func:`check` refuses what would not continue the same model.
"""

import numpy as np
from torch import nn


def fingerprint(value):
    """A value as a warm start compares it: functions and classes by name, arrays by content."""
    if isinstance(value, nn.Module):
        return f"{type(value).__qualname__}:{value!r}"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    if isinstance(value, (np.ndarray, list, tuple)) and not isinstance(value, str):
        try:
            array = np.asarray(value)
        except ValueError:  # ragged
            return repr(value)
        if array.dtype != object:
            return f"{array.dtype}{array.shape}:{array.tobytes().hex()}"
    return repr(value)


def signature(est, device):
    """What a warm start may not change: the networks, their optimizer, the method."""
    strategy = est._make_strategy()
    routed = {key: value for key, value in est._skorch_kwargs().items()
              if key.startswith(("module__", "optimizer__"))}
    return {"module": fingerprint(est.module), "optimizer": fingerprint(est.optimizer),
            "classes": fingerprint(est.classes), "device": str(device),
            "strategy": type(strategy).__name__,
            **{f"strategy__{key}": fingerprint(value)
               for key, value in strategy.get_params(deep=False).items()},
            **{key: fingerprint(value) for key, value in routed.items()}}


def fitted_state(est):
    """The fitted model a warm start continues, read before this fit's input resets it."""
    return {"classes": est.classes_, "input_shape": est.input_shape_,
            "engine": est._engine_state_, "epochs": len(est.net_.history),
            "signature": est._warm_signature_}


def check(est, fitted, y_encoded, device):
    """Labels encoded as the fitted model's classes; a changed network is an error."""
    if est.input_shape_ != fitted["input_shape"]:
        raise ValueError(f"warm_start=True continues the fitted model, which takes samples "
                         f"of shape {fitted['input_shape']}; X has {est.input_shape_}")
    labels = est.classes_[y_encoded]
    unseen = np.setdiff1d(np.unique(labels), fitted["classes"])
    if len(unseen):
        raise ValueError(f"warm_start=True continues the fitted model, whose classes are "
                         f"{fitted['classes'].tolist()}; y has others: {unseen.tolist()} "
                         f"(refit with warm_start=False)")
    now = signature(est, device)
    changed = sorted(key for key in now.keys() | fitted["signature"].keys()
                     if now.get(key) != fitted["signature"].get(key))
    if changed:
        raise ValueError(f"warm_start=True continues the fitted model, but "
                         f"{', '.join(changed)} changed since it was fitted; refit with "
                         f"warm_start=False")
    est.classes_ = fitted["classes"]
    return np.searchsorted(est.classes_, labels)
