"""Keeping a fitted estimator: pickling onto the device at hand.

Pickling: the fitted state beside skorch's net (which maps its own) is pickled
as one blob that loads onto :func:`~sklearn_unlocker._net.map_location` of the
fitted device, so a CUDA-fitted estimator unpickles on a CPU machine.
"""

import io
import pickle

import torch

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
