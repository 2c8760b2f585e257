"""
Images: a CNN on long-tailed, noisy digits
==========================================

N-D input (``N x C x H x W``) works with any torch module. Here the bundled 8x8
digits as ``1 x 8 x 8`` images and :class:`~sklearn_unlocker.modules.ConvNet`, whose
``in_channels`` and ``n_classes`` are filled from the data. Augmentation takes any
per-sample transform, torchvision's v2 transforms included; each image gets its own draw.
"""

# %%
import os

from sklearn.metrics import balanced_accuracy_score
from torchvision.transforms import v2

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import load_noisy_digits
from sklearn_unlocker.metrics import shot_accuracy
from sklearn_unlocker.modules import ConvNet

SMOKE = os.environ.get("SKLEARN_UNLOCKER_SMOKE") == "1"

data = load_noisy_digits(imbalance_ratio=50, noise="t2h", noise_rate=0.4, as_images=True,
                         random_state=0)
print(data.DESCR.splitlines()[2])  # tail-to-head noise: the aggravate scenario

# %%
models = {
    "plain cross-entropy": UnlockerClassifier(ConvNet, strategy="none", logit_adjustment="none",
                                              classes=data.classes, random_state=0),
    "UnlockerClassifier": UnlockerClassifier(ConvNet, classes=data.classes, random_state=0),
    "UnlockerClassifier + augmentation": UnlockerClassifier(
        ConvNet, augment=v2.RandomAffine(degrees=10, translate=(0.1, 0.1)),
        classes=data.classes, random_state=0),
}
for name, model in models.items():
    model.set_params(max_epochs=3 if SMOKE else 40, warmup_epochs=1 if SMOKE else 5,
                     module__width=8 if SMOKE else 32)
    model.fit(data.X_train, data.y_train)
    y_pred = model.predict(data.X_test)
    shots = shot_accuracy(data.y_test, y_pred, data.true_counts, labels=data.classes)
    print(f"{name:36s} balanced {balanced_accuracy_score(data.y_test, y_pred):.3f}  "
          f"many {shots['many']:.2f}  medium {shots['medium']:.2f}  few {shots['few']:.2f}")
