"""What a fit and a prediction accept: keywords, X and y, sample weights, the split.

Plain functions on the estimator (``est``): they read its parameters, raise the
errors that name bad input, and set the attributes that describe the input
(``classes_``, ``n_features_in_``, ``input_shape_``). :func:`fit_data` runs them
in a fit's order and returns a :class:`FitData`; the estimator builds and trains
on it.
"""

import dataclasses
import difflib
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, validate_data
from skorch.dataset import Dataset
from torch.utils.data import Subset

from ._device import SEED_MAX, resolve_device, shared_random_state
from ._device import accelerator as checked_accelerator
from ._inputs import DatasetInputs, LabelledDataset, dataset_labels, is_dataset
from ._sklearn_compat import check_sample_weight
from ._warm_start import check as check_warm_start
from ._warm_start import fitted_state as warm_state
from .exceptions import UnlockerWarning

#: inputs larger than this in magnitude are warned about (a fit on them saturates)
LARGEST_INPUT = 1e8

#: skorch parameter families a user may route through ``**kwargs``.
SKORCH_PREFIXES = ("module__", "optimizer__", "iterator_train__", "iterator_valid__",
                   "callbacks__")
#: plain skorch parameters a user may pass through ``**kwargs``.
SKORCH_PLAIN = ("iterator_train", "iterator_valid")

#: keywords users bring from scikit-learn or skorch that are not parameters here
KEYWORD_HINTS = {
    "class_weight": "long-tailed classes are what logit_adjustment corrects; per-sample "
                    "weights go to fit(X, y, sample_weight=...)",
    "criterion": "the loss is the method's own (the logit-adjusted cross-entropy, DivideMix's "
                 "MixMatch loss, ...): choose it with strategy= and logit_adjustment=",
}


@dataclasses.dataclass
class FitData:
    """A fit's checked input, split and placed: what the build and the training read."""

    inputs: object  # a float32 tensor, or DatasetInputs over a Dataset
    y: np.ndarray  # encoded labels of the trained rows
    sample_weight: object
    trusted: object  # (tensor, encoded labels) or None
    train: object  # positions of the trained rows in X, or None for all
    valid: object  # the validation Dataset, or None
    streamed: bool
    device: str
    accelerator: object
    random_state: object
    warm: object  # the fitted state a warm start continues, or None


def on_host(values):
    """A tensor (on any device, with or without grad) as a numpy array; others as given."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return values


def class_names(dataset):
    """The class names a torchvision dataset numbers its labels by (``classes``), or None."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    names = getattr(dataset, "classes", None)
    return list(names) if isinstance(names, (list, tuple)) else None


def loader_options(est, prefix):
    """The user's routed ``DataLoader`` options of an iterator (``iterator_train__*``)."""
    return {key[len(prefix) + 2:]: value for key, value in est._skorch_kwargs().items()
            if key.startswith(prefix + "__")}


def check_keywords(est):
    """A keyword that is neither a parameter nor a routed skorch one is a mistake."""
    known = est._get_param_names()
    typos = sorted(k for k in vars(est) if "__" not in k and not k.startswith("_")
                   and not k.endswith("_") and k not in known and k not in SKORCH_PLAIN)
    if typos:
        hints = [f"{k!r} ({KEYWORD_HINTS[k]})" if k in KEYWORD_HINTS
                 else f"{k!r} (did you mean {close[0]!r}?)"
                 if (close := difflib.get_close_matches(k, known, n=1)) else repr(k)
                 for k in typos]
        raise TypeError(f"{type(est).__name__} got unexpected keyword argument(s) "
                        f"{', '.join(hints)}")


def check_routed(est):
    """Routed parameters: batch sizes are positive integers, prefixes are skorch's."""
    for key in ("iterator_train__batch_size", "iterator_valid__batch_size"):
        value = est._skorch_kwargs().get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)
                                  or value < 1):
            raise ValueError(f"{key} must be a positive integer; got {value!r}")
    unknown = [k for k in vars(est) if "__" in k and not k.startswith(SKORCH_PREFIXES)]
    if unknown:
        nested = [k for k in unknown if k.split("__")[0] in est.get_params(deep=False)]
        hint = (f"; a parameter's own parameters ({', '.join(nested)}) are set with "
                f"set_params(...), or by passing the object, e.g. "
                f"strategy=DivideMixStrategy(alpha=0.1)" if nested else "")
        raise ValueError(
            f"unknown routed parameter(s) {unknown}; routed skorch parameters start with "
            f"one of {', '.join(SKORCH_PREFIXES)}{hint}"
        )


