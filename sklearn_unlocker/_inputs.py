"""Training inputs that stay on disk: a map-style torch ``Dataset`` seen as rows of X.

Arrays and tensors are the fast in-memory path. A ``Dataset`` of ``(x, y)`` pairs
(skorch's convention; ``torchvision.datasets.ImageFolder`` with a transform, a
lazily generated set) is never materialised: the engine and the strategies see a
:class:`DatasetInputs`, which streams it in order through a ``DataLoader`` (workers,
pinned memory) for the score pass and prediction, and gathers the few rows a
strategy draws at random (a trusted batch, DivideMix's unlabelled draws) in the main
process. Training batches come from a ``DataLoader`` over :class:`IndexedDataset`,
which yields each sample's position in place of its label, as the engine expects.
What the fit keeps per sample are scalars and the n x C logits, never the inputs.
"""

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

__all__ = [
    "DatasetInputs",
    "IndexedDataset",
    "LabelledDataset",
    "dataset_labels",
    "is_dataset",
    "iter_batches",
]


def is_dataset(X):
    """Whether ``X`` is a map-style torch Dataset (an iterable one is an error).

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> is_dataset(TensorDataset(torch.zeros(2, 1))), is_dataset(np.zeros((2, 1)))
    (True, False)
    """
    if isinstance(X, IterableDataset):
        raise TypeError("an IterableDataset has no length or random access; give a map-style "
                        "Dataset of (x, y) pairs (or arrays)")
    return isinstance(X, Dataset)


def _as_tensor(x):
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return torch.as_tensor(np.asarray(x))
    raise TypeError(
        f"the dataset's inputs must be tensors or arrays, got {type(x).__name__}; give it a "
        f"transform that makes one (for images: torchvision.transforms.v2.Compose([v2.ToImage(), "
        f"v2.ToDtype(torch.float32, scale=True)]))")


def _not_a_pair(item):
    """The error for a dataset item that is not an ``(x, y)`` pair."""
    return ValueError(f"a dataset given to fit must yield (x, y) pairs (skorch's convention); "
                      f"it yields a {type(item).__name__}: wrap it so that __getitem__ "
                      f"returns (x, y)")


def _input_at(dataset, row):
    """The input x of a dataset's ``(x, y)`` item, as float32: the dtype of the in-memory
    path (numpy's float64 included)."""
    item = dataset[int(row)]
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise _not_a_pair(item)
    return _as_tensor(item[0]).to(torch.float32)


