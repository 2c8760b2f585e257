"""Fits on a CUDA device: every strategy and face, warm start, pickling to a machine without
CUDA, user tensors on the GPU, bfloat16, reproducibility. Skipped without CUDA;
``python -m benchmarks gpu`` runs them on first contact with a GPU."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import requires_cuda
from torch.utils.data import TensorDataset

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)
from sklearn_unlocker.modules import ConvNet

pytestmark = requires_cuda

FAST = dict(max_epochs=3, warmup_epochs=1, random_state=0, device="cuda")

ESTIMATORS = {
    "default": lambda: UnlockerClassifier(**FAST),
    "small_loss+unlocker": lambda: UnlockerClassifier(strategy="small_loss",
                                                      logit_adjustment="unlocker", **FAST),
    "mlc_d": lambda: UnlockerClassifier(strategy="mlc_d", **FAST),
    "dynamic_loss": lambda: UnlockerClassifier(strategy="dynamic_loss", **FAST),
    "MetaLabelCorrectionClassifier": lambda: MetaLabelCorrectionClassifier(**FAST),
    "DynamicLossClassifier": lambda: DynamicLossClassifier(**FAST),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_fit_warm_start_and_load_without_cuda(name, small_noisy_tabular, tmp_path):
    data = small_noisy_tabular
    clf = ESTIMATORS[name]().fit(data.X_train, data.y_train)
    expected = clf.predict_proba(data.X_test)
    # warm start: every network and optimizer state is where the fit runs
    clf.set_params(warm_start=True, max_epochs=1).fit(data.X_train, data.y_train)
    assert len(clf.history_) == FAST["max_epochs"] + 1
    after = clf.predict_proba(data.X_test)
    path, X_path, out = tmp_path / "model.pkl", tmp_path / "X.npy", tmp_path / "proba.npy"
    path.write_bytes(pickle.dumps(clf))
    np.save(X_path, data.X_test)
    script = textwrap.dedent(f"""
        import pickle, warnings, numpy as np, torch
        assert not torch.cuda.is_available()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = pickle.loads(open({str(path)!r}, "rb").read())
        np.save({str(out)!r}, clf.predict_proba(np.load({str(X_path)!r})))
    """)
    subprocess.run([sys.executable, "-c", script], check=True,
                   env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    np.testing.assert_allclose(np.load(out), after, rtol=1e-3, atol=1e-4)
    assert expected.shape == after.shape


def test_tensors_on_the_gpu_are_taken(small_noisy_tabular):
    data = small_noisy_tabular
    X = torch.as_tensor(data.X_train, device="cuda")
    clf = UnlockerClassifier(**FAST).fit(X, torch.as_tensor(data.y_train, device="cuda"))
    proba = clf.predict_proba(torch.as_tensor(data.X_test, device="cuda"))
    np.testing.assert_allclose(proba, clf.predict_proba(data.X_test), rtol=1e-5, atol=1e-6)


def test_a_dataset_of_gpu_tensors_streams_without_workers(small_noisy_tabular):
    data = small_noisy_tabular
    dataset = TensorDataset(torch.as_tensor(data.X_train, device="cuda"),
                            torch.as_tensor(data.y_train, device="cuda"))
    UnlockerClassifier(**FAST).fit(dataset)
    with pytest.raises(ValueError, match="yields tensors on cuda"):
        UnlockerClassifier(iterator_train__num_workers=2, **FAST).fit(dataset)


def test_bfloat16_where_supported(small_noisy_tabular):
    data = small_noisy_tabular
    if not torch.cuda.is_bf16_supported(including_emulation=False):
        with pytest.raises(ValueError, match="does not compute in bfloat16"):
            UnlockerClassifier(mixed_precision="bfloat16", **FAST).fit(data.X_train,
                                                                       data.y_train)
        return
    clf = UnlockerClassifier(mixed_precision="bfloat16", **FAST).fit(data.X_train, data.y_train)
    assert np.isfinite(clf.predict_proba(data.X_test)).all()


def test_the_same_random_state_gives_the_same_convolutional_model():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(256, 3, 16, 16)).astype(np.float32)
    y = rng.randint(0, 4, size=256)
    fits = [UnlockerClassifier(ConvNet, **FAST).fit(X, y).predict_proba(X) for _ in range(2)]
    np.testing.assert_array_equal(fits[0], fits[1])