def fit_data(est, X, y, sample_weight, X_trusted, y_trusted):
    """Everything a fit checks before it builds, in this order, as a :class:`FitData`."""
    est._validate_params()
    warm = (warm_state(est) if est.warm_start and hasattr(est, "net_")
            else None)
    X, y_encoded, sample_weight = validate_fit_input(est, X, y, sample_weight)
    accelerator = checked_accelerator(est)
    device = resolve_device(est, accelerator)
    if warm is not None:
        y_encoded = check_warm_start(est, warm, y_encoded, device)
    trusted = validate_trusted(est, X_trusted, y_trusted)
    streamed = is_dataset(X)
    if streamed:  # a Dataset stays where it is: the fit streams it
        inputs = DatasetInputs(X, loader=loader_options(est, "iterator_valid"))
    else:
        inputs = torch.from_numpy(np.ascontiguousarray(X))
    random_state = shared_random_state(est, accelerator)
    train, valid = split(est, inputs, y_encoded, random_state)
    if train is not None:
        inputs = (inputs.subset(train) if streamed
                  else inputs[torch.from_numpy(train)])
        y_encoded = y_encoded[train]
        sample_weight = None if sample_weight is None else sample_weight[train]
    return FitData(inputs, y_encoded, sample_weight, trusted, train, valid, streamed, device,
                   accelerator, random_state, warm)


def validate_fit_input(est, X, y, sample_weight):
    """X (array or Dataset), labels encoded as ``classes_``, and checked sample weights."""
    check_keywords(est)
    check_routed(est)
    if is_dataset(X):
        y, sample_shape = _dataset_input(est, X, y)
    else:
        X, y, sample_shape = _array_input(est, X, y)
    if y.dtype == object and len({str in type(v).__mro__ for v in y}) > 1:
        raise ValueError("y mixes strings and numbers; give labels of one kind (e.g. "
                         "y.astype(str))")
    check_classification_targets(y)
    y_encoded = _encoded_labels(est, y)
    if sample_weight is not None:
        sample_weight = _checked_sample_weight(est, on_host(sample_weight), y_encoded)
    est.input_shape_ = sample_shape
    return X, y_encoded, sample_weight


def _dataset_input(est, X, y):
    """A Dataset of (x, y) pairs: its labels, and the shape of one sample."""
    if y is not None:
        raise ValueError(
            "X is a Dataset of (x, y) pairs, whose labels are the training labels; "
            "y must be None (skorch's convention), got an array beside it")
    with torch.random.fork_rng(devices=[]):  # a transform may draw: leave global RNG
        first = DatasetInputs(X)[:1]
        check_streamed_device(est, first)  # before workers read it for the labels
        y = np.asarray(dataset_labels(X, loader_options(est, "iterator_valid")))
    sample_shape = tuple(first.shape[1:])
    est._dataset_classes_ = class_names(X)
    if y.ndim != 1:
        raise ValueError(f"the dataset's labels must be one per sample; got an array "
                         f"of shape {y.shape}")
    if len(y) < 2:
        raise ValueError(f"Found a Dataset with {len(y)} sample(s) while a minimum of 2 "
                         f"is required by {type(est).__name__}.")
    est.n_features_in_ = sample_shape[0] if sample_shape else 1
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    return y, sample_shape


def _array_input(est, X, y):
    """Arrays (or tensors) X and y, validated as scikit-learn does; huge values warned about."""
    X, y = validate_data(est, on_host(X), on_host(y), allow_nd=True,
                         dtype=np.float32, ensure_min_samples=2, y_numeric=False)
    est._dataset_classes_ = None
    largest = float(max(X.max(), -X.min())) if X.size else 0.0  # no copy of X
    if largest > LARGEST_INPUT:
        warnings.warn(
            f"X has values up to {largest:.3g} in magnitude: networks train poorly on "
            f"unscaled inputs (the logits saturate and every probability becomes 0 or "
            f"1); scale X, e.g. with sklearn.preprocessing.StandardScaler in a "
            f"Pipeline", UnlockerWarning, stacklevel=7)
    return X, y, tuple(X.shape[1:])


