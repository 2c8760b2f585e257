"""What a fit builds and runs: the strategy, the engine, the skorch net, and their checks.

Plain functions on the estimator (``est``) and a
:class:`~sklearn_unlocker._validation.FitData`. :func:`build` makes (or, for a warm
start, renews) the net and refuses, before any training, a module, a callback or an
augmentation that would train nothing or the wrong thing; :func:`train` runs the
epochs inside the accelerator, if any.
"""

import copy
import dataclasses
import inspect
import warnings

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.callbacks.scoring import ScoringBase
from skorch.helper import predefined_split
from torch import nn
from torch.utils.data import DataLoader

from ._engine import TrainingEngine
from ._inputs import IndexedDataset
from ._net import TensorBatchIterator, TrainingNet
from .augment import default_views
from .exceptions import UnlockerWarning
from .modules import MLP


def build(est, data, config, seed):
    """The strategy, the config (with default views), the engine and the net of this fit.

    A first fit builds a new net; a warm start renews the fitted one. Everything
    is checked before training: the strategy's parameters, the augmentation, the
    callbacks and the module's output on two samples.
    """
    generator = torch.Generator().manual_seed(seed)
    strategy = est._make_strategy() if data.warm is None else est.strategy_
    if getattr(type(strategy), "_parameter_constraints", None) is not None:
        strategy._validate_params()  # a strategy's own parameters, named when wrong
    if config.augment is None and getattr(strategy, "needs_views", False):
        config = dataclasses.replace(config, augment=default_views(data.inputs.shape))
    check_augment(config.augment, data.inputs)
    n_classes = len(est.classes_)
    engine = TrainingEngine(
        config, strategy, X=data.inputs, y=data.y, sample_weight=data.sample_weight,
        n_classes=n_classes, device=data.device, random_state=np.random.RandomState(seed),
        generator=generator, trusted=data.trusted,
        resume=None if data.warm is None else data.warm["engine"],
    )
    if data.warm is None:
        net = build_net(est, data, engine, generator)
        net.initialize()
    else:
        net = continue_net(est, data, engine, generator)
    check_restoring_callbacks(net)
    check_module_output(net, data.inputs, n_classes)
    return strategy, config, engine, net


def train(net, engine, data, seed):
    """The epochs: skorch's ``partial_fit`` on the fit's rows, inside the accelerator."""
    net.prepare_accelerator()
    if net._sharded():
        # DDP has made the networks process 0's; dropout and augmentation now draw
        # apart in each process (selection, shuffles and the outer step use the shared
        # numpy state and generator)
        torch.manual_seed(seed + data.accelerator.process_index)
    try:
        if data.streamed:  # batches of (x, position) from the dataset, through a DataLoader
            net.partial_fit(IndexedDataset(data.inputs.dataset, data.inputs.indices), None)
        else:
            net.partial_fit(data.inputs, torch.arange(len(data.inputs)))  # skorch swallows ^C
        engine.end_training(net)
    except BaseException:
        net.unwrap_accelerator(sync=False)  # the other processes may not get here
        raise
    net.unwrap_accelerator()


def finish(net, planned):
    """Warn if training stopped before ``planned`` epochs (not by EarlyStopping); then drop
    what a fitted net must not keep or pickle: the engine, the accelerator, the split."""
    if len(net.history) < planned and not stopped_early(net):
        warnings.warn(
            f"training stopped at epoch {len(net.history)} of {planned} "
            f"(interrupted); the fitted model is the one of that epoch", UnlockerWarning,
            stacklevel=5)
    net.procedure = None  # the engine holds the training data: do not keep or pickle it
    net.accelerator = None  # a fitted net predicts in its own process
    net.train_split = None  # nor the validation data


def stopped_early(net):
    """Whether skorch's EarlyStopping ended the training (it raises KeyboardInterrupt too)."""
    return any(isinstance(callback, EarlyStopping) and callback.misses_ >= callback.patience
               for _, callback in net.callbacks_)


def module_and_params(est, n_classes):
    """The module (class, or a copy of an instance) and the ``module__*`` values filled in."""
    module = MLP if est.module is None else est.module
    if isinstance(module, nn.Module):
        given = sorted(k for k in est._skorch_kwargs() if k.startswith("module__"))
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
    given = {key[len("module__"):] for key in est._skorch_kwargs()
             if key.startswith("module__")}
    fills = {"n_features": int(np.prod(est.input_shape_)), "n_classes": n_classes,
             "in_channels": est.input_shape_[0] if est.input_shape_ else 1}
    filled = {f"module__{name}": value for name, value in fills.items()
              if name in accepted and name not in given}
    if est.module is None and len(est.input_shape_) > 1:
        filled["module__n_features"] = int(np.prod(est.input_shape_))
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


def callbacks(est):
    """The user's callbacks, and a progress bar at ``verbose >= 2``."""
    chosen = list(est.callbacks or [])
    if est.verbose >= 2:
        chosen.append(("progress_bar", ProgressBar()))
    return chosen


