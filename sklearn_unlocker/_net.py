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

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import ClassifierTags
from skorch import NeuralNet
from skorch.callbacks import EpochScoring
from skorch.dataset import unpack_data

from ._inputs import iter_batches

__all__ = ["TensorBatchIterator", "TrainingNet"]


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
    num_workers, pin_memory
        Accepted for ``DataLoader`` compatibility and unused: slicing tensors in
        memory needs no workers (a ``Dataset`` given to ``fit`` goes through a
        ``DataLoader``, where they apply).

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

    def _bounds(self):
        n = len(self.X)
        starts = list(range(0, n, self.batch_size))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        return list(zip(starts, [*starts[1:], n], strict=True))

    def __len__(self):
        return len(self._bounds())

    def __iter__(self):
        order = torch.randperm(len(self.X), generator=self.generator) if self.shuffle else None
        for start, stop in self._bounds():
            rows = slice(start, stop) if order is None else order[start:stop]
            yield self.X[rows], None if self.y is None else self.y[rows]


class TrainingNet(NeuralNet):
    """skorch net whose targets are sample indices and whose work is its ``procedure``'s.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        As in skorch.
    precision : {None, "bfloat16"}, default=None
        Forward passes under ``torch.autocast`` in bfloat16 (:meth:`autocast`).
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

    def __init__(self, module, *, procedure, precision=None, **kwargs):
        super().__init__(module, **kwargs)
        self.procedure = procedure
        self.precision = precision

    def autocast(self):
        """The forward passes' mixed-precision context (``precision="bfloat16"``), or none."""
        return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16,
                              enabled=self.precision == "bfloat16")

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

    def train_step_single(self, batch, **fit_params):
        if not self.module_.training:  # skorch walks every submodule on each call
            self._set_training(True)
        X, indices = unpack_data(batch)
        return self.procedure.train_step(self, X, indices)

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

    def logits(self, X, module=None, batch_size=1024):
        """Raw logits of every row of ``X`` in evaluation mode, without grad, on the CPU.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, ...) or DatasetInputs
            Inputs (on any device), or a dataset's inputs, streamed.
        module : torch.nn.Module or list of torch.nn.Module, default=None
            Which network; the main module by default. A list runs each network
            on every batch of one pass over ``X`` (a streamed dataset is read once).
        batch_size : int, default=1024
            Rows per forward pass.

        Returns
        -------
        logits : torch.Tensor of float32, shape (n_samples, n_classes)
            Or ``(n_networks, n_samples, n_classes)`` for a list of networks.
        """
        several = isinstance(module, (list, tuple))
        modules = list(module) if several else [self.module_ if module is None else module]
        was_training = [network.training for network in modules]
        for network in modules:
            network.eval()
        outputs = [[] for _ in modules]
        with torch.inference_mode(), self.autocast():
            for _, _, batch in iter_batches(X, batch_size):
                batch = batch.to(self.device, non_blocking=True)
                for network, out in zip(modules, outputs, strict=True):
                    out.append(network(batch).float().cpu())
        for network, training in zip(modules, was_training, strict=True):
            network.train(training)
        logits = [torch.cat(out) if out else torch.empty(0, 0) for out in outputs]
        return torch.stack(logits) if several else logits[0]
