"""The scikit-learn face shared by every estimator of the package.

:class:`NeuralClassifierBase` validates input, encodes labels, builds the torch
module, the training engine (:class:`~sklearn_unlocker._engine.TrainingEngine`)
and the internal skorch net (:class:`~sklearn_unlocker._net.TrainingNet`) that
calls it, seeds randomness without touching global state, reads the fitted
attributes every estimator has, and predicts. A subclass (a public face)
supplies the engine's :class:`~sklearn_unlocker._engine.Config`, its strategy,
its own fitted attributes and the adjustment applied at prediction.
"""

import contextlib
import copy
import dataclasses
import difflib
import inspect
import io
import pickle
import time
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.callbacks.scoring import ScoringBase
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch import nn
from torch.utils.data import DataLoader, Subset

from ._engine import TrainingEngine
from ._inputs import (
    DatasetInputs,
    IndexedDataset,
    LabelledDataset,
    dataset_labels,
    is_dataset,
)
from ._net import TensorBatchIterator, TrainingNet, map_location
from ._sklearn_compat import Interval, StrOptions, check_sample_weight
from .augment import default_views
from .exceptions import UnlockerWarning
from .model_selection import noise_from_labels
from .modules import MLP

__all__ = ["NeuralClassifierBase"]


def _on_host(values):
    """A tensor (on any device, with or without grad) as a numpy array; others as given."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return values


class _MappedUnpickler(pickle.Unpickler):
    """pickle's Unpickler, but torch storages load onto ``location`` (as skorch's own)."""

    def __init__(self, file, location):
        super().__init__(file)
        self.location = location

    def find_class(self, module, name):
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return lambda data: torch.load(io.BytesIO(data), map_location=self.location,
                                           weights_only=False)
        return super().find_class(module, name)

_SEED_MAX = 2**31 - 1
#: inputs larger than this in magnitude are warned about (a fit on them saturates)
_LARGEST_INPUT = 1e8

#: skorch parameter families a user may route through ``**kwargs``.
SKORCH_PREFIXES = ("module__", "optimizer__", "iterator_train__", "iterator_valid__",
                   "callbacks__")
#: plain skorch parameters a user may pass through ``**kwargs``.
SKORCH_PLAIN = ("iterator_train", "iterator_valid")

#: keywords users bring from scikit-learn or skorch that are not parameters here
_KEYWORD_HINTS = {
    "class_weight": "long-tailed classes are what logit_adjustment corrects; per-sample "
                    "weights go to fit(X, y, sample_weight=...)",
    "criterion": "the loss is the method's own (the logit-adjusted cross-entropy, DivideMix's "
                 "MixMatch loss, ...): choose it with strategy= and logit_adjustment=",
}


def _fingerprint(value):
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


def _class_names(dataset):
    """The class names a torchvision dataset numbers its labels by (``classes``), or None."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    names = getattr(dataset, "classes", None)
    return list(names) if isinstance(names, (list, tuple)) else None


def _stopped_early(net):
    """Whether skorch's EarlyStopping ended the training (it raises KeyboardInterrupt too)."""
    return any(isinstance(callback, EarlyStopping) and callback.misses_ >= callback.patience
               for _, callback in net.callbacks_)


