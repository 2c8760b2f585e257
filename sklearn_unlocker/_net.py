"""The internal skorch net and its tensor-slicing batch iterator.

The estimators hold a fitted :class:`TrainingNet` in ``net_``. It is a plain
skorch ``NeuralNet`` whose training targets are sample *indices*, extended only
through skorch's documented hooks, each of which hands over to the
``procedure`` it was built with (the fit's
:class:`~sklearn_unlocker._engine.TrainingEngine`, interface
:class:`~sklearn_unlocker._engine.Procedure`): ``initialize_module`` builds the
procedure's extra modules, ``on_train_begin`` / ``on_epoch_begin`` let
it do its per-epoch work (Unlocker: score pass, tau,
selection, prior), ``train_step_single`` runs its training step and
``get_loss`` computes its loss of a batch. With a validation split (the
estimators' ``train_split``), ``validation_step`` and ``evaluation_step`` score
the procedure's *predictions* (what the estimator's ``predict_proba`` gives)
against the validation set's labels, so skorch's ``valid_loss``,
``EpochScoring``, ``EarlyStopping`` and ``Checkpoint`` work as usual.
"""

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import ClassifierTags
from skorch import NeuralNet
from skorch.callbacks import EpochScoring
from skorch.dataset import unpack_data
from torch.utils.data import DataLoader

from ._inputs import iter_batches

__all__ = ["TensorBatchIterator", "TrainingNet"]


def _refreshable_norms(modules):
    """The batch-norm layers of ``modules`` whose running statistics a pass may re-estimate."""
    return [layer for network in modules for layer in network.modules()
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm)
            and layer.track_running_stats and not isinstance(layer, torch.nn.SyncBatchNorm)]


@contextlib.contextmanager
def _on_batch_statistics(norms):
    """Batch-norm layers in training mode with their running statistics reset and
    averaged over the batches to come (momentum None); restored afterwards."""
    saved = [(norm.momentum, norm.training) for norm in norms]
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
            norm.train()
        yield
    finally:
        for norm, (momentum, training) in zip(norms, saved, strict=True):
            norm.momentum = momentum
            norm.train(training)