class _InputsOnly(Dataset):
    """The inputs of a dataset of (x, y) pairs, at the given rows (the datasets below
    add what each item carries beside its input)."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, np.asarray(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return _input_at(self.dataset, self.indices[i])


class IndexedDataset(_InputsOnly):
    """``(x, position)`` pairs of a dataset's rows: the training targets are positions.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Yields ``(x, y)``.
    indices : array-like of int
        The dataset rows trained on; position ``i`` is ``indices[i]``.

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> data = TensorDataset(torch.arange(6.0)[:, None], torch.zeros(6))
    >>> indexed = IndexedDataset(data, np.array([4, 1]))
    >>> [(float(x), int(i)) for x, i in (indexed[0], indexed[1])]
    [(4.0, 0), (1.0, 1)]
    """

    def __getitem__(self, i):
        return super().__getitem__(i), i


class LabelledDataset(_InputsOnly):
    """``(x, encoded label)`` pairs of a dataset's rows (a validation set).

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Yields ``(x, y)``.
    indices : array-like of int
        The rows.
    labels : array-like of int
        The encoded label of each of those rows.

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> data = TensorDataset(torch.arange(3.0)[:, None], torch.tensor([7, 8, 9]))
    >>> x, label = LabelledDataset(data, [2], np.array([1]))[0]
    >>> float(x), int(label)
    (2.0, 1)
    """

    def __init__(self, dataset, indices, labels):
        super().__init__(dataset, indices)
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)

    def __getitem__(self, i):
        return super().__getitem__(i), self.labels[i]


class DatasetInputs:
    """Rows of a dataset's inputs, streamed or gathered, never held all at once.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Yields ``(x, y)``; only ``x`` is read.
    indices : array-like of int, default=None
        The rows, in order (all by default).
    loader : dict, default=None
        ``DataLoader`` options for streaming (``num_workers``, ``pin_memory``, ...).

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> inputs = DatasetInputs(TensorDataset(torch.arange(5.0)[:, None], torch.zeros(5)))
    >>> len(inputs), inputs[torch.tensor([3, 0])].squeeze(1).tolist(), inputs[:2].shape
    (5, [3.0, 0.0], torch.Size([2, 1]))
    >>> [batch.shape[0] for batch in inputs.batches(2)]
    [2, 2, 1]
    """

    def __init__(self, dataset, indices=None, loader=None):
        self.dataset = dataset
        self.indices = np.arange(len(dataset)) if indices is None else np.asarray(indices)
        self.loader = dict(loader or {})

    def __len__(self):
        return len(self.indices)

    @property
    def shape(self):
        """``(n_samples, *sample_shape)``, from the first row."""
        return (len(self), *self[:1].shape[1:])

    def __getitem__(self, rows):
        """Rows gathered in the main process (a slice, ints, a tensor or array of positions)."""
        if isinstance(rows, slice):
            positions = self.indices[rows]
        else:
            rows = np.asarray(rows.cpu() if isinstance(rows, torch.Tensor) else rows)
            if rows.dtype == bool:  # a mask, as tensors take one
                rows = np.flatnonzero(rows)
            if rows.ndim == 0:  # one row: no batch axis, as a tensor's X[i]
                return _input_at(self.dataset, self.indices[int(rows)])
            positions = self.indices[rows.astype(np.intp)]
        items = [_input_at(self.dataset, p) for p in np.atleast_1d(positions)]
        if not items:
            return torch.empty((0, *self[:1].shape[1:])) if len(self) else torch.empty(0)
        return torch.stack(items)

    def subset(self, rows):
        """The inputs at these positions (of this object's rows)."""
        return DatasetInputs(self.dataset, self.indices[np.asarray(rows)], self.loader)

    def batches(self, batch_size):
        """The rows in order, ``batch_size`` at a time, through a ``DataLoader``."""
        loader = {k: v for k, v in self.loader.items()
                  if k in {"num_workers", "pin_memory", "prefetch_factor", "persistent_workers",
                           "multiprocessing_context", "worker_init_fn", "timeout"}}
        batch_size = self.loader.get("batch_size", batch_size)  # iterator_valid__batch_size
        return iter(DataLoader(_InputsOnly(self.dataset, self.indices), batch_size=batch_size,
                               shuffle=False, generator=torch.Generator(), **loader))


def iter_batches(X, batch_size):
    """``(start, stop, batch)`` over the rows of a tensor or a :class:`DatasetInputs`."""
    if isinstance(X, DatasetInputs):
        start = 0
        for batch in X.batches(batch_size):
            yield start, start + len(batch), batch
            start += len(batch)
    else:
        for start in range(0, len(X), batch_size):
            batch = X[start:start + batch_size]
            yield start, start + len(batch), batch


def dataset_labels(dataset, loader=None):
    """The labels of a dataset of ``(x, y)`` pairs, reading the inputs only if it must.

    ``targets`` of torchvision's own datasets (folders, CIFAR) without a
    ``target_transform``, a ``TensorDataset``'s second tensor and a ``Subset`` of
    either are read directly; any other dataset (a subclass that serves its own
    labels included) is streamed once through a ``DataLoader``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
    loader : dict, default=None
        ``DataLoader`` options for the stream.

    Returns
    -------
    y : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> dataset_labels(TensorDataset(torch.zeros(3, 2), torch.tensor([2, 0, 1]))).tolist()
    [2, 0, 1]
    """
    if isinstance(dataset, Subset):
        return dataset_labels(dataset.dataset, loader)[np.asarray(dataset.indices)]
    tensors = getattr(dataset, "tensors", None)
    if type(dataset).__name__ == "TensorDataset" and tensors is not None and len(tensors) >= 2:
        return tensors[1].cpu().numpy()
    targets = getattr(dataset, "targets", None)
    # ``targets`` are what the items yield only for torchvision's own datasets without a
    # target_transform: a subclass may serve other labels (injected noise, say)
    torchvision_items = getattr(type(dataset).__getitem__, "__module__", "").startswith(
        "torchvision.")
    if (targets is not None and torchvision_items
            and getattr(dataset, "target_transform", None) is None):
        return np.asarray(targets)
    options = {k: v for k, v in (loader or {}).items() if k in {"num_workers", "pin_memory"}}
    labels = [np.asarray(batch[1]) for batch in DataLoader(
        dataset, batch_size=(loader or {}).get("batch_size", 1024), shuffle=False,
        collate_fn=_labels_only, generator=torch.Generator(), **options)]
    return np.concatenate(labels) if labels else np.empty(0)


def _labels_only(items):
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise _not_a_pair(item)
    labels = [item[1].cpu() if isinstance(item[1], torch.Tensor) else item[1] for item in items]
    return None, np.asarray([np.asarray(label).item() if np.ndim(label) == 0
                             else np.asarray(label) for label in labels])
