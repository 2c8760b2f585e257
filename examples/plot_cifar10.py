"""
CIFAR-10 with torchvision: for machines with a network and a GPU
================================================================

The path a user with a network takes: :func:`~sklearn_unlocker.datasets.load_noisy_cifar`
downloads CIFAR-10 through torchvision (``download=True``), makes it long-tailed
(IR 100) and noisy (40% symmetric), and ``device="auto"`` trains on CUDA when there is
one. With DivideMix as the strategy (the paper's strongest base), random crops and
flips as augmentation, and a ResNet-style network this is the paper's setting; on a
CPU it is slow (about 40 images/s for a ResNet-18 here), so the default below is a
small CNN and few epochs.

A long run is where skorch's callbacks earn their keep: here a small *clean*
validation set (half of the clean test split; the other half stays the test set)
is given with ``train_split=predefined_split(...)``, an ``EpochScoring`` records its
balanced accuracy each epoch, ``Checkpoint(load_best=True)`` keeps the best epoch's
parameters, and ``LRScheduler`` anneals the learning rate. Validating on a split
of the *noisy* training labels instead would measure noisy accuracy.

The test suite runs this file on ``torchvision.datasets.FakeData`` (nothing
downloads there) with ``SKLEARN_UNLOCKER_SMOKE=1``.
"""

# %%
import os
import tempfile

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from skorch.callbacks import Checkpoint, EpochScoring, LRScheduler
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torchvision.transforms import v2

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import load_noisy_cifar
from sklearn_unlocker.modules import ConvNet

SMOKE = os.environ.get("SKLEARN_UNLOCKER_SMOKE") == "1"

data = load_noisy_cifar("cifar10", root=os.environ.get("CIFAR_ROOT", "./data"), download=True,
                        imbalance_ratio=5 if SMOKE else 100, noise="sym", noise_rate=0.4,
                        random_state=0)
print(data.DESCR.splitlines()[0])
print(data.DESCR.splitlines()[2])

# %%
# Half of the clean test split validates, the other half tests.
X_val, X_test, y_val, y_test = train_test_split(data.X_test, data.y_test, test_size=0.5,
                                                stratify=data.y_test, random_state=0)
max_epochs = 2 if SMOKE else (200 if torch.cuda.is_available() else 30)
checkpoints = os.environ.get("CHECKPOINT_DIR") or tempfile.mkdtemp()

# %%
augment = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])
clf = UnlockerClassifier(
    ConvNet,
    strategy="dividemix",
    augment=augment,
    classes=data.classes,
    max_epochs=max_epochs,
    warmup_epochs=1 if SMOKE else 10,
    batch_size=128,
    train_split=predefined_split(Dataset(X_val, y_val)),
    callbacks=[
        EpochScoring("balanced_accuracy", lower_is_better=False, name="valid_bacc"),
        # DivideMix trains two networks: the checkpoint keeps the second one too
        Checkpoint(monitor="valid_bacc_best", load_best=True, dirname=checkpoints,
                   f_module2="module2.pt"),
        LRScheduler("CosineAnnealingLR", T_max=max_epochs),
    ],
    device="auto",
    random_state=0,
    verbose=0 if SMOKE else 1,
)
clf.fit(data.X_train, data.y_train)
best = int(np.argmax(clf.history_[:, "valid_bacc"])) + 1
y_pred = clf.predict(X_test)
print(f"kept epoch {best} of {len(clf.history_)} (clean validation balanced accuracy "
      f"{max(clf.history_[:, 'valid_bacc']):.3f})")
print(f"test balanced accuracy {balanced_accuracy_score(y_test, y_pred):.3f} "
      f"(device {clf.device_}); tau {clf.tau_:.2f}, estimated IR {clf.imbalance_ratio_:.1f}")