def map_location(device):
    """Where tensors saved on ``device`` load on this machine.

    The CPU where there is no CUDA, the current CUDA device in place of an index
    this machine does not have (a model pickled by process k of a multi-GPU fit
    holds ``cuda:k``), else ``device``.

    Examples
    --------
    >>> str(map_location("cpu"))
    'cpu'
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            return torch.device("cuda")
    return device



def to_host(values, dtype=torch.float32):
    """``values`` copied to the host without waiting (call :func:`wait_for_copies` before
    reading them): on CUDA into pinned memory, on the CPU a plain conversion."""
    return values.to("cpu", dtype, non_blocking=True)


def wait_for_copies(device):
    """Let the asynchronous copies to the host made on ``device`` finish (one wait per
    round of :data:`COPIES_PER_WAIT` batches, where a blocking copy per batch would wait
    each time)."""
    if torch.device(device).type == "cuda":
        torch.cuda.current_stream(torch.device(device)).synchronize()


#: batches a score pass copies to the host before it waits and moves them out of pinned
#: memory (which then stays bounded by this many batches' logits)
COPIES_PER_WAIT = 32


def copies_due(device, count):
    """Whether a pass on ``device`` should wait after its ``count``-th batch."""
    return torch.device(device).type == "cuda" and count % COPIES_PER_WAIT == 0


class TensorBatchIterator:
    """Mini-batches by slicing in-memory tensors: skorch's ``iterator_train`` without a DataLoader.

    skorch accepts any iterable factory as ``iterator_train``; on small models
    slicing tensors directly avoids the DataLoader's per-sample collation (20-30%
    of a small tabular model's fit time).

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or tuple
        Holds ``X`` and ``y`` (tensors or arrays of the same length).
    batch_size : int
        Samples per batch. A last batch of a single sample is merged into the
        previous one, so batch norm never sees a batch of size 1.
    shuffle : bool, default=False
        Draw a new permutation at each pass.
    generator : torch.Generator, default=None
        Source of the permutations.
    num_workers : int, default=0
        Accepted for ``DataLoader`` compatibility and unused: slicing tensors in
        memory needs no workers (a ``Dataset`` given to ``fit`` goes through a
        ``DataLoader``, where it applies).
    pin_memory : bool, default=False
        Yield batches in pinned (page-locked) memory where CUDA is available, so
        that their copy to the GPU is asynchronous; the estimators set it for a
        fit on CUDA.

    Examples
    --------
    >>> X, y = torch.arange(5.0)[:, None], torch.arange(5)
    >>> [b[1].tolist() for b in TensorBatchIterator((X, y), batch_size=2)]
    [[0, 1], [2, 3, 4]]
    """

    def __init__(self, dataset, batch_size, shuffle=False, generator=None, num_workers=0,
                 pin_memory=False):
        X, y = (dataset.X, dataset.y) if hasattr(dataset, "X") else dataset
        self.X = torch.as_tensor(X)
        self.y = None if y is None else torch.as_tensor(y)  # None: inference
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.pin_memory = pin_memory and torch.cuda.is_available()
        self.accelerator = None

    def shard(self, accelerator):
        """Give each of ``accelerator``'s processes its share of the batches (several GPUs).

        Every process cuts the same permutation (process 0's, broadcast) into the
        same batches and takes every ``num_processes``-th of them, starting at its
        own index; the last round wraps around to the first batches, so that every
        process makes as many steps (as accelerate's ``even_batches``).

        Parameters
        ----------
        accelerator : accelerate.Accelerator

        Returns
        -------
        self
        """
        self.accelerator = accelerator if accelerator.num_processes > 1 else None
        return self

    def _bounds(self):
        n = len(self.X)
        starts = list(range(0, n, self.batch_size))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        return list(zip(starts, [*starts[1:], n], strict=True))

    def _mine(self, bounds):
        """The batches of this process (all of them in a single process)."""
        if self.accelerator is None:
            return bounds
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        rounds = -(-len(bounds) // world)
        return [bounds[(i * world + rank) % len(bounds)] for i in range(rounds)]

    def __len__(self):
        return len(self._mine(self._bounds()))

    def __iter__(self):
        order = torch.randperm(len(self.X), generator=self.generator) if self.shuffle else None
        if order is not None and self.accelerator is not None:
            from accelerate.utils import broadcast  # the processes' generators drift apart

            order = broadcast(order.to(self.accelerator.device), from_process=0).cpu()
        for start, stop in self._mine(self._bounds()):
            rows = slice(start, stop) if order is None else order[start:stop]
            X, y = self.X[rows], None if self.y is None else self.y[rows]
            if self.pin_memory:  # so that the copy to the GPU is asynchronous
                X, y = X.pin_memory(), None if y is None else y.pin_memory()
            yield X, y


class TrainingNet(NeuralNet):
    """skorch net whose targets are sample indices and whose work is its ``procedure``'s.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        As in skorch.
    precision : {None, "bfloat16"}, default=None
        Forward passes under ``torch.autocast`` in bfloat16 (:meth:`autocast`).
    accelerator : accelerate.Accelerator, default=None
        Trains through it (one or several processes, e.g. GPUs):
        :meth:`prepare_accelerator` wraps the networks and the optimizer, each
        process trains on its share of the batches, backward and mixed precision
        are the accelerator's, and :meth:`logits` splits its rows among the
        processes and gathers them, so every process sees every sample's logits.
        :meth:`unwrap_accelerator` undoes the wrapping; the estimator calls both.
    procedure : Procedure
        Implements ``extra_modules(module)``, ``begin_training(net)``,
        ``begin_epoch(net)``, ``train_step(net, X, indices)`` (forward, loss,
        backward; returns skorch's ``{"loss", "y_pred"}``), ``loss(y_pred,
        indices)``, and ``prediction_logits(net, X)``; the estimator calls its
        ``end_training(net)`` after the training loop.
        The estimator sets it to ``None`` once the fit is over (it holds the
        training data), so a fitted net predicts raw logits and does not train.
    **kwargs
        skorch's ``NeuralNet`` parameters.
    """

    def __init__(self, module, *, procedure, precision=None, accelerator=None, **kwargs):
        super().__init__(module, **kwargs)
        self.procedure = procedure
        self.precision = precision
        self.accelerator = accelerator
        self._prepared_loaders = set()
        self._buffers_apart = False  # a training step ran since the buffers last agreed
        self._refreshing = False  # inside batch_statistics(): the score pass re-estimates them

    def __setstate__(self, state):
        # skorch loads on the pickled device, or the CPU without CUDA; a CUDA index this
        # machine lacks (process k of a multi-GPU fit) becomes the current device
        device = state.get("device")
        if device is not None and torch.cuda.is_available():
            state = {**state, "device": str(map_location(device))}
        super().__setstate__(state)

    def autocast(self):
        """The forward passes' mixed-precision context: the accelerator's, else bfloat16
        autocast for ``precision="bfloat16"``, else none."""
        if self.accelerator is not None:
            return self.accelerator.autocast()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16,
                              enabled=self.precision == "bfloat16")

    def backward(self, loss):
        """Back-propagate a training loss (through the accelerator when there is one)."""
        if self.accelerator is not None:
            self.accelerator.backward(loss)
        else:
            loss.backward()

    @contextlib.contextmanager
    def batch_statistics(self, enabled=True):
        """Passes of :meth:`logits` that re-estimate batch norm's running statistics.

        Inside, each pass of :meth:`logits` over a set of rows runs the networks'
        batch-norm layers on batch statistics, in batches of a fixed random order,
        and leaves in their running statistics the average of those batches' (the
        "precise BN" of Wu & Johnson 2021), so they describe the current weights
        rather than an average over past ones. The engine scores the training set
        inside it. Layers without running statistics and ``SyncBatchNorm`` (whose
        training mode communicates between processes) are left as they are.

        Parameters
        ----------
        enabled : bool, default=True
            False: the passes run in evaluation mode as outside.
        """
        before, self._refreshing = getattr(self, "_refreshing", False), bool(enabled)
        try:
            yield
        finally:
            self._refreshing = before

    # --- several processes (accelerate) ------------------------------------------------

    def _sharded(self):
        return self.accelerator is not None and self.accelerator.num_processes > 1

    def prepare_accelerator(self):
        """Wrap every network and optimizer with the accelerator (DDP with several processes).

        Returns
        -------
        self
        """
        if self.accelerator is not None:
            for name in [*self._modules, *self._optimizers]:
                setattr(self, f"{name}_", self.accelerator.prepare(getattr(self, f"{name}_")))
        return self

    def unwrap_accelerator(self, sync=True):
        """The plain networks and optimizer again (what a fitted net holds and pickles).

        The accelerator forgets this fit's networks, optimizer and data loaders (it
        keeps what it prepared in lists, which would hold them, and their memory,
        for as long as it lives).

        Parameters
        ----------
        sync : bool, default=True
            First give every process process 0's buffers, and wait for all of
            them. False after an error: the other processes may never get there.

        Returns
        -------
        self
        """
        accelerator = self.accelerator
        if accelerator is None:
            return self
        if sync:
            self._sync_buffers()
            accelerator.wait_for_everyone()
        prepared = {id(getattr(self, f"{name}_")) for name in [*self._modules, *self._optimizers]}
        for name in self._modules:
            module = getattr(self, f"{name}_")
            setattr(self, f"{name}_", accelerator.unwrap_model(module, keep_fp32_wrapper=False))
        for name in self._optimizers:
            optimizer = getattr(self, f"{name}_")
            setattr(self, f"{name}_", getattr(optimizer, "optimizer", optimizer))
        for kept in ("_models", "_optimizers"):
            if isinstance(getattr(accelerator, kept, None), list):
                setattr(accelerator, kept,
                        [obj for obj in getattr(accelerator, kept) if id(obj) not in prepared])
        if isinstance(getattr(accelerator, "_dataloaders", None), list):
            accelerator._dataloaders = [loader for loader in accelerator._dataloaders
                                        if id(loader) not in self._prepared_loaders]
        self._prepared_loaders = set()
        return self

    def _sync_buffers(self):
        """Process 0's buffers (batch norm's running statistics) in every process.

        DDP broadcasts them before each training forward pass; the processes'
        last steps still leave them apart, and evaluation must not depend on the
        process. Only after training steps: a validation epoch's batches share one
        sync (every process trains and evaluates in step, so all agree on when).
        """
        if not (self._sharded() and getattr(self, "_buffers_apart", True)):
            return
        from accelerate.utils import broadcast  # an optional dependency

        for module in self.networks():
            for buffer in self.accelerator.unwrap_model(module).buffers():
                buffer.copy_(broadcast(buffer.detach().clone(), from_process=0))
        self._buffers_apart = False

    @contextlib.contextmanager
    def _plain_modules(self):
        """The networks unwrapped for a while (parameter files keep plain names)."""
        if self.accelerator is None:
            yield
            return
        wrapped = {name: getattr(self, f"{name}_") for name in self._modules}
        try:
            for name, module in wrapped.items():
                setattr(self, f"{name}_", self.accelerator.unwrap_model(module))
            yield
        finally:
            for name, module in wrapped.items():
                setattr(self, f"{name}_", module)

    def get_iterator(self, dataset, training=False):
        """skorch's; with several processes, each trains on its share of the batches."""
        iterator = super().get_iterator(dataset, training=training)
        if training and self._sharded():
            if isinstance(iterator, TensorBatchIterator):
                iterator.shard(self.accelerator)
            elif isinstance(iterator, DataLoader):
                iterator = self.accelerator.prepare(iterator)
                self._prepared_loaders.add(id(iterator))  # forgotten again after the fit
            else:
                raise TypeError(
                    f"with {self.accelerator.num_processes} processes, each must train on its "
                    f"share of the batches: iterator_train must be torch's DataLoader (which "
                    f"the accelerator shards); got {type(iterator).__name__}")
        return iterator

    def _step_optimizer(self, step_fn):
        if self.accelerator is None:
            return super()._step_optimizer(step_fn)
        # as skorch's AccelerateMixin: a gradient scaler takes no closure
        step_fn()
        for name in self._optimizers:
            getattr(self, f"{name}_").step()
        return None

    def save_params(self, *args, **kwargs):
        """skorch's; with an accelerator, the main process writes plain (unwrapped) networks."""
        if self.accelerator is None:
            return super().save_params(*args, **kwargs)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            with self._plain_modules():
                super().save_params(*args, **kwargs)
        self.accelerator.wait_for_everyone()
        return None

    def __sklearn_tags__(self):
        # a classifier of the encoded labels 0 .. n_classes-1 (``classes_``, set by the
        # estimator), so that scikit-learn's scorers in EpochScoring treat it as one
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags

    def get_default_callbacks(self):
        """skorch's, plus ``valid_acc`` when there is a validation split (as
        ``NeuralNetClassifier`` has it)."""
        callbacks = list(super().get_default_callbacks())
        if self.train_split is not None:
            callbacks.insert(-1, ("valid_acc", EpochScoring(
                "accuracy", name="valid_acc", lower_is_better=False, on_train=False)))
        return callbacks

    def load_params(self, *args, **kwargs):
        """skorch's, except that during a fit (a ``Checkpoint(load_best=True)``) the log of
        every epoch trained stays: only the parameters and optimizer state come back."""
        history = self.history if self.procedure is not None else None
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()
        with self._plain_modules():
            super().load_params(*args, **kwargs)
        if history is not None:
            self.history = history
        return self

    def initialize_module(self):
        super().initialize_module()
        extra = self.procedure.extra_modules(self.module_) if self.procedure else {}
        for name, module in extra.items():
            setattr(self, f"{name}_", module.to(self.device))
        self.extra_module_names_ = list(extra)
        return self

    def networks(self):
        """The main module and the strategy's extra modules, in order.

        Returns
        -------
        modules : list of torch.nn.Module
        """
        return [self.module_] + [getattr(self, f"{name}_") for name in self.extra_module_names_]

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's pass over the data, as many times as the procedure's strategy
        trains in an epoch (one pass per network for a strategy that trains them one
        after the other, as DivideMix's code does); once otherwise."""
        passes = self.procedure.passes_per_epoch if training and self.procedure else 1
        for index in range(passes):
            if passes > 1:
                self.procedure.begin_pass(index)
            super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        if passes > 1:  # the epoch's batches, every pass's
            self.history.record(f"{prefix}_batch_count", len(self.history[-1, "batches"]))

    def train_step_single(self, batch, **fit_params):
        if not self.module_.training:  # skorch walks every submodule on each call
            self._set_training(True)
        X, indices = unpack_data(batch)
        step = self.procedure.train_step(self, X, indices)
        if self._sharded():
            self._buffers_apart = True
            # every process logs the loss of the whole step (its processes' batches), so that
            # callbacks watching train_loss (LRScheduler, EarlyStopping) decide alike in each
            size = float(len(indices))
            total = self.accelerator.reduce(torch.tensor(
                [float(step["loss"].detach()) * size, size], device=self.accelerator.device),
                reduction="sum").cpu()
            step = {**step, "loss": total[0] / total[1], "step_batch_size": int(total[1])}
        return step

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        if training and self.procedure is not None:
            self.procedure.check_loss(self, self.history[-1, "batches", -1, "train_loss"],
                                      unpack_data(batch)[0])
        if training and "step_batch_size" in kwargs:  # the weight of the step's logged loss
            self.history.record_batch("train_batch_size", kwargs["step_batch_size"])

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self.procedure.begin_training(self)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                               **kwargs)
        self.procedure.begin_epoch(self)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The loss of a batch.

        ``training=True``: the procedure's loss of logits ``y_pred`` for the
        training samples at positions ``y_true``. ``training=False`` (validation):
        the cross-entropy of the predicted logits ``y_pred`` against the labels
        ``y_true`` (encoded).
        """
        if training:
            return self.procedure.loss(y_pred, y_true)
        return F.cross_entropy(y_pred, torch.as_tensor(y_true, device=y_pred.device).long())

    def validation_step(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        y_pred = self.procedure.prediction_logits(self, Xi)
        return {"loss": self.get_loss(y_pred, yi, X=Xi, training=False), "y_pred": y_pred}

    def evaluation_step(self, batch, training=False):
        if self.procedure is None or training:
            return super().evaluation_step(batch, training=training)
        Xi, _ = unpack_data(batch)
        return self.procedure.prediction_logits(self, Xi)

    def predict(self, X):
        """Encoded class predictions (``argmax`` of :meth:`predict_proba`), for scorers.

        Parameters
        ----------
        X : input data

        Returns
        -------
        y_pred : ndarray of int
        """
        return np.argmax(self.predict_proba(X), axis=1)

    def logits(self, X, module=None, batch_size=None):
        """Raw logits of every row of ``X`` in evaluation mode, without grad, on the CPU.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, ...) or DatasetInputs
            Inputs (on any device), or a dataset's inputs, streamed.
        module : torch.nn.Module or list of torch.nn.Module, default=None
            Which network; the main module by default. A list runs each network
            on every batch of one pass over ``X`` (a streamed dataset is read once).
        batch_size : int, default=None
            Rows per forward pass: ``iterator_valid__batch_size`` when the net has
            one, else 1024.

        Returns
        -------
        logits : torch.Tensor of float32, shape (n_samples, n_classes)
            Or ``(n_networks, n_samples, n_classes)`` for a list of networks.

        Notes
        -----
        With an accelerator of several processes, each process runs its
        contiguous share of the rows and the shares are gathered: every process
        returns the logits of every row (the score pass of selection, the prior
        and D_bc sees every sample).
        """
        if batch_size is None:
            batch_size = getattr(self, "iterator_valid__batch_size", 1024)
        several = isinstance(module, (list, tuple))
        modules = list(module) if several else [self.module_ if module is None else module]
        if self.accelerator is not None:
            modules = [self.accelerator.unwrap_model(network) for network in modules]
        norms = _refreshable_norms(modules) if getattr(self, "_refreshing", False) else []
        if self._sharded():
            self._sync_buffers()
            logits = self._gathered_logits(X, modules, batch_size, norms)
            return logits if several else logits[0]
        logits = self._local_logits(X, modules, batch_size, norms)
        return torch.stack(logits) if several else logits[0]

    def _gathered_logits(self, X, modules, batch_size, norms=(), chunk_values=2**24):
        """Each process's share of the rows, gathered: ``(n_networks, n_samples, C)``.

        Gathered in chunks of at most ``chunk_values`` values per process, so that
        the device holds a chunk from every process, never all the logits.
        """
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        n, width = len(X), len(modules) * len(self.classes_)
        share = -(-n // world)
        start, stop = min(rank * share, n), min((rank + 1) * share, n)
        part = X.subset(np.arange(start, stop)) if hasattr(X, "subset") else X[start:stop]
        local = torch.zeros(share, len(modules), len(self.classes_))
        if stop > start:
            own = torch.stack(self._local_logits(part, modules, batch_size, norms), 1)
            if own.shape[1:] != local.shape[1:]:
                raise ValueError(f"the module's output has shape {tuple(own.shape[::2])}; "
                                 f"expected one logit per class ({len(self.classes_)})")
            local[:stop - start] = own
        out = torch.empty(world * share, len(modules), len(self.classes_))
        rows = max(1, chunk_values // max(width, 1))
        for offset in range(0, share, rows):
            block = local[offset:offset + rows]
            gathered = self.accelerator.gather(block.to(self.accelerator.device)).cpu()
            for process, piece in enumerate(gathered.split(len(block))):
                out[process * share + offset:process * share + offset + len(block)] = piece
        if norms:  # each process re-estimated them on its share: their weighted mean
            self._average_norms(norms, stop - start)
        return out[:n].transpose(0, 1).contiguous()

    def _average_norms(self, norms, rows):
        """Every process's running statistics, averaged with weights ``rows`` (its rows)."""
        weight = torch.tensor(float(rows), device=self.accelerator.device)
        total = self.accelerator.reduce(weight, "sum")
        for norm in norms:
            for buffer in (norm.running_mean, norm.running_var):
                mean = self.accelerator.reduce(buffer.detach() * weight, "sum") / total
                buffer.copy_(mean)

    def _local_logits(self, X, modules, batch_size, norms=()):
        was_training = [network.training for network in modules]
        for network in modules:
            network.eval()
        n = len(X)
        if norms and n > 1:
            outputs = self._refreshing_logits(X, modules, batch_size, norms)
        else:
            outputs = [[] for _ in modules]
            with torch.inference_mode(), self.autocast():
                for count, (_, _, batch) in enumerate(iter_batches(X, batch_size), start=1):
                    batch = batch.to(self.device, non_blocking=True)
                    for network, out in zip(modules, outputs, strict=True):
                        out.append(to_host(network(batch)))
                    if copies_due(self.device, count):  # out of pinned memory, in one piece
                        wait_for_copies(self.device)
                        outputs = [[torch.cat(out)] for out in outputs]
            wait_for_copies(self.device)
            outputs = [torch.cat(out) if out else torch.empty(0, 0) for out in outputs]
        for network, training in zip(modules, was_training, strict=True):
            network.train(training)
        return outputs

    def _refreshing_logits(self, X, modules, batch_size, norms):
        """One pass with batch norm on batch statistics (see :meth:`batch_statistics`).

        The rows go in a fixed random order (data sorted by class would otherwise
        give each batch one class's statistics) and in batches of nearly equal
        size; a batch of one row, which a dataset's own loader can leave last, is
        scored in evaluation mode once the statistics are in.
        """
        n = len(X)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
        size = -(-n // -(-n // batch_size))  # nearly equal batches of at most batch_size
        if hasattr(X, "subset"):  # a dataset: its loader reads the rows in that order
            batches = iter_batches(X.subset(order.numpy()), size)
        else:  # a tensor: each batch gathered from it, never the whole set copied
            batches = ((start, min(start + size, n), X[order[start:start + size]])
                       for start in range(0, n, size))
        pieces, outputs = [], [None] * len(modules)

        def put_back():  # the copied logits at their rows' places, out of pinned memory
            wait_for_copies(self.device)
            for start, stop, logits in pieces:
                for i, out in enumerate(logits):
                    if outputs[i] is None:
                        outputs[i] = torch.empty(n, *out.shape[1:])
                    outputs[i][order[start:stop]] = out
            pieces.clear()

        def score(start, stop, batch):  # each network's logits, copied back asynchronously
            batch = batch.to(self.device, non_blocking=True)
            pieces.append((start, stop, [to_host(network(batch)) for network in modules]))
            if copies_due(self.device, len(pieces)):
                put_back()

        single = []
        with _on_batch_statistics(norms), torch.inference_mode(), self.autocast():
            for start, stop, batch in batches:
                if stop - start < 2:
                    single.append((start, stop, batch))
                else:
                    score(start, stop, batch)
        with torch.inference_mode(), self.autocast():
            for start, stop, batch in single:
                score(start, stop, batch)
        put_back()
        return outputs
