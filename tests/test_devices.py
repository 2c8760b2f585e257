"""Device-clean state: what a CUDA fit would hold loads on a machine without CUDA, nothing
fitted is moved in place, and user tensors on any device are taken (or named when not).

These run on the CPU. A CUDA fit is simulated where it can be: pickling tags every tensor
that a fit on a GPU keeps on the device (the networks, their optimizer states, everything
the strategy holds) as a ``cuda:0`` tensor, which a machine without CUDA can only load
through a map location. ``python -m benchmarks gpu`` checks the rest on a GPU.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
import torch.serialization
from torch import nn
from torch.utils.data import Dataset

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)
from sklearn_unlocker._net import map_location

FAST = dict(max_epochs=3, warmup_epochs=1, random_state=0)

ESTIMATORS = {
    "small_loss": lambda: UnlockerClassifier(strategy="small_loss", **FAST),
    "dividemix": lambda: UnlockerClassifier(**FAST),
    "mlc": lambda: UnlockerClassifier(strategy="mlc", **FAST),
    "mlc_d": lambda: UnlockerClassifier(strategy="mlc_d", **FAST),
    "ebomlc": lambda: UnlockerClassifier(strategy="ebomlc", **FAST),
    "dynamic_loss": lambda: UnlockerClassifier(strategy="dynamic_loss", **FAST),
    "none": lambda: UnlockerClassifier(strategy="none", logit_adjustment="none", **FAST),
    "MetaLabelCorrectionClassifier": lambda: MetaLabelCorrectionClassifier(**FAST),
    "DynamicLossClassifier": lambda: DynamicLossClassifier(**FAST),
}


def _device_tensors(obj, seen=None):
    """Every tensor a fitted object holds in modules, optimizers, containers and our own
    objects' attributes: what a CUDA fit keeps on the device."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, nn.Module):
        return list(obj.state_dict(keep_vars=True).values())
    if isinstance(obj, torch.optim.Optimizer):
        return _device_tensors(obj.state_dict(), seen)
    if isinstance(obj, dict):
        return [t for value in obj.values() for t in _device_tensors(value, seen)]
    if isinstance(obj, (list, tuple)):
        return [t for value in obj for t in _device_tensors(value, seen)]
    if type(obj).__module__.startswith("sklearn_unlocker") and hasattr(obj, "__dict__"):
        return _device_tensors(vars(obj), seen)
    return []


def _pickled_as_if_on_cuda(clf, monkeypatch):
    """pickle.dumps of a fitted estimator whose device tensors are tagged ``cuda:0``."""
    held = _device_tensors([clf.strategy_, clf.net_.networks(), clf.net_.optimizer_])
    storages = {t.untyped_storage().data_ptr() for t in held}
    assert storages
    clf.device_, clf.net_.device = "cuda", "cuda"
    tag = torch.serialization.location_tag
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag",
                      lambda s: "cuda:0" if s.data_ptr() in storages else tag(s))
        return pickle.dumps(clf)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_a_model_fitted_on_a_gpu_loads_and_predicts_without_one(name, small_noisy_tabular,
                                                                 monkeypatch):
    data = small_noisy_tabular
    clf = ESTIMATORS[name]().fit(data.X_train, data.y_train)
    expected = clf.predict_proba(data.X_test)
    blob = _pickled_as_if_on_cuda(clf, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch: "Requested to load data to CUDA ..."
        again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict_proba(data.X_test), expected)
    assert all(t.device.type == "cpu" for t in _device_tensors(again.strategy_))
    # pickling copied the state: the estimator it came from kept its own
    assert hasattr(clf, "strategy_") and hasattr(clf, "input_shape_")


def test_the_meta_faces_copy_the_strategys_models_instead_of_moving_them(small_noisy_tabular):
    data = small_noisy_tabular
    mlc = MetaLabelCorrectionClassifier(**FAST).fit(data.X_train, data.y_train)
    assert mlc.meta_model_ is not mlc.strategy_.meta_model_
    assert not mlc.meta_model_.training and mlc.strategy_.meta_model_.training
    dyn = DynamicLossClassifier(**FAST).fit(data.X_train, data.y_train)
    assert dyn.label_corrector_ is not dyn.strategy_.label_corrector_
    assert dyn.margin_generator_ is not dyn.strategy_.margin_generator_
    for copy, own in [(mlc.meta_model_, mlc.strategy_.meta_model_),
                      (dyn.label_corrector_, dyn.strategy_.label_corrector_)]:
        for a, b in zip(copy.state_dict().values(), own.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_map_location(monkeypatch):
    assert map_location("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert map_location("cuda:1") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert map_location("cuda:1") == torch.device("cuda:1")
    assert map_location("cuda:3") == torch.device("cuda")  # process 3's model, on 2 GPUs


def test_a_device_this_machine_lacks_is_named(small_noisy_tabular, monkeypatch):
    data = small_noisy_tabular
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ValueError, match=r"device='cuda:2' but this machine has 2 CUDA"):
        UnlockerClassifier(device="cuda:2", **FAST).fit(data.X_train, data.y_train)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "Tesla V100")
    with pytest.raises(ValueError, match=r"bfloat16.*Tesla V100.*does not compute"):
        UnlockerClassifier(device="cuda:1", mixed_precision="bfloat16", **FAST).fit(
            data.X_train, data.y_train)
    with pytest.raises(ValueError, match=r"bfloat16.*does not compute"):
        UnlockerClassifier(mixed_precision="bfloat16", **FAST).fit(data.X_train, data.y_train)


def test_tensors_are_taken_as_arrays_and_left_as_they_were(small_noisy_tabular):
    data = small_noisy_tabular
    X = torch.tensor(data.X_train, requires_grad=True)  # a tensor with grad: detached
    y = torch.as_tensor(data.y_train)
    X_trusted = torch.as_tensor(data.X_train[:20])
    clf = UnlockerClassifier(strategy="mlc", **FAST).fit(
        X, y, sample_weight=torch.ones(len(y)), X_trusted=X_trusted,
        y_trusted=torch.as_tensor(data.y_train[:20]))
    plain = UnlockerClassifier(strategy="mlc", **FAST).fit(
        data.X_train, data.y_train, sample_weight=np.ones(len(y)),
        X_trusted=data.X_train[:20], y_trusted=data.y_train[:20])
    np.testing.assert_array_equal(clf.predict_proba(torch.as_tensor(data.X_test)),
                                  plain.predict_proba(data.X_test))
    assert X.requires_grad and X.grad is None


class _OnDevice(Dataset):
    """Yields its samples on another device (``meta`` stands in for a GPU here)."""

    def __init__(self, n=8):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.zeros(3, device="meta"), i % 2


@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set")  # no accelerator here
@pytest.mark.parametrize("option", [{"iterator_train__num_workers": 2},
                                    {"iterator_valid__pin_memory": True}])
def test_a_dataset_of_device_tensors_cannot_go_to_workers_or_pinning(option):
    with pytest.raises(ValueError, match=r"yields tensors on meta.*return CPU tensors"):
        UnlockerClassifier(**option, **FAST).fit(_OnDevice())


def test_a_feature_extractor_may_return_numpy(small_noisy_tabular):
    data = small_noisy_tabular
    clf = MetaLabelCorrectionClassifier(feature_extractor=lambda X: X.cpu().numpy() * 2.0,
                                        **FAST).fit(data.X_train, data.y_train)
    assert clf.meta_model_ is not None