class NeuralClassifierBase(ClassifierMixin, BaseEstimator):
    """Base class: a scikit-learn classifier that trains a torch module through skorch.

    Not used directly. Subclasses declare their parameters in ``__init__``,
    store ``**kwargs`` with :meth:`_store_skorch_kwargs`, and implement
    :meth:`_engine_config`, :meth:`_make_strategy`, :meth:`_fitted_attributes`
    and :meth:`_prediction_adjustment`.
    """

    _parameter_constraints = {
        "module": [None, type, nn.Module],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [type],
        "classes": ["array-like", None],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str, torch.device],
        "mixed_precision": [None, StrOptions({"bfloat16"})],
        "callbacks": [list, None],
        "train_split": [None, callable],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # --- parameters ----------------------------------------------------------------

    def _store_skorch_kwargs(self, kwargs):
        for key, value in kwargs.items():
            if "__" not in key and (key.startswith("_") or key.endswith("_")):
                raise TypeError(
                    f"{type(self).__name__} got an unexpected keyword argument {key!r}: names "
                    f"with a leading or trailing underscore are private or fitted attributes, "
                    f"not parameters")
            setattr(self, key, value)

    def _skorch_kwargs(self):
        return {key: value for key, value in vars(self).items()
                if key.startswith(SKORCH_PREFIXES) or key in SKORCH_PLAIN}

    def get_params(self, deep=True):
        """Parameters of this estimator, including routed skorch parameters (``module__*`` etc.).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of nested estimators (e.g. ``strategy__*``).

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=False)
        if deep:  # only real estimators nest: a torchvision transform has a static get_params
            for name, value in list(params.items()):
                value = self._named_estimator(name, value) or value
                if isinstance(value, BaseEstimator):
                    params.update({f"{name}__{k}": v for k, v in value.get_params().items()})
        params.update(self._skorch_kwargs())
        return params

    def _named_estimator(self, name, value):
        """The estimator a parameter given by name stands for (a strategy name), or None."""
        return None

    def __sklearn_clone__(self):
        """Clone like scikit-learn, deep-copying parameters that are not estimators.

        ``sklearn.base.clone`` treats anything with a ``get_params`` attribute as an
        estimator; torchvision transforms (``augment=``) have a static one with
        other arguments, so they are deep-copied instead. A misspelled keyword raises
        here, not only in ``fit``: a clone would drop it silently.
        """
        self._check_keywords()
        params = {name: clone(value, safe=False) if isinstance(value, BaseEstimator)
                  or not hasattr(value, "get_params") else copy.deepcopy(value)
                  for name, value in self.get_params(deep=False).items()}
        new = type(self)(**params)
        if hasattr(self, "_metadata_request"):  # set_fit_request(...) survives, as in clone
            new._metadata_request = copy.deepcopy(self._metadata_request)
        return new

    def set_params(self, **params):
        """Set parameters, including routed skorch parameters (``module__*`` etc.).

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
        """
        routed = {k: params.pop(k) for k in list(params)
                  if k.startswith(SKORCH_PREFIXES) or k in SKORCH_PLAIN}
        self._store_skorch_kwargs(routed)
        for name in {key.split("__")[0] for key in params if "__" in key} - set(params):
            # a nested parameter of a parameter given by name (strategy="small_loss"): the
            # name becomes the object it stands for, which then takes the parameter
            named = self._named_estimator(name, getattr(self, name, None))
            if named is not None:
                setattr(self, name, named)
        return super().set_params(**params) if params else self

    # the fitted state beside skorch's net (which maps its own): the strategy's networks,
    # optimizer states and frozen copies may live on a GPU
    _DEVICE_STATE = "__device_state__"

    def __getstate__(self):
        state = dict(super().__getstate__())  # object's is the instance's own __dict__
        fitted = {key: state.pop(key) for key in [k for k in state if k.endswith("_")
                                                  and k not in ("net_", "device_")]}
        if fitted:
            try:
                state[self._DEVICE_STATE] = pickle.dumps(fitted)
            except (pickle.PicklingError, AttributeError, TypeError):
                # something only cloudpickle pickles (a lambda augment, a local class): left
                # as it is, for the pickler at hand (it then loads on the device it was on)
                state.update(fitted)
        return state

    def __deepcopy__(self, memo):
        # a copy in memory needs no map location: copy the attributes as they are
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __setstate__(self, state):
        if self._DEVICE_STATE in state:
            state = dict(state)
            location = map_location(state.get("device_", "cpu"))
            state.update(_MappedUnpickler(io.BytesIO(state.pop(self._DEVICE_STATE)),
                                          location).load())
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        # bit for bit on the CPU; on CUDA, atomic-add kernels may differ in the last bits
        device = str(getattr(self, "device", "cpu"))
        tags.non_deterministic = device.startswith("cuda") or (
            device == "auto" and torch.cuda.is_available())
        return tags

    # --- fitting -------------------------------------------------------------------

    def _check_keywords(self):
        """A keyword that is neither a parameter nor a routed skorch one is a mistake."""
        known = self._get_param_names()
        typos = sorted(k for k in vars(self) if "__" not in k and not k.startswith("_")
                       and not k.endswith("_") and k not in known and k not in SKORCH_PLAIN)
        if typos:
            hints = [f"{k!r} ({_KEYWORD_HINTS[k]})" if k in _KEYWORD_HINTS
                     else f"{k!r} (did you mean {close[0]!r}?)"
                     if (close := difflib.get_close_matches(k, known, n=1)) else repr(k)
                     for k in typos]
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) "
                            f"{', '.join(hints)}")

    def _validate_fit_input(self, X, y, sample_weight):
        self._check_keywords()
        for key in ("iterator_train__batch_size", "iterator_valid__batch_size"):
            value = self._skorch_kwargs().get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)
                                      or value < 1):
                raise ValueError(f"{key} must be a positive integer; got {value!r}")
        unknown = [k for k in vars(self) if "__" in k and not k.startswith(SKORCH_PREFIXES)]
        if unknown:
            nested = [k for k in unknown if k.split("__")[0] in self.get_params(deep=False)]
            hint = (f"; a parameter's own parameters ({', '.join(nested)}) are set with "
                    f"set_params(...), or by passing the object, e.g. "
                    f"strategy=DivideMixStrategy(alpha=0.1)" if nested else "")
            raise ValueError(
                f"unknown routed parameter(s) {unknown}; routed skorch parameters start with "
                f"one of {', '.join(SKORCH_PREFIXES)}{hint}"
            )
        if is_dataset(X):
            if y is not None:
                raise ValueError(
                    "X is a Dataset of (x, y) pairs, whose labels are the training labels; "
                    "y must be None (skorch's convention), got an array beside it")
            with torch.random.fork_rng(devices=[]):  # a transform may draw: leave global RNG
                first = DatasetInputs(X)[:1]
                self._check_streamed_device(first)  # before workers read it for the labels
                y = np.asarray(dataset_labels(X, self._loader_options("iterator_valid")))
            sample_shape = tuple(first.shape[1:])
            self._dataset_classes_ = _class_names(X)
            if y.ndim != 1:
                raise ValueError(f"the dataset's labels must be one per sample; got an array "
                                 f"of shape {y.shape}")
            if len(y) < 2:
                raise ValueError(f"Found a Dataset with {len(y)} sample(s) while a minimum of 2 "
                                 f"is required by {type(self).__name__}.")
            self.n_features_in_ = sample_shape[0] if sample_shape else 1
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            X, y = validate_data(self, _on_host(X), _on_host(y), allow_nd=True,
                                 dtype=np.float32, ensure_min_samples=2, y_numeric=False)
            sample_shape = tuple(X.shape[1:])
            self._dataset_classes_ = None
            largest = float(max(X.max(), -X.min())) if X.size else 0.0  # no copy of X
            if largest > _LARGEST_INPUT:
                warnings.warn(
                    f"X has values up to {largest:.3g} in magnitude: networks train poorly on "
                    f"unscaled inputs (the logits saturate and every probability becomes 0 or "
                    f"1); scale X, e.g. with sklearn.preprocessing.StandardScaler in a "
                    f"Pipeline", UnlockerWarning, stacklevel=5)
        if y.dtype == object and len({str in type(v).__mro__ for v in y}) > 1:
            raise ValueError("y mixes strings and numbers; give labels of one kind (e.g. "
                             "y.astype(str))")
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _on_host(sample_weight)
        if self.classes is None:
            self.classes_ = np.unique(y)
        else:
            self.classes_ = np.unique(np.asarray(self.classes))
            unseen = np.setdiff1d(np.unique(y), self.classes_)
            if len(unseen):
                raise ValueError(f"y has labels not in classes: {unseen.tolist()}")
        if len(self.classes_) < 2:
            raise ValueError(
                f"this classifier needs samples of at least two classes; got 1 class "
                f"({self.classes_.tolist()})"
            )
        y_encoded = np.searchsorted(self.classes_, y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, np.empty((len(y), 0)),
                                                 dtype=np.float64, ensure_non_negative=True)
            weighted = np.bincount(y_encoded, weights=sample_weight,
                                   minlength=len(self.classes_)) > 0
            if weighted.sum() < 2:
                raise ValueError(
                    f"this classifier needs samples of at least two classes with positive "
                    f"sample_weight; got {int(weighted.sum())} class "
                    f"({self.classes_[weighted].tolist()})"
                )
        self.input_shape_ = sample_shape
        return X, y_encoded, sample_weight

    def _check_streamed_device(self, first):
        """A Dataset may yield tensors on a GPU, but not to worker processes or pinning."""
        if first.device.type == "cpu":
            return
        for prefix in ("iterator_train", "iterator_valid"):
            options = self._loader_options(prefix)
            if options.get("num_workers", 0) or options.get("pin_memory", False):
                cannot = "pin" if options.get("pin_memory") else "send from worker processes"
                raise ValueError(
                    f"the Dataset yields tensors on {first.device}, which {prefix}'s "
                    f"DataLoader cannot {cannot} "
                    f"({prefix}__num_workers={options.get('num_workers', 0)}, "
                    f"{prefix}__pin_memory={options.get('pin_memory', False)}); return CPU "
                    f"tensors from the Dataset (the fit moves each batch to its device) or "
                    f"set {prefix}__num_workers=0 and {prefix}__pin_memory=False")

    def _loader_options(self, prefix):
        """The user's routed ``DataLoader`` options of an iterator (``iterator_train__*``)."""
        return {key[len(prefix) + 2:]: value for key, value in self._skorch_kwargs().items()
                if key.startswith(prefix + "__")}

    def _accelerator(self):
        """The ``accelerator`` parameter (UnlockerClassifier's), checked against the others."""
        accelerator = getattr(self, "accelerator", None)
        if accelerator is None:
            return None
        if isinstance(accelerator, type):
            raise TypeError(f"accelerator={accelerator.__name__} is a class; pass an instance, "
                            f"accelerator={accelerator.__name__}()")
        if self.mixed_precision is not None:
            raise ValueError(
                f"mixed_precision={self.mixed_precision!r} with an accelerator: the accelerator "
                f"sets the precision; pass Accelerator(mixed_precision='bf16') and leave "
                f"mixed_precision=None")
        if str(self.device) != "auto":
            raise ValueError(
                f"device={self.device!r} with an accelerator: the accelerator places the model "
                f"(Accelerator(cpu=True) for the CPU); leave device='auto'")
        if not getattr(accelerator, "even_batches", True) or getattr(
                accelerator, "split_batches", False):
            raise ValueError(
                "the accelerator must give every process as many batches of batch_size "
                "samples (accelerate's defaults: even_batches=True, split_batches=False); "
                "processes with fewer steps would wait for the others forever")
        steps = getattr(accelerator, "gradient_accumulation_steps", 1)
        if steps != 1:
            raise ValueError(
                f"the accelerator accumulates gradients over {steps} steps, which this "
                f"estimator does not support; raise batch_size instead (it is per process)")
        from .strategies import MetaStrategy  # strategies import this module

        strategy = self._make_strategy()
        if accelerator.num_processes > 1 and getattr(strategy, "batching", None) == "original":
            raise ValueError(
                "DivideMixStrategy(batching='original') draws as many unlabelled samples as "
                "each batch has labelled ones, so processes would make different passes; use "
                "batching='shared' (the default) with several processes")
        if isinstance(strategy, MetaStrategy):
            raise ValueError(
                "the meta-learning strategies (dynamic_loss, mlc, mlc_d, ebomlc) set the "
                "network's gradients themselves and step their own meta-model, which an "
                "accelerator does not synchronise; use them without one (device='cuda' for a "
                "GPU)")
        return accelerator

    def _shared_random_state(self, accelerator):
        """random_state, or with several processes one seed that every process shares."""
        if accelerator is None or accelerator.num_processes == 1:
            return self.random_state
        from accelerate.utils import broadcast_object_list  # an optional dependency

        return broadcast_object_list(
            [int(check_random_state(self.random_state).randint(_SEED_MAX))], from_process=0)[0]

    def _resolve_device(self, accelerator=None):
        if accelerator is not None:  # "cuda:<local rank>"; on CPUs "cpu:0", which torch.load
            device = torch.device(accelerator.device)  # cannot map to: "cpu"
            return "cpu" if device.type == "cpu" else str(device)
        if str(self.device) == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
            self._check_precision(device)
            return device
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"device={self.device!r} is not a torch device; use 'auto', 'cpu', "
                             f"'cuda' or 'cuda:<index>' ({error})") from None
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(f"device={self.device!r} but torch finds no CUDA device here; "
                                 f"use device='auto' (CUDA when available, else the CPU) or "
                                 f"'cpu'")
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ValueError(f"device={self.device!r} but this machine has "
                                 f"{torch.cuda.device_count()} CUDA device(s), numbered from 0")
        elif device.type != "cpu":
            try:  # mps, xpu, ...: torch says whether this build and machine have it
                torch.empty(0, device=device)
            except (RuntimeError, AssertionError) as error:
                reason = str(error).splitlines()[0][:100]
                raise ValueError(f"device={self.device!r} is not available here ({reason}); use "
                                 f"device='auto' (CUDA when available, else the CPU) or "
                                 f"'cpu'") from None
        self._check_precision(str(self.device))
        return str(self.device)

    def _check_precision(self, device):
        """bfloat16 autocast needs a device that computes in it (CUDA from Ampere on)."""
        if (self.mixed_precision == "bfloat16" and torch.device(device).type == "cuda"
                and not torch.cuda.is_bf16_supported(including_emulation=False)):
            raise ValueError(f"mixed_precision='bfloat16' but {device} "
                             f"({torch.cuda.get_device_name(device)}) does not compute in "
                             f"bfloat16; leave mixed_precision=None")

    def _module_and_params(self, n_classes):
        module = MLP if self.module is None else self.module
        if isinstance(module, nn.Module):
            given = sorted(k for k in self._skorch_kwargs() if k.startswith("module__"))
            if given:
                raise ValueError(
                    f"module is an instance ({type(module).__name__}), built already, so "
                    f"{', '.join(given)} cannot apply; pass the class "
                    f"(module={type(module).__name__}) to build it with them, or drop them")
            return copy.deepcopy(module), {}
        if not callable(module) or (isinstance(module, type)
                                    and not issubclass(module, nn.Module)):
            raise TypeError(
                f"module must be a torch.nn.Module class or instance (or a callable that "
                f"returns one); got {module!r}, which is not: wrap a scikit-learn model in a "
                f"Pipeline beside this estimator instead")
        accepted = inspect.signature(module).parameters
        given = {key[len("module__"):] for key in self._skorch_kwargs()
                 if key.startswith("module__")}
        fills = {"n_features": int(np.prod(self.input_shape_)), "n_classes": n_classes,
                 "in_channels": self.input_shape_[0] if self.input_shape_ else 1}
        filled = {f"module__{name}": value for name, value in fills.items()
                  if name in accepted and name not in given}
        if self.module is None and len(self.input_shape_) > 1:
            filled["module__n_features"] = int(np.prod(self.input_shape_))
        missing = [name for name, parameter in accepted.items()
                   if parameter.default is inspect.Parameter.empty and parameter.kind in (
                       parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
                   and name not in given and f"module__{name}" not in filled]
        if missing:
            raise TypeError(
                f"module {getattr(module, '__name__', module)!r} needs {missing}, which the "
                f"estimator does not fill: it fills the arguments named n_features, "
                f"in_channels and n_classes ({fills}); name them so, or pass "
                f"{', '.join(f'module__{name}=...' for name in missing)}")
        return module, filled

    def _callbacks(self):
        callbacks = list(self.callbacks or [])
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _check_callbacks(self, callbacks, valid):
        """Callbacks that would score nothing, or the wrong targets, are errors here, and so
        is a ``callbacks__<name>__*`` parameter that names no callback."""
        names = {"epoch_timer", "train_loss", "valid_loss", "valid_acc", "print_log"}
        for entry in callbacks:
            name, callback = entry if isinstance(entry, tuple) and len(entry) == 2 else (
                None, entry)
            if isinstance(callback, type) and issubclass(callback, Callback):
                callback = callback()  # skorch accepts classes and builds them
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be skorch callbacks (instances or classes), or (name, "
                    f"callback) pairs; got {entry!r}")
            name = name or type(callback).__name__
            names.add(name)
            kind = type(callback).__name__
            if isinstance(callback, ScoringBase) and callback.on_train:
                raise ValueError(
                    f"callback {name!r}: {kind}(on_train=True) cannot score the training set "
                    f"here (the training targets are sample positions and batches may be "
                    f"mixed, as in mixup or DivideMix); score a validation set: "
                    f"train_split=skorch.dataset.ValidSplit(...) and on_train=False")
            monitor = getattr(callback, "monitor", None)
            needs_valid = (isinstance(callback, ScoringBase)
                           or (isinstance(monitor, str) and monitor.startswith("valid_")))
            if valid is None and needs_valid:
                raise ValueError(
                    f"callback {name!r} ({kind}) needs a validation set, but there is none "
                    f"(train_split is None, or returned no validation part): every sample is "
                    f"trained on; pass train_split=skorch.dataset.ValidSplit(0.2, "
                    f"stratified=True, random_state=0), or a clean set with "
                    f"skorch.helper.predefined_split")
        routed = sorted({key.split("__")[1] for key in self._skorch_kwargs()
                         if key.startswith("callbacks__")} - names)
        if routed:
            raise ValueError(
                f"callbacks__{routed[0]}__... names no callback of this fit; the callbacks are "
                f"{sorted(names)} (a callback is named by its (name, callback) pair, else by "
                f"its class)")

    @staticmethod
    def _check_restoring_callbacks(net):
        """A callback that restores the best epoch must restore every network."""
        extra = net.extra_module_names_
        for name, callback in net.callbacks_:
            if not extra or not getattr(callback, "load_best", False):
                continue
            files = ", ".join(f"f_{module}='{module}.pt'" for module in extra)
            if isinstance(callback, EarlyStopping):
                raise ValueError(
                    f"callback {name!r}: EarlyStopping(load_best=True) restores the main network "
                    f"only, but this strategy also trains {', '.join(extra)}; use "
                    f"Checkpoint(load_best=True, {files}) beside EarlyStopping()")
            if any(getattr(callback, f"f_{module}", None) is None for module in extra):
                raise ValueError(
                    f"callback {name!r}: {type(callback).__name__}(load_best=True) would restore "
                    f"the main network only, but this strategy also trains "
                    f"{', '.join(extra)}; pass {files} to it")

    def _build_net(self, n_classes, device, generator, procedure, valid, *, streamed=False,
                   n_train=0, accelerator=None):
        module, kwargs = self._net_kwargs(n_classes, device, generator, valid, streamed=streamed,
                                          n_train=n_train, accelerator=accelerator)
        net = TrainingNet(module, procedure=procedure, **kwargs)
        net.classes_ = np.arange(n_classes)  # the encoded labels it predicts
        return net

    def _continue_net(self, n_classes, device, generator, procedure, valid, *, streamed=False,
                      n_train=0, accelerator=None):
        """The fitted net with this fit's settings (warm start): module, optimizer state,
        the strategy's networks and history kept; callbacks, split, epochs and lr renewed."""
        net = self.net_
        _, kwargs = self._net_kwargs(n_classes, device, generator, valid, streamed=streamed,
                                     n_train=n_train, accelerator=accelerator)
        for key in [key for key in vars(net) if key.startswith(("callbacks__", "iterator_"))]:
            delattr(net, key)  # this fit's iterators, callbacks and their parameters only
        for key, value in kwargs.items():
            if key == "lr":
                if value != net.lr:  # else the optimizer keeps its (possibly scheduled) rate
                    net.set_params(lr=value)
            elif key not in {"criterion", "optimizer", "device"} and not key.startswith(
                    ("module__", "optimizer__")):
                setattr(net, key, value)  # read when used: epochs, batches, split, callbacks
        net.initialize_callbacks()
        net.procedure = procedure
        return net

    def _net_kwargs(self, n_classes, device, generator, valid, *, streamed=False, n_train=0,
                    accelerator=None):
        """The module and the keyword arguments of :class:`TrainingNet` for this fit.

        In-memory tensors go through :class:`TensorBatchIterator`; a Dataset (and a
        validation set that is one) through torch's ``DataLoader``, whose options
        (``iterator_train__num_workers``, ``__pin_memory``, ...) route as in skorch.
        """
        module, module_params = self._module_and_params(n_classes)
        in_memory_valid = valid is None or isinstance(getattr(valid, "X", None), torch.Tensor)
        params = {
            "iterator_train": DataLoader if streamed else TensorBatchIterator,
            "iterator_valid": TensorBatchIterator if in_memory_valid else DataLoader,
            "iterator_train__shuffle": True,
            "iterator_train__generator": generator,
        }
        if not streamed and torch.device(device).type == "cuda":
            params["iterator_train__pin_memory"] = True  # asynchronous batch copies
        if streamed and n_train % self.batch_size == 1:
            # TensorBatchIterator merges a last batch of one sample; a DataLoader drops it
            # (a random one each epoch), so that batch norm never sees a batch of size 1
            params["iterator_train__drop_last"] = True
        # the user's callbacks are copied: fitting changes a callback's state (nothing the
        # user passed is modified); the fitted ones are in net_.callbacks_
        callbacks = copy.deepcopy(self._callbacks())
        self._check_callbacks(callbacks, valid)
        if valid is None:  # nothing for skorch's valid_loss to score
            params["callbacks__valid_loss"] = None
        if accelerator is not None and self.verbose:  # the epoch log once, not in each process
            params["callbacks__print_log__sink"] = getattr(accelerator, "print", print)
        user = self._skorch_kwargs()
        if "iterator_train" in user:
            # a user iterator (e.g. torch's DataLoader) gets only what it asked for
            params = {k: v for k, v in params.items() if not k.startswith("iterator_train")}
            params["iterator_train__shuffle"] = True
        params.update(module_params)
        params.update(self._default_skorch_kwargs())
        params.update(user)
        return module, dict(
            criterion=nn.CrossEntropyLoss,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None if valid is None else predefined_split(valid),
            callbacks=callbacks,
            device=device,
            precision=self.mixed_precision,
            accelerator=accelerator,
            verbose=int(self.verbose),
            **params,
        )

    @staticmethod
    def _check_augment(augment, inputs):
        """An augmentation must give back a batch of the shape it took."""
        if augment is None:
            return
        batch = torch.as_tensor(inputs[:2])
        try:
            with torch.random.fork_rng(devices=[]):  # a draw here must not move the fit's RNG
                out = augment(batch.clone())
        except Exception as error:
            raise ValueError(f"augment failed on a batch of shape {tuple(batch.shape)} (a plain "
                             f"callable is applied to each sample, of shape "
                             f"{tuple(batch.shape[1:])}): {type(error).__name__}: "
                             f"{error}") from error
        if not isinstance(out, torch.Tensor) or out.shape != batch.shape:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"augment changed a batch of shape {tuple(batch.shape)} into "
                             f"{shape}; an augmentation must keep the batch's shape (crop "
                             f"and pad back, e.g. RandomShift)")

    def _check_module(self, net):
        """What would train nothing, or never update a layer, is an error before training."""
        module = net.module_
        parameters = list(module.parameters())
        if any(isinstance(p, nn.parameter.UninitializedParameter) for p in parameters):
            raise ValueError(
                "the module has lazy layers (e.g. torch.nn.LazyLinear) whose parameters do not "
                "exist until its first forward pass, after the optimizer was built: they "
                "would never train; give their sizes (torch.nn.Linear(in_features, ...)); the "
                "estimator fills n_features, in_channels and n_classes when the module class "
                "takes them")
        if not any(p.requires_grad for p in parameters):
            raise ValueError(
                f"the module ({type(module).__name__}) has no parameter that requires grad "
                f"({len(parameters)} parameters, all frozen or none): nothing would train; "
                f"unfreeze some (requires_grad_(True))")

    def _check_module_output(self, net, X, n_classes):
        self._check_module(net)
        sample = torch.as_tensor(X[:2])
        module = net.module_
        was_training = module.training
        module.eval()
        try:  # in this process alone, whatever the accelerator; with grad, to see it flow
            with torch.enable_grad(), net.autocast():  # (a fit called under no_grad trains)
                out = module(sample.to(net.device))
        except Exception as error:
            raise ValueError(
                f"the module failed on a batch of input of shape {tuple(sample.shape)}: "
                f"{type(error).__name__}: {error}") from error
        finally:
            module.train(was_training)
        if not isinstance(out, torch.Tensor):
            raise ValueError(
                f"the module must return a tensor of logits, one row per sample; it returned "
                f"a {type(out).__name__} (for a model with several outputs, return the "
                f"logits only, e.g. from a wrapping nn.Module)")
        if not out.is_floating_point():
            raise ValueError(f"the module's output has dtype {out.dtype}; logits must be "
                             f"floating point")
        if not out.requires_grad:
            raise ValueError(
                "the module's output does not depend on its trainable parameters (it is "
                "detached, computed under torch.no_grad(), or from frozen layers only): "
                "training would change nothing")
        out = out.detach().float().cpu()
        if out.ndim == 2 and out.shape[1] > 1 and bool((out >= 0).all()) and torch.allclose(
                out.sum(dim=1), torch.ones(len(out)), atol=1e-4):
            warnings.warn(
                "the module's outputs look like probabilities (non-negative rows that sum to "
                "1): the losses expect logits; drop a final softmax", UnlockerWarning,
                stacklevel=5)
        if out.ndim != 2 or out.shape[1] != n_classes:
            raise ValueError(
                f"the module's output has shape {tuple(out.shape)} for {len(sample)} samples; "
                f"expected ({len(sample)}, {n_classes}): one logit per class "
                f"({n_classes} classes)"
            )

    @contextlib.contextmanager
    def _seeded(self, device, random_state):
        """Seed torch inside a forked RNG: global state is untouched once fit returns.

        On CUDA, cuDNN runs its deterministic algorithms during the fit (its
        settings are restored after): convolutions give the same model for the same
        ``random_state``. Kernels that add with atomics (e.g. the backward of
        ``index_add`` and ``scatter_add``) may still differ in the last bits from
        run to run; the estimator's tag ``non_deterministic`` says so on CUDA.
        """
        seed = int(check_random_state(random_state).randint(_SEED_MAX))
        cuda = torch.device(device).type == "cuda"
        devices = [torch.device(device).index or 0] if cuda else []
        cudnn = torch.backends.cudnn
        settings = cudnn.deterministic, cudnn.benchmark
        try:
            if cuda:
                cudnn.deterministic, cudnn.benchmark = True, False
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                yield seed
        finally:
            cudnn.deterministic, cudnn.benchmark = settings

    def _fit(self, X, y, sample_weight=None, X_trusted=None, y_trusted=None):
        """Fit, all or nothing: a fit that raises leaves the fitted attributes as they were
        (none after a first fit, the previous model's after a refit, which builds new
        networks). A warm start goes on with the fitted networks in place: one that fails
        during training keeps the steps they took before the error, as skorch's
        ``partial_fit`` does (after a non-finite loss, that step's too: refit or reload a
        checkpoint)."""
        kept = {k: v for k, v in vars(self).items() if k.endswith("_")}
        try:
            return self._fit_once(X, y, sample_weight, X_trusted, y_trusted)
        except BaseException:
            for key in [k for k in vars(self) if k.endswith("_") and k not in kept]:
                delattr(self, key)
            vars(self).update(kept)
            raise

    def _fit_once(self, X, y, sample_weight, X_trusted, y_trusted):
        start = time.perf_counter()
        self._validate_params()
        fitted = self._warm_state() if self.warm_start and hasattr(self, "net_") else None
        X, y_encoded, sample_weight = self._validate_fit_input(X, y, sample_weight)
        accelerator = self._accelerator()
        device = self._resolve_device(accelerator)
        if fitted is not None:
            y_encoded = self._check_warm_start(fitted, y_encoded, device)
        trusted = self._validate_trusted(X_trusted, y_trusted)
        n_classes = len(self.classes_)
        streamed = is_dataset(X)
        if streamed:  # a Dataset stays where it is: the fit streams it
            inputs = DatasetInputs(X, loader=self._loader_options("iterator_valid"))
        else:
            inputs = torch.from_numpy(np.ascontiguousarray(X))
        random_state = self._shared_random_state(accelerator)
        train, valid = self._split(inputs, y_encoded, random_state)
        if train is not None:
            inputs = (inputs.subset(train) if streamed
                        else inputs[torch.from_numpy(train)])
            y_encoded = y_encoded[train]
            sample_weight = None if sample_weight is None else sample_weight[train]
        config = self._engine_config(y_encoded)
        if config.warmup_epochs >= config.max_epochs and fitted is None:
            warnings.warn(
                f"warmup_epochs={config.warmup_epochs} >= max_epochs={config.max_epochs}: every "
                f"epoch is a warm-up epoch, so the noisy-label method never selects or corrects "
                f"a label and the model trains on every given label; lower warmup_epochs or "
                f"raise max_epochs", UnlockerWarning, stacklevel=4)
        with self._seeded(device, random_state) as seed:
            generator = torch.Generator().manual_seed(seed)
            strategy = self._make_strategy() if fitted is None else self.strategy_
            if getattr(type(strategy), "_parameter_constraints", None) is not None:
                strategy._validate_params()  # a strategy's own parameters, named when wrong
            if config.augment is None and getattr(strategy, "needs_views", False):
                config = dataclasses.replace(config, augment=default_views(inputs.shape))
            self._check_augment(config.augment, inputs)
            engine = TrainingEngine(
                config, strategy, X=inputs, y=y_encoded, sample_weight=sample_weight,
                n_classes=n_classes, device=device, random_state=np.random.RandomState(seed),
                generator=generator, trusted=trusted,
                resume=None if fitted is None else fitted["engine"],
            )
            if fitted is None:
                net = self._build_net(n_classes, device, generator, engine, valid,
                                      streamed=streamed, n_train=len(y_encoded),
                                      accelerator=accelerator)
                net.initialize()
            else:
                net = self._continue_net(n_classes, device, generator, engine, valid,
                                         streamed=streamed, n_train=len(y_encoded),
                                         accelerator=accelerator)
            self._check_restoring_callbacks(net)
            self._check_module_output(net, inputs, n_classes)
            net.prepare_accelerator()
            if net._sharded():
                # DDP has made the networks process 0's; dropout and augmentation now draw
                # apart in each process (selection, shuffles and the outer step use the shared
                # numpy state and generator)
                torch.manual_seed(seed + accelerator.process_index)
            try:
                if streamed:  # batches of (x, position) from the dataset, through a DataLoader
                    net.partial_fit(IndexedDataset(inputs.dataset, inputs.indices), None)
                else:
                    net.partial_fit(inputs, torch.arange(len(inputs)))  # skorch swallows Ctrl+C
                engine.end_training(net)
            except BaseException:
                net.unwrap_accelerator(sync=False)  # the other processes may not get here
                raise
            net.unwrap_accelerator()
        planned = config.max_epochs + (0 if fitted is None else fitted["epochs"])
        if len(net.history) < planned and not _stopped_early(net):
            warnings.warn(
                f"training stopped at epoch {len(net.history)} of {planned} "
                f"(interrupted); the fitted model is the one of that epoch", UnlockerWarning,
                stacklevel=4)
        net.procedure = None  # the engine holds the training data: do not keep or pickle it
        net.accelerator = None  # a fitted net predicts in its own process
        net.train_split = None  # nor the validation data
        self.net_ = net
        self.strategy_ = strategy
        self.device_ = device
        self.augment_ = config.augment
        self._given_labels_ = self.classes_[y_encoded]
        # a torchvision dataset's names of its integer labels (folder names): name[label]
        names = self._dataset_classes_
        if names is not None and np.issubdtype(self.classes_.dtype, np.integer) and \
                self.classes_.min() >= 0 and self.classes_.max() < len(names):
            self.class_names_ = np.asarray(names, dtype=object)
        elif hasattr(self, "class_names_"):
            del self.class_names_
        self.train_indices_ = np.arange(len(y_encoded)) if train is None else train
        split = engine.split
        self.label_issues_ = ~split.clean_mask
        corrected = split.corrected_labels
        if not getattr(strategy, "judges_labels", True):  # it trusted every label: flag what
            self.label_issues_ = engine.predicted_labels != engine.y  # the model overrules
            corrected = np.where(self.label_issues_, engine.predicted_labels, corrected)
        self.clean_proba_ = split.clean_proba
        self.label_quality_ = engine.label_quality
        self.corrected_labels_ = self.classes_[corrected]
        self._predicted_labels_ = self.classes_[engine.predicted_labels]
        self.history_ = net.history
        self._engine_state_ = engine.state()
        self._warm_signature_ = self._warm_signature(device)
        self.timings_ = {"fit": time.perf_counter() - start, **engine.timings()}
        self._fitted_attributes(engine)
        # the noise the fit found: its corrected labels against the given ones
        self.noise_matrix_, self.true_prior_ = noise_from_labels(
            self._given_labels_, self.corrected_labels_, self.classes_,
            sample_weight=sample_weight)
        return self

    def _warm_signature(self, device):
        """What a warm start may not change: the networks, their optimizer, the method."""
        strategy = self._make_strategy()
        routed = {key: value for key, value in self._skorch_kwargs().items()
                  if key.startswith(("module__", "optimizer__"))}
        return {"module": _fingerprint(self.module), "optimizer": _fingerprint(self.optimizer),
                "classes": _fingerprint(self.classes), "device": str(device),
                "strategy": type(strategy).__name__,
                **{f"strategy__{key}": _fingerprint(value)
                   for key, value in strategy.get_params(deep=False).items()},
                **{key: _fingerprint(value) for key, value in routed.items()}}

    def _warm_state(self):
        return {"classes": self.classes_, "input_shape": self.input_shape_,
                "engine": self._engine_state_, "epochs": len(self.net_.history),
                "signature": self._warm_signature_}

    def _check_warm_start(self, fitted, y_encoded, device):
        """Labels encoded as the fitted model's classes; a changed network is an error."""
        if self.input_shape_ != fitted["input_shape"]:
            raise ValueError(f"warm_start=True continues the fitted model, which takes samples "
                             f"of shape {fitted['input_shape']}; X has {self.input_shape_}")
        labels = self.classes_[y_encoded]
        unseen = np.setdiff1d(np.unique(labels), fitted["classes"])
        if len(unseen):
            raise ValueError(f"warm_start=True continues the fitted model, whose classes are "
                             f"{fitted['classes'].tolist()}; y has others: {unseen.tolist()} "
                             f"(refit with warm_start=False)")
        now = self._warm_signature(device)
        changed = sorted(key for key in now.keys() | fitted["signature"].keys()
                         if now.get(key) != fitted["signature"].get(key))
        if changed:
            raise ValueError(f"warm_start=True continues the fitted model, but "
                             f"{', '.join(changed)} changed since it was fitted; refit with "
                             f"warm_start=False")
        self.classes_ = fitted["classes"]
        return np.searchsorted(self.classes_, labels)

    def _split(self, X, y_encoded, random_state):
        """``train_split`` applied: (training positions or None for all, validation Dataset)."""
        if self.train_split is None:
            return None, None
        streamed = isinstance(X, DatasetInputs)
        dataset = (LabelledDataset(X.dataset, X.indices, y_encoded) if streamed
                   else Dataset(X, y_encoded))
        # a split left to numpy's global random state (ValidSplit without random_state) is
        # drawn from random_state here, and the global state is put back
        state = np.random.get_state()
        try:
            np.random.seed(check_random_state(random_state).randint(_SEED_MAX))
            parts = self.train_split(dataset, y_encoded)
        finally:
            np.random.set_state(state)
        if not (isinstance(parts, tuple) and len(parts) == 2):
            raise TypeError(f"train_split must return (dataset_train, dataset_valid) as skorch's "
                            f"ValidSplit does; got {type(parts).__name__}")
        part_train, part_valid = parts

        def positions(part):
            if part is dataset:
                return np.arange(len(y_encoded))
            if isinstance(part, Subset) and part.dataset is dataset:
                return np.asarray(part.indices, dtype=np.intp)
            return None

        train = positions(part_train)
        if train is None:
            raise TypeError("train_split must return, as its training part, the dataset it was "
                            "given or a torch.utils.data.Subset of it (skorch's ValidSplit and "
                            f"predefined_split do); got {type(part_train).__name__}")
        if len(np.unique(train)) < 2 or len(np.unique(y_encoded[train])) < 2:
            raise ValueError(f"train_split left {len(train)} training samples of "
                             f"{len(np.unique(y_encoded[train]))} class(es); at least two "
                             f"classes are needed")
        if part_valid is None:
            return train, None
        shown = positions(part_valid)
        if shown is not None and streamed:
            valid = LabelledDataset(X.dataset, X.indices[shown], y_encoded[shown])
        elif shown is not None:
            valid = Dataset(X[torch.from_numpy(shown)],
                            torch.as_tensor(y_encoded[shown], dtype=torch.long))
        else:  # a dataset of its own (predefined_split): labels as given to fit
            valid = self._valid_dataset(part_valid)
        if len(valid) == 0:
            raise ValueError("train_split returned an empty validation set")
        return train, valid

    def _valid_dataset(self, dataset):
        """A validation set the user built, with encoded labels: arrays stay arrays (skorch's
        ``Dataset(X, y)``), any other torch Dataset is streamed."""
        arrays = hasattr(dataset, "X") and hasattr(dataset, "y") and not is_dataset(dataset.X)
        if arrays:
            if dataset.y is None:
                raise ValueError("the validation dataset of train_split has no labels")
            X = check_array(np.asarray(dataset.X), allow_nd=True, dtype=np.float32,
                            input_name="X_valid")
            y, shape = np.asarray(dataset.y).reshape(-1), tuple(X.shape[1:])
        else:
            y = np.asarray(dataset_labels(dataset)).reshape(-1)
            shape = tuple(DatasetInputs(dataset)[:1].shape[1:]) if len(dataset) else ()
        if len(y) and shape != self.input_shape_:
            raise ValueError(f"the validation set of train_split has samples of shape "
                             f"{shape}, X has {self.input_shape_}")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if len(unseen):
            raise ValueError(f"the validation set of train_split has labels not among the "
                             f"classes: {unseen.tolist()}")
        encoded = np.searchsorted(self.classes_, y)
        if arrays:
            return Dataset(torch.from_numpy(np.ascontiguousarray(X)),
                           torch.as_tensor(encoded, dtype=torch.long))
        return LabelledDataset(dataset, np.arange(len(y)), encoded)

    def _validate_trusted(self, X_trusted, y_trusted):
        """The user's trusted set as (tensor, encoded labels), or None."""
        if (X_trusted is None) != (y_trusted is None):
            raise ValueError("give both X_trusted and y_trusted, or neither")
        if X_trusted is None:
            return None
        if is_dataset(X_trusted):
            raise TypeError("X_trusted must be an array or tensor (the trusted set is small "
                            "and held in memory); a Dataset is not taken: stack its samples, "
                            "e.g. torch.stack([x for x, _ in dataset])")
        X_trusted = check_array(_on_host(X_trusted), allow_nd=True, dtype=np.float32,
                                input_name="X_trusted")
        if tuple(X_trusted.shape[1:]) != self.input_shape_:
            raise ValueError(f"X_trusted has samples of shape {tuple(X_trusted.shape[1:])}, "
                             f"X has {self.input_shape_}")
        y_trusted = np.asarray(_on_host(y_trusted))
        if y_trusted.shape != (len(X_trusted),):
            raise ValueError(f"y_trusted must have shape ({len(X_trusted)},), "
                             f"got {y_trusted.shape}")
        unseen = np.setdiff1d(np.unique(y_trusted), self.classes_)
        if len(unseen):
            raise ValueError(f"y_trusted has labels not among the classes: {unseen.tolist()}")
        return (torch.from_numpy(np.ascontiguousarray(X_trusted)),
                np.searchsorted(self.classes_, y_trusted))

    def find_label_issues(self, return_indices_ranked_by=None):
        """The training samples' labels as the fitted model judges them, in cleanlab's terms.

        The table has cleanlab's columns (``CleanLearning.get_label_issues()``)
        and ours, so a cleanlab user switches by changing the estimator.

        Parameters
        ----------
        return_indices_ranked_by : {None, "label_quality"}, default=None
            None: the table. "label_quality": the training positions of the label
            issues only, the most likely wrong first (lowest ``label_quality``), as
            cleanlab's ``find_label_issues(..., return_indices_ranked_by=...)``
            returns them.

        Returns
        -------
        issues : pandas.DataFrame or ndarray of int
            One row per training sample, indexed by its position in the ``X``
            given to fit (with a ``train_split``, the validation rows have
            none): ``is_label_issue``,
            ``label_quality`` (the probability of the given label on the raw
            logits, averaged over the fit's score passes: every epoch after the
            warm-up and the final model, the mean logits of both networks for
            DivideMix; it ranks, where a mixture's posterior saturates at 0 and 1),
            ``clean_proba`` (the method's own probability that the
            label is clean, e.g. the small-loss mixture's posterior, the one
            ``is_label_issue`` thresholds), ``given_label``,
            ``predicted_label`` (what :meth:`predict` gives for the sample),
            ``corrected_label`` (the given label where judged clean, else the
            method's correction). Or the ranked indices.
        """
        check_is_fitted(self)
        if return_indices_ranked_by not in (None, "label_quality"):
            raise ValueError(f"return_indices_ranked_by must be None or 'label_quality'; got "
                             f"{return_indices_ranked_by!r}")
        if return_indices_ranked_by is not None:
            issues = np.flatnonzero(self.label_issues_)
            return self.train_indices_[issues[np.argsort(self.label_quality_[issues],
                                                         kind="stable")]]
        return pd.DataFrame(index=self.train_indices_, data={
            "is_label_issue": self.label_issues_,
            "label_quality": self.label_quality_,
            "clean_proba": self.clean_proba_,
            "given_label": self._given_labels_,
            "predicted_label": self._predicted_labels_,
            "corrected_label": self.corrected_labels_,
        })

    def get_label_issues(self):
        """The table of :meth:`find_label_issues`, under cleanlab's ``CleanLearning`` name.

        Returns
        -------
        issues : pandas.DataFrame
        """
        return self.find_label_issues()

    # --- prediction ----------------------------------------------------------------

    def _check_dataset_classes(self, X):
        """A dataset that numbers other classes (another folder list) is an error."""
        fitted, given = getattr(self, "_dataset_classes_", None), _class_names(X)
        if fitted is not None and given is not None and fitted != given:
            raise ValueError(
                f"the dataset's classes {given} are not the training dataset's {fitted}, so "
                f"its label numbers mean other classes (ImageFolder numbers the folders it "
                f"finds); give it every training class folder, or map its labels")

    def _logits(self, X):
        check_is_fitted(self)
        if is_dataset(X):  # streamed through a DataLoader (iterator_valid__* options)
            self._check_dataset_classes(X)
            X = DatasetInputs(X, loader=self._loader_options("iterator_valid"))
            if not len(X):
                raise ValueError("X is an empty Dataset")
            with torch.random.fork_rng(devices=[]):  # a transform may draw: leave global RNG
                shape = tuple(X[:1].shape[1:])
        else:
            X = validate_data(self, _on_host(X), reset=False, allow_nd=True, dtype=np.float32)
            shape = tuple(X.shape[1:])
            X = torch.from_numpy(np.ascontiguousarray(X))
        if shape != self.input_shape_:
            raise ValueError(
                f"X has samples of shape {shape}, but this estimator was fitted "
                f"on samples of shape {self.input_shape_}"
            )
        with torch.random.fork_rng(devices=[]):
            return self.strategy_.score(self.net_, X).mean(dim=0)

    def decision_function(self, X):
        """Adjusted logits (``z - alpha`` where the method adjusts predictions).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, 2-D or N-D as at fit.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, the score of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        scores = self._adjusted_logits(X).numpy()
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def _adjusted_logits(self, X):
        logits = self._logits(X).to(torch.float64)
        return logits - torch.as_tensor(self._prediction_adjustment(), dtype=torch.float64)

    def predict_proba(self, X):
        """Class probabilities: softmax of the adjusted logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return torch.softmax(self._adjusted_logits(X), dim=1).numpy()

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return torch.log_softmax(self._adjusted_logits(X), dim=1).numpy()

    def predict(self, X):
        """Predicted labels, in the original label values.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        best = self._adjusted_logits(X).argmax(dim=1).numpy()
        return self.classes_[best]

    def score(self, X, y=None, sample_weight=None):
        """Accuracy on ``(X, y)``; labels unseen at fit are an error, not a silent miss.

        Use ``scoring="balanced_accuracy"`` in model selection for long-tailed data.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        if is_dataset(X):
            if y is not None:
                raise ValueError("X is a Dataset of (x, y) pairs, whose labels are scored; y "
                                 "must be None")
            self._check_dataset_classes(X)
            with torch.random.fork_rng(devices=[]):
                y = dataset_labels(X, self._loader_options("iterator_valid"))
        elif y is None:
            raise ValueError("score needs the true labels y (or X a Dataset of (x, y) pairs)")
        unseen = np.setdiff1d(np.unique(np.asarray(y)), self.classes_)
        if len(unseen):
            raise ValueError(
                f"y has labels unseen at fit: {unseen.tolist()}; the fitted classes are "
                f"{self.classes_.tolist()} (pass classes=... at fit to fix the label set)"
            )
        return super().score(X, y, sample_weight=sample_weight)

    # --- for subclasses ------------------------------------------------------------

    def _engine_config(self, y_encoded):
        """The engine's :class:`~sklearn_unlocker._engine.Config` for this fit."""
        raise NotImplementedError

    def _make_strategy(self):
        """A fresh strategy object for this fit."""
        raise NotImplementedError

    def _fitted_attributes(self, engine):
        """Read the estimator's own fitted attributes off the trained engine."""

    def _prediction_adjustment(self):
        return np.zeros(len(self.classes_))

    def _default_skorch_kwargs(self):
        """Routed skorch parameters this estimator sets unless the user gives them."""
        return {}