def _encoded_labels(est, y):
    """``classes_`` set (from y, or the ``classes`` parameter) and y as positions in it."""
    if est.classes is None:
        est.classes_ = np.unique(y)
    else:
        est.classes_ = np.unique(np.asarray(est.classes))
        unseen = np.setdiff1d(np.unique(y), est.classes_)
        if len(unseen):
            raise ValueError(f"y has labels not in classes: {unseen.tolist()}")
    if len(est.classes_) < 2:
        raise ValueError(
            f"this classifier needs samples of at least two classes; got 1 class "
            f"({est.classes_.tolist()})"
        )
    return np.searchsorted(est.classes_, y)


def _checked_sample_weight(est, sample_weight, y_encoded):
    """Non-negative float64 weights, one per sample, positive in at least two classes."""
    sample_weight = check_sample_weight(sample_weight, np.empty((len(y_encoded), 0)),
                                        dtype=np.float64, ensure_non_negative=True)
    weighted = np.bincount(y_encoded, weights=sample_weight,
                           minlength=len(est.classes_)) > 0
    if weighted.sum() < 2:
        raise ValueError(
            f"this classifier needs samples of at least two classes with positive "
            f"sample_weight; got {int(weighted.sum())} class "
            f"({est.classes_[weighted].tolist()})"
        )
    return sample_weight


def check_streamed_device(est, first):
    """A Dataset may yield tensors on a GPU, but not to worker processes or pinning."""
    if first.device.type == "cpu":
        return
    for prefix in ("iterator_train", "iterator_valid"):
        options = loader_options(est, prefix)
        if options.get("num_workers", 0) or options.get("pin_memory", False):
            cannot = "pin" if options.get("pin_memory") else "send from worker processes"
            raise ValueError(
                f"the Dataset yields tensors on {first.device}, which {prefix}'s "
                f"DataLoader cannot {cannot} "
                f"({prefix}__num_workers={options.get('num_workers', 0)}, "
                f"{prefix}__pin_memory={options.get('pin_memory', False)}); return CPU "
                f"tensors from the Dataset (the fit moves each batch to its device) or "
                f"set {prefix}__num_workers=0 and {prefix}__pin_memory=False")


def split(est, X, y_encoded, random_state):
    """``train_split`` applied: (training positions or None for all, validation Dataset)."""
    if est.train_split is None:
        return None, None
    streamed = isinstance(X, DatasetInputs)
    dataset = (LabelledDataset(X.dataset, X.indices, y_encoded) if streamed
               else Dataset(X, y_encoded))
    # a split left to numpy's global random state (ValidSplit without random_state) is
    # drawn from random_state here, and the global state is put back
    state = np.random.get_state()
    try:
        np.random.seed(check_random_state(random_state).randint(SEED_MAX))
        parts = est.train_split(dataset, y_encoded)
    finally:
        np.random.set_state(state)
    if not (isinstance(parts, tuple) and len(parts) == 2):
        raise TypeError(f"train_split must return (dataset_train, dataset_valid) as skorch's "
                        f"ValidSplit does; got {type(parts).__name__}")
    part_train, part_valid = parts
    train = _positions(part_train, dataset, len(y_encoded))
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
    return train, _validation_part(est, part_valid, dataset, X, y_encoded)


def _positions(part, dataset, n_samples):
    """The positions a part of a split holds in ``dataset``, or None if it is not of it."""
    if part is dataset:
        return np.arange(n_samples)
    if isinstance(part, Subset) and part.dataset is dataset:
        return np.asarray(part.indices, dtype=np.intp)
    return None


def _validation_part(est, part_valid, dataset, X, y_encoded):
    """The split's validation part as a Dataset with encoded labels; never empty."""
    shown = _positions(part_valid, dataset, len(y_encoded))
    if shown is not None and isinstance(X, DatasetInputs):
        valid = LabelledDataset(X.dataset, X.indices[shown], y_encoded[shown])
    elif shown is not None:
        valid = Dataset(X[torch.from_numpy(shown)],
                        torch.as_tensor(y_encoded[shown], dtype=torch.long))
    else:  # a dataset of its own (predefined_split): labels as given to fit
        valid = valid_dataset(est, part_valid)
    if len(valid) == 0:
        raise ValueError("train_split returned an empty validation set")
    return valid


