"""Count, on a CPU fit, the calls that would make the host wait for a CUDA device.

A CUDA fit stalls its host each time it reads a device value (``.item()``,
``float(t)``, ``bool(t)``, ``.cpu()``, ``.tolist()``), runs an operation whose
output size depends on device data (``nonzero``, boolean-mask indexing,
``masked_select``, ``unique``, ``repeat_interleave``, ``bincount``), indexes a
device tensor with host indices, or copies host memory to the device with a
blocking copy (``.to(device)`` without ``non_blocking=True``, ``torch.tensor(...,
device=...)``). :class:`HostSyncCounter` counts these on the CPU by following
which tensors a CUDA fit would keep on the device: a module's parameters,
whatever ``.to(...)`` or a factory given ``device=`` makes, and everything computed
from those; every other tensor (the training set, numpy data, draws from the
CPU generator, what code names ``"cpu"``) is host memory; the fit runs with
``device="cpu:0"`` standing for the GPU, and a device tensor's ``.device`` reads
``cpu:0``. Use it as a skorch callback so that it can tell
training batches from the rest::

    counter = HostSyncCounter()
    with counter:
        UnlockerClassifier(callbacks=[counter]).fit(X, y)
    counter.per_batch   # synchronising calls per training batch

It is a model of the device, not the device: ``torch.cuda.set_sync_debug_mode``
on a GPU (``python -m benchmarks gpu``) is the measurement. The model does not
see copies made by torch's C++ code (e.g. inside ``DataLoader`` pinning) and
counts a non-blocking host-to-device copy as free, which it is when the host
memory is pinned.

Command: ``python -m benchmarks syncs`` writes ``benchmarks/results/host_syncs.md``.
"""

import argparse
import collections
import time
import warnings
import weakref
from pathlib import Path

import torch
from skorch.callbacks import Callback
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from sklearn_unlocker import __version__

from .run import command_line, machine

RESULTS = Path(__file__).parent / "results"

#: reads of a device value into host memory
READS = {"item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__",
         "__complex__", "__array__"}
#: operations whose output size depends on the device's data
DATA_DEPENDENT = {"nonzero", "argwhere", "masked_select", "unique", "unique_consecutive",
                  "repeat_interleave", "bincount", "nonzero_static"}
#: operations that index with a tensor
INDEXING = {"__getitem__", "__setitem__", "index_put_", "index_put", "masked_fill_",
            "masked_scatter_"}
#: factories that copy host data to the device when given ``device=``
COPYING_FACTORIES = {"tensor", "as_tensor", "asarray"}


def _name(func):
    return getattr(func, "__name__", str(func))


#: how code names host memory; the simulated fit's device is ``"cpu:0"``
HOST = "cpu"
SIMULATED = torch.device("cpu", 0)


def _device_target(args, kwargs):
    """Where a ``.to(...)`` call moves to: "device", "host", or None (a dtype change)."""
    targets = [kwargs[k] for k in ("device", "other") if k in kwargs] + [
        a for a in args[1:] if isinstance(a, (str, torch.device, torch.Tensor))]
    if not targets:
        return None
    return "host" if str(targets[0]) == HOST else "device"