def check_callbacks(est, chosen, valid):
    """Callbacks that would score nothing, or the wrong targets, are errors here, and so
    is a ``callbacks__<name>__*`` parameter that names no callback."""
    names = {"epoch_timer", "train_loss", "valid_loss", "valid_acc", "print_log"}
    for entry in chosen:
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
        _check_scoring(name, callback, valid)
    routed = sorted({key.split("__")[1] for key in est._skorch_kwargs()
                     if key.startswith("callbacks__")} - names)
    if routed:
        raise ValueError(
            f"callbacks__{routed[0]}__... names no callback of this fit; the callbacks are "
            f"{sorted(names)} (a callback is named by its (name, callback) pair, else by "
            f"its class)")


def _check_scoring(name, callback, valid):
    """A callback scores a validation set, and only when there is one."""
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


def check_restoring_callbacks(net):
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


def build_net(est, data, engine, generator):
    """A new :class:`TrainingNet` for this fit, its ``procedure`` the engine."""
    module, kwargs = net_kwargs(est, data, generator)
    net = TrainingNet(module, procedure=engine, **kwargs)
    net.classes_ = np.arange(len(est.classes_))  # the encoded labels it predicts
    return net


def continue_net(est, data, engine, generator):
    """The fitted net with this fit's settings (warm start): module, optimizer state,
    the strategy's networks and history kept; callbacks, split, epochs and lr renewed."""
    net = est.net_
    _, kwargs = net_kwargs(est, data, generator)
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
    net.procedure = engine
    return net


def net_kwargs(est, data, generator):
    """The module and the keyword arguments of :class:`TrainingNet` for this fit.

    In-memory tensors go through :class:`TensorBatchIterator`; a Dataset (and a
    validation set that is one) through torch's ``DataLoader``, whose options
    (``iterator_train__num_workers``, ``__pin_memory``, ...) route as in skorch.
    """
    module, module_params = module_and_params(est, len(est.classes_))
    valid = data.valid
    params = _iterator_params(est, data, generator)
    # the user's callbacks are copied: fitting changes a callback's state (nothing the
    # user passed is modified); the fitted ones are in net_.callbacks_
    chosen = copy.deepcopy(callbacks(est))
    check_callbacks(est, chosen, valid)
    if valid is None:  # nothing for skorch's valid_loss to score
        params["callbacks__valid_loss"] = None
    if data.accelerator is not None and est.verbose:  # the epoch log once, not per process
        params["callbacks__print_log__sink"] = getattr(data.accelerator, "print", print)
    user = est._skorch_kwargs()
    if "iterator_train" in user:
        # a user iterator (e.g. torch's DataLoader) gets only what it asked for
        params = {k: v for k, v in params.items() if not k.startswith("iterator_train")}
        params["iterator_train__shuffle"] = True
    params.update(module_params)
    params.update(est._default_skorch_kwargs())
    params.update(user)
    return module, dict(
        criterion=nn.CrossEntropyLoss,
        optimizer=est.optimizer,
        lr=est.lr,
        max_epochs=est.max_epochs,
        batch_size=est.batch_size,
        train_split=None if valid is None else predefined_split(valid),
        callbacks=chosen,
        device=data.device,
        precision=est.mixed_precision,
        accelerator=data.accelerator,
        verbose=int(est.verbose),
        **params,
    )


def _iterator_params(est, data, generator):
    """The training and validation iterators, and how the training one batches."""
    valid = data.valid
    in_memory_valid = valid is None or isinstance(getattr(valid, "X", None), torch.Tensor)
    params = {
        "iterator_train": DataLoader if data.streamed else TensorBatchIterator,
        "iterator_valid": TensorBatchIterator if in_memory_valid else DataLoader,
        "iterator_train__shuffle": True,
        "iterator_train__generator": generator,
    }
    if not data.streamed and torch.device(data.device).type == "cuda":
        params["iterator_train__pin_memory"] = True  # asynchronous batch copies
    if data.streamed and len(data.y) % est.batch_size == 1:
        # TensorBatchIterator merges a last batch of one sample; a DataLoader drops it
        # (a random one each epoch), so that batch norm never sees a batch of size 1
        params["iterator_train__drop_last"] = True
    return params


def check_augment(augment, inputs):
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


def check_module(net):
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


def check_module_output(net, X, n_classes):
    """The module, run on two samples, gives trainable float logits, one per class."""
    check_module(net)
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
    _check_logit_shape(out.detach().float().cpu(), len(sample), n_classes)


def _check_logit_shape(out, n_samples, n_classes):
    """(n_samples, n_classes) logits; rows that look like probabilities are warned about."""
    if out.ndim == 2 and out.shape[1] > 1 and bool((out >= 0).all()) and torch.allclose(
            out.sum(dim=1), torch.ones(len(out)), atol=1e-4):
        warnings.warn(
            "the module's outputs look like probabilities (non-negative rows that sum to "
            "1): the losses expect logits; drop a final softmax", UnlockerWarning,
            stacklevel=7)
    if out.ndim != 2 or out.shape[1] != n_classes:
        raise ValueError(
            f"the module's output has shape {tuple(out.shape)} for {n_samples} samples; "
            f"expected ({n_samples}, {n_classes}): one logit per class "
            f"({n_classes} classes)"
        )
