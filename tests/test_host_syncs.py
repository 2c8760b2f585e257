"""No avoidable host synchronisation in a training step, counted on the CPU.

``benchmarks.syncs.HostSyncCounter`` follows which tensors a CUDA fit would keep on
the device and counts the calls that would make the host wait for it. What is left
per training batch is skorch's own read of the loss for its history (``.item()``).
The counts are written in ``benchmarks/results/host_syncs.md``
(``python -m benchmarks syncs``).
"""

import pytest
import torch

from benchmarks.syncs import CASES, HostSyncCounter, count
from sklearn_unlocker.datasets import make_noisy_tabular

LEFT = {"read: item": 1.0}  # skorch's run_single_epoch: history.record_batch(loss.item())


@pytest.fixture(scope="module")
def data():
    data = make_noisy_tabular(n_samples_per_class=120, n_classes=4, n_test_per_class=20,
                              imbalance_ratio=5, random_state=0)
    return data.X_train, data.y_train


@pytest.mark.parametrize("label", sorted(CASES))
def test_a_training_batch_waits_for_the_device_only_for_skorchs_loss_read(label, data):
    X, y = data
    counter = count(CASES[label], X=X, y=y, max_epochs=3, warmup_epochs=1, batch_size=32)
    assert counter.batches > 0
    per_batch = {kind: n / counter.batches for kind, n in counter.in_batches.items()}
    assert per_batch.get("read: item", 0) == pytest.approx(1.0), per_batch
    # beyond skorch's read: at most the prior's copy in DivideMix's penalty, once an epoch
    extra = {kind: n for kind, n in counter.in_batches.items() if kind not in LEFT}
    assert sum(extra.values()) <= 3, extra  # max_epochs=3


def test_the_counter_sees_what_would_synchronise():
    counter = HostSyncCounter()
    weight = torch.nn.Parameter(torch.ones(3))
    host = torch.arange(3.0)
    with counter:
        counter.on_batch_begin(None, training=True)
        z = (weight * 2).detach()  # on the device: computed from a parameter
        float(z.sum())  # a read
        z[z > 1]  # a boolean mask over device data
        z[torch.tensor([0, 1])]  # host indices into device data
        host.to(weight.device)  # a blocking copy to the device
        host.to(weight.device, non_blocking=True)  # free from pinned memory
        host.sum().item()  # host values: free
        z.index_select(0, torch.tensor([0]).to(z.device, non_blocking=True))  # free
        counter.on_batch_end(None, training=True)
    assert dict(counter.in_batches) == {"read: __float__": 1, "boolean mask: __getitem__": 1,
                                        "host index: __getitem__": 1,
                                        "blocking copy to the device": 1}
    assert counter.batches == 1 and counter.per_batch == 4