class HostSyncCounter(TorchFunctionMode, Callback):
    """Counts would-be host synchronisations; see the module's docstring.

    Attributes
    ----------
    batches : int
        Training batches seen (between skorch's ``on_batch_begin`` and
        ``on_batch_end``).
    in_batches, elsewhere : collections.Counter
        Synchronising calls by kind, inside training batches and outside them
        (the score passes, the selection, the epoch's tensors).
    """

    def __init__(self):
        TorchFunctionMode.__init__(self)
        self._device = {}  # id -> weakref of the tensors on the (simulated) device
        self.batches = 0
        self.in_batches = collections.Counter()
        self.elsewhere = collections.Counter()
        self._in_batch = False

    def __deepcopy__(self, memo):  # the estimator copies its callbacks: keep counting here
        return self

    # --- skorch's hooks: which calls belong to a training batch -------------------------

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        self._in_batch = bool(training)

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.batches += 1
        self._in_batch = False

    @property
    def per_batch(self):
        """Synchronising calls per training batch."""
        return sum(self.in_batches.values()) / max(self.batches, 1)

    # --- the device model ----------------------------------------------------------------

    def _on_device(self, value):
        if not isinstance(value, torch.Tensor):
            return False
        if isinstance(value, nn.Parameter):
            return True
        ref = self._device.get(id(value))
        return ref is not None and ref() is value

    def _put_on_device(self, value):
        for t in tree_leaves(value):
            if isinstance(t, torch.Tensor) and not self._on_device(t):
                key = id(t)
                self._device[key] = weakref.ref(t, lambda _, key=key: self._device.pop(key,
                                                                                      None))

    def _count(self, kind):
        (self.in_batches if self._in_batch else self.elsewhere)[kind] += 1

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = _name(func)
        leaves = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        device_inputs = any(self._on_device(t) for t in leaves)
        first = args[0] if args else None
        if name == "__get__" and getattr(getattr(func, "__self__", None), "__name__", "") \
                == "device" and self._on_device(first):
            return SIMULATED  # where a device tensor lives
        result = func(*args, **kwargs)
        if name in READS:
            if self._on_device(first):
                self._count(f"read: {name}")
            return result
        target = _device_target(args, kwargs) if name == "to" else None
        if name == "to" and target == "host":
            if self._on_device(first):
                self._count("read: to('cpu')")
            return result
        if name == "cuda" or target == "device":
            if isinstance(first, torch.Tensor) and not self._on_device(first) and not \
                    kwargs.get("non_blocking", False):
                self._count("blocking copy to the device")
            self._put_on_device(result)
            return result
        if str(kwargs.get("device")) == HOST:  # host memory, named as such
            return result
        if name in COPYING_FACTORIES and kwargs.get("device") is not None:
            data = args[0] if args else kwargs.get("data")
            if not self._on_device(data):
                self._count(f"blocking copy to the device: torch.{name}")
            self._put_on_device(result)
            return result
        if kwargs.get("device") is not None and not leaves:  # zeros, full, randint, ...
            self._put_on_device(result)
            return result
        if name in DATA_DEPENDENT and device_inputs:
            self._count(f"data-dependent size: {name}")
        elif name in INDEXING and self._on_device(first):
            index = args[1] if len(args) > 1 else None
            for i in (index if isinstance(index, tuple) else (index,)):
                if isinstance(i, torch.Tensor) and i.dtype == torch.bool:
                    self._count(f"boolean mask: {name}")
                elif isinstance(i, torch.Tensor) and not self._on_device(i):
                    self._count(f"host index: {name}")
        if device_inputs:
            self._put_on_device(result)
        return result


#: what ``python -m benchmarks syncs`` counts: the estimators' strategies
CASES = {
    "default (DivideMix + LA)": {},
    "small-loss + Unlocker": {"strategy": "small_loss", "logit_adjustment": "unlocker"},
    "DivideMix + Unlocker": {"logit_adjustment": "unlocker"},
    "mlc": {"strategy": "mlc"},
    "mlc_d": {"strategy": "mlc_d"},
    "ebomlc": {"strategy": "ebomlc"},
    "dynamic_loss": {"strategy": "dynamic_loss"},
}


def count(params, *, X, y, max_epochs=4, warmup_epochs=1, batch_size=64):
    """The counter after one fit of ``UnlockerClassifier(**params)`` on ``X, y``."""
    from sklearn_unlocker import UnlockerClassifier

    counter = HostSyncCounter()
    # "cpu:0" stands for the GPU: code that names the host says "cpu" (torch's optimizers)
    clf = UnlockerClassifier(callbacks=[counter], max_epochs=max_epochs, batch_size=batch_size,
                             warmup_epochs=warmup_epochs, random_state=0, device="cpu:0",
                             **params)
    with warnings.catch_warnings(), counter:
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    return counter


def _data():
    from sklearn_unlocker.datasets import make_noisy_tabular

    data = make_noisy_tabular(random_state=0)
    return data.X_train, data.y_train


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks syncs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="host_syncs")
    args = parser.parse_args(argv)
    X, y = _data()
    lines = ["# Host synchronisations per training batch (CPU model of a CUDA fit)", "",
             f"- command: `{command_line('syncs', argv).strip()}`",
             f"- sklearn-unlocker {__version__}", f"- machine: {machine()}",
             f"- data: `make_noisy_tabular(random_state=0)`, {len(y)} samples, batch size 64, "
             f"4 epochs (1 warm-up)",
             "- model: `benchmarks/syncs.py` (`HostSyncCounter`): it counts on the CPU the "
             "calls that would make the host wait for a CUDA device; "
             "`torch.cuda.set_sync_debug_mode` on a GPU (`python -m benchmarks gpu`) is the "
             "measurement", "",
             "| estimator | per training batch | in training batches, by kind | per epoch outside "
             "the batches |", "|---|---|---|---|"]
    for label, params in CASES.items():
        start = time.perf_counter()
        counter = count(params, X=X, y=y)
        kinds = ", ".join(f"{k} {v / counter.batches:.2g}" for k, v in
                          sorted(counter.in_batches.items())) or "none"
        lines.append(f"| {label} | {counter.per_batch:.1f} | {kinds} | "
                     f"{sum(counter.elsewhere.values()) / 4:.0f} |")
        print(lines[-1], f"({time.perf_counter() - start:.0f} s)", flush=True)
    path = RESULTS / f"{args.name}.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
