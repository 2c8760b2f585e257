"""accelerator=: training through Hugging Face accelerate (skorch's route to several GPUs).

Single-process tests run accelerate on the CPU as it runs on one GPU. The
multi-process test launches two CPU processes with ``torch.distributed.run``
(gloo), as ``accelerate launch`` launches one per GPU: both processes must end
with the same model, each must train on its share of the batches, and the score
pass must be split among them and gathered.
"""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn
from torch.utils.data import TensorDataset

from sklearn_unlocker import UnlockerClassifier

accelerate = pytest.importorskip("accelerate")

FAST = dict(max_epochs=6, warmup_epochs=2, random_state=0)


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """accelerate keeps one state per process: each test builds its own accelerator."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def _cpu():
    return accelerate.Accelerator(cpu=True)


def _dataset(data):
    return TensorDataset(torch.as_tensor(data.X_train, dtype=torch.float32),
                         torch.as_tensor(data.y_train))


@pytest.mark.parametrize("strategy", ["small_loss", "dividemix"])
@pytest.mark.parametrize("kind", ["arrays", "dataset"])
def test_one_process_trains_the_same_model_as_without(strategy, kind, small_noisy_tabular):
    data = small_noisy_tabular
    X, y = (data.X_train, data.y_train) if kind == "arrays" else (_dataset(data), None)
    # the CPU on any host: device="auto" would train on a GPU where there is one
    plain = UnlockerClassifier(strategy=strategy, device="cpu", **FAST).fit(X, y)
    accelerated = UnlockerClassifier(strategy=strategy, accelerator=_cpu(), **FAST).fit(X, y)
    np.testing.assert_array_equal(accelerated.predict_proba(data.X_test),
                                  plain.predict_proba(data.X_test))
    assert accelerated.tau_ == plain.tau_
    np.testing.assert_array_equal(accelerated.label_issues_, plain.label_issues_)


def test_the_fitted_net_is_plain_and_pickles(small_noisy_tabular):
    data = small_noisy_tabular
    accelerator = _cpu()
    clf = UnlockerClassifier(strategy="dividemix", accelerator=accelerator, **FAST)
    clf.fit(_dataset(data))
    assert not accelerator._models and not accelerator._optimizers  # it holds no fit's objects
    assert not accelerator._dataloaders
    net = clf.net_
    assert net.accelerator is None
    assert type(net.optimizer_) is torch.optim.AdamW  # not accelerate's wrapper
    assert all(type(m).__module__.startswith("sklearn_unlocker") for m in net.networks())
    again = pickle.loads(pickle.dumps(clf.set_params(accelerator=None)))
    np.testing.assert_array_equal(again.predict(data.X_test), clf.predict(data.X_test))
    # warm start prepares the networks again and goes on
    clf.set_params(accelerator=accelerator, warm_start=True, max_epochs=2).fit(_dataset(data))
    assert len(clf.history_) == FAST["max_epochs"] + 2
    assert type(clf.net_.optimizer_) is torch.optim.AdamW


def test_the_accelerator_sets_the_precision(small_noisy_tabular):
    seen = set()

    class Probe(nn.Module):
        def __init__(self, n_features, n_classes):
            super().__init__()
            self.hidden, self.out = nn.Linear(n_features, 8), nn.Linear(8, n_classes)

        def forward(self, X):
            hidden = self.hidden(X)
            seen.add(hidden.dtype)
            return self.out(torch.relu(hidden))

    data = small_noisy_tabular
    accelerator = accelerate.Accelerator(cpu=True, mixed_precision="bf16")
    clf = UnlockerClassifier(Probe, accelerator=accelerator, **FAST)
    clf.fit(data.X_train, data.y_train)
    assert seen == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in clf.net_.module_.parameters())


@pytest.mark.parametrize("params,match", [
    ({"mixed_precision": "bfloat16"}, "the accelerator sets the precision"),
    ({"device": "cpu"}, "the accelerator places the model"),
    ({"strategy": "ebomlc"}, "meta-learning strategies"),
    ({"strategy": "dynamic_loss"}, "meta-learning strategies"),
])
def test_what_an_accelerator_cannot_do_is_an_error(params, match, small_noisy_tabular):
    data = small_noisy_tabular
    with pytest.raises(ValueError, match=match):
        UnlockerClassifier(accelerator=_cpu(), **params, **FAST).fit(data.X_train, data.y_train)


def test_uneven_batches_are_an_error(small_noisy_tabular):
    from accelerate import DataLoaderConfiguration

    data = small_noisy_tabular
    for config in [DataLoaderConfiguration(even_batches=False),
                   DataLoaderConfiguration(split_batches=True)]:
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=True)
        accelerator = accelerate.Accelerator(cpu=True, dataloader_config=config)
        with pytest.raises(ValueError, match="as many batches of batch_size"):
            UnlockerClassifier(accelerator=accelerator, **FAST).fit(data.X_train, data.y_train)


def test_gradient_accumulation_is_an_error(small_noisy_tabular):
    data = small_noisy_tabular
    accelerator = accelerate.Accelerator(cpu=True, gradient_accumulation_steps=2)
    with pytest.raises(ValueError, match="accumulates gradients over 2 steps"):
        UnlockerClassifier(accelerator=accelerator, **FAST).fit(data.X_train, data.y_train)


def test_an_accelerator_must_be_one(small_noisy_tabular):
    data = small_noisy_tabular
    with pytest.raises(InvalidParameterError, match="accelerator"):
        UnlockerClassifier(accelerator="cuda", **FAST).fit(data.X_train, data.y_train)


SCRIPT = textwrap.dedent('''
    import sys

    import numpy as np
    import torch
    from accelerate import Accelerator
    from skorch.callbacks import Callback, Checkpoint, LRScheduler
    from skorch.dataset import ValidSplit
    from torch import nn
    from torch.utils.data import TensorDataset

    from sklearn_unlocker import UnlockerClassifier
    from sklearn_unlocker.datasets import make_noisy_tabular
    from sklearn_unlocker.strategies import DivideMixStrategy


    class TrainedRows(Callback):
        def initialize(self):
            self.rows = 0
            return self

        def on_batch_end(self, net, batch=None, training=None, **kwargs):
            if training:
                self.rows += len(batch[1])


    class Counting(nn.Module):
        """Counts the rows it scores under inference mode (the score pass, prediction)."""
        scored = 0

        def __init__(self, n_features, n_classes):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(n_features, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                     nn.Linear(32, n_classes))

        def forward(self, X):
            if torch.is_inference_mode_enabled():
                Counting.scored += len(X)
            return self.net(X)


    out = sys.argv[1]
    data = make_noisy_tabular(n_samples_per_class=80, n_classes=4, n_features=6,
                              n_informative=4, n_test_per_class=20, imbalance_ratio=8,
                              noise_rate=0.3, random_state=0)
    accelerator = Accelerator(cpu=True)
    rank = accelerator.process_index
    n, epochs, warmup = len(data.y_train), 6, 2
    results = {}
    try:  # batching="original" would make the processes' passes differ: refused in each
        UnlockerClassifier(Counting, strategy=DivideMixStrategy(batching="original"),
                           accelerator=accelerator).fit(data.X_train, data.y_train)
        raise AssertionError("batching='original' was not refused")
    except ValueError as error:
        assert "batching='shared'" in str(error)
    for case in ["arrays", "dataset", "split", "dividemix"]:
        Counting.scored = 0
        params = dict(strategy="small_loss" if case in ("arrays", "split") else "dividemix",
                      max_epochs=epochs, warmup_epochs=warmup, batch_size=32,
                      callbacks=[("rows", TrainedRows())], accelerator=accelerator,
                      random_state=None if case == "split" else 0)
        X, y = data.X_train, data.y_train
        if case == "dataset":
            X, y = TensorDataset(torch.as_tensor(X, dtype=torch.float32),
                                 torch.as_tensor(y)), None
        if case == "split":  # random_state=None: the processes must still agree
            params["train_split"] = ValidSplit(0.25, stratified=True)
            params["callbacks"].append(Checkpoint(load_best=True, dirname=out + "/ckpt"))
        if case == "arrays":  # it watches train_loss, which each process must log alike
            params["callbacks"].append(LRScheduler("ReduceLROnPlateau", patience=0,
                                                   factor=0.5))
        clf = UnlockerClassifier(Counting, **params).fit(X, y)
        scored = Counting.scored
        results[case] = dict(
            proba=clf.predict_proba(data.X_test), issues=clf.label_issues_,
            train=clf.train_indices_, tau=np.array(clf.tau_),
            params=torch.cat([p.detach().flatten() for p in clf.net_.module_.parameters()]),
            trained_rows=np.array(dict(clf.net_.callbacks_)["rows"].rows),
            scored_rows=np.array(scored), train_loss=np.array(clf.history_[:, "train_loss"]),
            lr=np.array([group["lr"] for group in clf.net_.optimizer_.param_groups]))
    np.savez(f"{out}/rank{rank}.npz",
             **{f"{case}-{key}": np.asarray(value)
                for case, values in results.items() for key, value in values.items()})
    torch.distributed.destroy_process_group()
''')


def test_two_processes_share_the_work_and_end_with_one_model(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [np.load(tmp_path / f"rank{rank}.npz") for rank in range(2)]
    n, epochs, warmup = 112, 6, 2
    for key in ranks[0].files:
        if key.endswith(("trained_rows", "scored_rows")):
            continue
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key], err_msg=key)
    assert ranks[0]["arrays-lr"][0] < 3e-3  # the scheduler did lower it, alike in both
    for case in ["arrays", "dataset", "dividemix"]:
        trained = [int(r[f"{case}-trained_rows"]) for r in ranks]
        # each process trains on about half of every epoch's samples (2 batches of 32 of 4;
        # "dividemix": arrays, the shuffle order broadcast as DivideMix's draws drift apart)
        assert all(rows < 0.65 * n * epochs for rows in trained), trained
        assert sum(trained) >= n * epochs
        assert ranks[0][f"{case}-issues"].shape == (n,)
        # the score pass: once per epoch after the warm-up and once at the end, each process
        # scoring its half of the rows with each network (DivideMix has two); the module check
        # before training runs with grad, outside inference mode, so it does not count
        passes, networks = epochs - warmup + 1, 1 if case == "arrays" else 2
        scored = [int(r[f"{case}-scored_rows"]) for r in ranks]
        assert scored == [networks * passes * n // 2] * 2, scored
    assert len(ranks[0]["split-train"]) == 84  # a quarter held out, the same in each process


FAILING = textwrap.dedent('''
    import torch
    from accelerate import Accelerator
    from torch import nn

    from sklearn_unlocker import UnlockerClassifier
    from sklearn_unlocker.datasets import make_noisy_tabular

    accelerator = Accelerator(cpu=True)


    class Failing(nn.Module):
        """Fails in process 1 at its fifth training step, as a GPU out of memory would."""
        steps = 0

        def __init__(self, n_features, n_classes):
            super().__init__()
            self.linear = nn.Linear(n_features, n_classes)

        def forward(self, X):
            if self.training and torch.is_grad_enabled():
                Failing.steps += 1
                if accelerator.process_index == 1 and Failing.steps == 5:
                    raise RuntimeError("simulated out of memory")
            return self.linear(X)


    data = make_noisy_tabular(n_samples_per_class=80, n_classes=4, n_features=6,
                              n_informative=4, n_test_per_class=20, imbalance_ratio=8,
                              noise_rate=0.3, random_state=0)
    UnlockerClassifier(Failing, max_epochs=6, warmup_epochs=2, batch_size=32,
                       accelerator=accelerator, random_state=0).fit(data.X_train, data.y_train)
''')


def test_an_error_in_one_process_ends_the_run(tmp_path):
    """The failing process leaves without waiting for the others (which would wait forever)."""
    script = tmp_path / "fail.py"
    script.write_text(FAILING)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode != 0
    assert "simulated out of memory" in result.stderr