def valid_dataset(est, dataset):
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
    if len(y) and shape != est.input_shape_:
        raise ValueError(f"the validation set of train_split has samples of shape "
                         f"{shape}, X has {est.input_shape_}")
    unseen = np.setdiff1d(np.unique(y), est.classes_)
    if len(unseen):
        raise ValueError(f"the validation set of train_split has labels not among the "
                         f"classes: {unseen.tolist()}")
    encoded = np.searchsorted(est.classes_, y)
    if arrays:
        return Dataset(torch.from_numpy(np.ascontiguousarray(X)),
                       torch.as_tensor(encoded, dtype=torch.long))
    return LabelledDataset(dataset, np.arange(len(y)), encoded)


def validate_trusted(est, X_trusted, y_trusted):
    """The user's trusted set as (tensor, encoded labels), or None."""
    if (X_trusted is None) != (y_trusted is None):
        raise ValueError("give both X_trusted and y_trusted, or neither")
    if X_trusted is None:
        return None
    if is_dataset(X_trusted):
        raise TypeError("X_trusted must be an array or tensor (the trusted set is small "
                        "and held in memory); a Dataset is not taken: stack its samples, "
                        "e.g. torch.stack([x for x, _ in dataset])")
    X_trusted = check_array(on_host(X_trusted), allow_nd=True, dtype=np.float32,
                            input_name="X_trusted")
    if tuple(X_trusted.shape[1:]) != est.input_shape_:
        raise ValueError(f"X_trusted has samples of shape {tuple(X_trusted.shape[1:])}, "
                         f"X has {est.input_shape_}")
    y_trusted = np.asarray(on_host(y_trusted))
    if y_trusted.shape != (len(X_trusted),):
        raise ValueError(f"y_trusted must have shape ({len(X_trusted)},), "
                         f"got {y_trusted.shape}")
    unseen = np.setdiff1d(np.unique(y_trusted), est.classes_)
    if len(unseen):
        raise ValueError(f"y_trusted has labels not among the classes: {unseen.tolist()}")
    return (torch.from_numpy(np.ascontiguousarray(X_trusted)),
            np.searchsorted(est.classes_, y_trusted))


def check_dataset_classes(est, X):
    """A dataset that numbers other classes (another folder list) is an error."""
    fitted, given = getattr(est, "_dataset_classes_", None), class_names(X)
    if fitted is not None and given is not None and fitted != given:
        raise ValueError(
            f"the dataset's classes {given} are not the training dataset's {fitted}, so "
            f"its label numbers mean other classes (ImageFolder numbers the folders it "
            f"finds); give it every training class folder, or map its labels")


def prediction_input(est, X):
    """X to predict on, as a tensor or DatasetInputs, of the fitted samples' shape."""
    if is_dataset(X):  # streamed through a DataLoader (iterator_valid__* options)
        check_dataset_classes(est, X)
        X = DatasetInputs(X, loader=loader_options(est, "iterator_valid"))
        if not len(X):
            raise ValueError("X is an empty Dataset")
        with torch.random.fork_rng(devices=[]):  # a transform may draw: leave global RNG
            shape = tuple(X[:1].shape[1:])
    else:
        X = validate_data(est, on_host(X), reset=False, allow_nd=True, dtype=np.float32)
        shape = tuple(X.shape[1:])
        X = torch.from_numpy(np.ascontiguousarray(X))
    if shape != est.input_shape_:
        raise ValueError(
            f"X has samples of shape {shape}, but this estimator was fitted "
            f"on samples of shape {est.input_shape_}"
        )
    return X


def scored_labels(est, X, y):
    """The true labels ``score`` compares with: y, or a Dataset's; all among ``classes_``."""
    if is_dataset(X):
        if y is not None:
            raise ValueError("X is a Dataset of (x, y) pairs, whose labels are scored; y "
                             "must be None")
        check_dataset_classes(est, X)
        with torch.random.fork_rng(devices=[]):
            y = dataset_labels(X, loader_options(est, "iterator_valid"))
    elif y is None:
        raise ValueError("score needs the true labels y (or X a Dataset of (x, y) pairs)")
    unseen = np.setdiff1d(np.unique(np.asarray(y)), est.classes_)
    if len(unseen):
        raise ValueError(
            f"y has labels unseen at fit: {unseen.tolist()}; the fitted classes are "
            f"{est.classes_.tolist()} (pass classes=... at fit to fix the label set)"
        )
    return y
