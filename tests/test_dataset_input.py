"""fit(dataset): torch Datasets of (x, y) pairs, streamed and never materialised."""

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from torch.utils.data import Dataset, Subset, TensorDataset
from torchvision.transforms import v2

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)
from sklearn_unlocker._inputs import DatasetInputs
from sklearn_unlocker.modules import ConvNet

FAST = dict(max_epochs=3, warmup_epochs=1, random_state=0)


class CountingDataset(Dataset):
    """A TensorDataset that counts how often each sample is read."""

    def __init__(self, X, y):
        self.X, self.y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
        self.reads = 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        return self.X[i], self.y[i]


class _Inputs(Callback):
    """What the engine trains on, seen from inside the fit."""

    def on_epoch_begin(self, net, **kwargs):
        self.inputs = type(net.procedure.X).__name__


@pytest.mark.parametrize("Estimator,params", [
    (UnlockerClassifier, {}), (UnlockerClassifier, {"strategy": "dividemix"}),
    (UnlockerClassifier, {"strategy": "ebomlc"}), (DynamicLossClassifier, {}),
    (MetaLabelCorrectionClassifier, {"method": "mlc_d"}),
], ids=["unlocker", "dividemix", "unlocker-ebomlc", "dynamic-loss", "mlc-d"])
def test_a_dataset_fits_predicts_and_scores_as_arrays_do(Estimator, params, small_noisy_tabular):
    data = small_noisy_tabular
    train = CountingDataset(data.X_train, data.y_train)
    test = TensorDataset(torch.as_tensor(data.X_test, dtype=torch.float32),
                         torch.as_tensor(data.y_test))
    clf = Estimator(callbacks=[_Inputs()], **params, **FAST).fit(train)
    assert dict(clf.net_.callbacks_)["_Inputs"].inputs == "DatasetInputs"  # never a tensor
    proba = clf.predict_proba(test)
    assert proba.shape == (len(data.X_test), 4) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(clf.predict(test), clf.predict(data.X_test))  # same model, two inputs
    assert clf.score(test) == pytest.approx(clf.score(data.X_test, data.y_test))
    assert np.array_equal(clf.find_label_issues()["given_label"], data.y_train)
    # a few passes over the data per epoch (score pass, training), not a copy held
    assert train.reads <= 6 * FAST["max_epochs"] * len(train)


def test_labels_come_from_the_dataset(small_noisy_tabular):
    data = small_noisy_tabular
    names = np.array(["ant", "bee", "cat", "dog"])

    class Named(Dataset):
        def __len__(self):
            return len(data.y_train)

        def __getitem__(self, i):
            return torch.as_tensor(data.X_train[i], dtype=torch.float32), names[data.y_train[i]]

    clf = UnlockerClassifier(**FAST).fit(Named())
    assert clf.classes_.tolist() == names.tolist()
    assert set(clf.predict(data.X_test)) <= set(names)


def test_y_beside_a_dataset_is_an_error(small_noisy_tabular):
    data = small_noisy_tabular
    dataset = TensorDataset(torch.as_tensor(data.X_train), torch.as_tensor(data.y_train))
    with pytest.raises(ValueError, match="y must be None"):
        UnlockerClassifier(**FAST).fit(dataset, data.y_train)
    clf = UnlockerClassifier(**FAST).fit(dataset)
    with pytest.raises(ValueError, match="y must be None"):
        clf.score(dataset, data.y_train)
    with pytest.raises(ValueError, match="samples of shape"):
        clf.predict(TensorDataset(torch.zeros(3, 2), torch.zeros(3)))


def _image_folder(root, n_per_class=12):
    """Small RGB images in class folders, each class a different colour."""
    rng = np.random.RandomState(0)
    for label, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True)
        for k in range(n_per_class):
            pixels = np.clip(rng.normal(colour, 40, size=(8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{k}.png")


TO_TENSOR = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def test_an_image_folder_fits_and_predicts(tmp_path):
    _image_folder(tmp_path)
    folder = torchvision.datasets.ImageFolder(str(tmp_path), transform=TO_TENSOR)
    clf = UnlockerClassifier(ConvNet, module__width=4, train_split=ValidSplit(0.25),
                             strategy="none", iterator_train__num_workers=2,
                             iterator_valid__num_workers=2,
                             **{**FAST, "batch_size": 8}).fit(folder)
    assert clf.input_shape_ == (3, 8, 8) and clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict(folder).shape == (36,)
    assert "valid_loss" in clf.history_[-1]
    # scored against the folder's own labels (a wrong label source would not match)
    assert clf.score(folder) == np.mean(clf.predict(folder) == np.asarray(folder.targets))


def test_a_test_folder_with_other_classes_cannot_be_scored(tmp_path):
    _image_folder(tmp_path / "train", n_per_class=4)
    _image_folder(tmp_path / "test", n_per_class=2)
    shutil.rmtree(tmp_path / "test" / "class_1")  # class_2's images now carry label 1
    train = torchvision.datasets.ImageFolder(str(tmp_path / "train"), transform=TO_TENSOR)
    test = torchvision.datasets.ImageFolder(str(tmp_path / "test"), transform=TO_TENSOR)
    clf = UnlockerClassifier(ConvNet, module__width=4, strategy="none",
                             **{**FAST, "batch_size": 8}).fit(train)
    with pytest.raises(ValueError, match=r"classes \['class_0', 'class_2'\] are not the "
                                         r"training dataset's"):
        clf.score(test)
    full = torchvision.datasets.ImageFolder(str(tmp_path / "train"), transform=TO_TENSOR)
    subset = Subset(full, [0, 5, 11])  # the same classes: scored, on the subset's labels
    labels = np.asarray(full.targets)[[0, 5, 11]]
    assert clf.score(subset) == np.mean(clf.predict(subset) == labels)


def test_a_dataset_that_does_not_give_tensors_is_named(tmp_path):
    _image_folder(tmp_path, n_per_class=2)
    folder = torchvision.datasets.ImageFolder(str(tmp_path))  # PIL images, no transform
    with pytest.raises(TypeError, match=r"must be tensors or arrays.*ToImage"):
        UnlockerClassifier(**FAST).fit(folder)


def test_dataset_inputs_gather_and_stream():
    dataset = TensorDataset(torch.arange(10.0)[:, None], torch.zeros(10))
    inputs = DatasetInputs(dataset, indices=np.array([9, 3, 5, 0]))
    assert inputs[torch.tensor([1, 3])].squeeze(1).tolist() == [3.0, 0.0]
    assert inputs[:0].shape == (0, 1)
    streamed = torch.cat(list(inputs.batches(3))).squeeze(1).tolist()
    assert streamed == [9.0, 3.0, 5.0, 0.0]
    assert inputs.subset([2, 0])[:].squeeze(1).tolist() == [5.0, 9.0]


LAZY = textwrap.dedent('''
    import resource, sys
    import torch
    from torch.utils.data import Dataset
    from sklearn_unlocker import UnlockerClassifier
    from sklearn_unlocker.modules import ConvNet

    class LazyImages(Dataset):
        """n 3x32x32 images made from their index when read: nothing is stored."""
        def __init__(self, n):
            self.n, self.targets = n, [(i * 7919) % 10 for i in range(n)]
        def __len__(self):
            return self.n
        def __getitem__(self, i):
            x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(i)) * 0.5
            x[self.targets[i] % 3] += 0.5
            return x, self.targets[i]

    torch.set_num_threads(1)
    params = dict(module=ConvNet, module__width=8, max_epochs=2, warmup_epochs=1,
                  batch_size=256, random_state=0)
    UnlockerClassifier(**params).fit(LazyImages(1100))  # kernels and allocator warmed up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    UnlockerClassifier(**params).fit(LazyImages(int(sys.argv[1])))
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
''')


@pytest.mark.slow
def test_twenty_thousand_lazy_images_fit_in_a_fraction_of_their_size():
    """20,000 3x32x32 float32 images are 234 MiB materialised; the fit's peak memory
    grows by well under half of that (the score pass keeps only 20,000 x 10 logits)."""
    result = subprocess.run([sys.executable, "-c", LAZY, "20000"], capture_output=True,
                            text=True, check=True)
    grown = float(result.stdout.strip().splitlines()[-1])
    assert grown < 0.5 * 20000 * 3 * 32 * 32 * 4 / 2**20, grown


def test_labels_are_those_the_dataset_yields(tmp_path):
    _image_folder(tmp_path, n_per_class=4)
    names = ["red", "green", "blue"]
    folder = torchvision.datasets.ImageFolder(str(tmp_path), transform=TO_TENSOR,
                                              target_transform=lambda t: names[t])
    clf = UnlockerClassifier(strategy="none", **FAST).fit(folder)
    assert sorted(clf.classes_) == sorted(names)

    class Noisy(torchvision.datasets.ImageFolder):  # clean targets, other labels served
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x, (y + 1) % 3

    noisy = Noisy(str(tmp_path), transform=TO_TENSOR)
    served = [noisy[i][1] for i in range(len(noisy))]
    clf = UnlockerClassifier(strategy="none", **FAST).fit(noisy)
    assert np.array_equal(clf.find_label_issues()["given_label"], served)


def test_float64_inputs_and_global_random_state(small_noisy_tabular):
    data = small_noisy_tabular

    class Jittered(Dataset):  # float64 samples and a transform that draws from torch's RNG
        def __len__(self):
            return len(data.y_train)

        def __getitem__(self, i):
            x = torch.as_tensor(data.X_train[i], dtype=torch.float64)
            return x + 0.01 * torch.randn(x.shape, dtype=torch.float64), int(data.y_train[i])

    before = torch.random.get_rng_state()
    clf = UnlockerClassifier(**FAST).fit(Jittered())
    clf.predict(Jittered())
    clf.score(Jittered())
    assert torch.equal(torch.random.get_rng_state(), before)


def test_inputs_index_like_a_tensor_and_iterable_datasets_are_refused():
    dataset = TensorDataset(torch.arange(4.0)[:, None], torch.zeros(4))
    inputs = DatasetInputs(dataset)
    assert inputs[torch.tensor([True, False, True, False])].squeeze(1).tolist() == [0.0, 2.0]
    assert inputs[2].shape == (1,)

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield torch.zeros(2), 0

    with pytest.raises(TypeError, match="IterableDataset"):
        UnlockerClassifier(**FAST).fit(Stream())


def test_dividemix_reads_a_dataset_once_per_score_pass(small_noisy_tabular):
    data = small_noisy_tabular
    clf = UnlockerClassifier(strategy="dividemix", **FAST).fit(data.X_train, data.y_train)
    test = CountingDataset(data.X_test, data.y_test)
    clf.predict(test)  # both networks on each batch of one pass
    assert test.reads == len(test) + 1  # + the shape probe's first row


def test_a_folders_class_names_and_a_folder_of_other_classes(tmp_path):
    _image_folder(tmp_path / "train", n_per_class=4)
    train = torchvision.datasets.ImageFolder(str(tmp_path / "train"), transform=TO_TENSOR)
    clf = UnlockerClassifier(strategy="none", **FAST).fit(train)
    assert clf.class_names_.tolist() == train.classes  # label i is the folder classes[i]
    assert set(clf.class_names_[clf.predict(train)]) <= set(train.classes)
    other = tmp_path / "other"
    for name in [*train.classes[:2], "purple"]:  # another class list: other label numbers
        (other / name).mkdir(parents=True)
        for path in sorted((tmp_path / "train" / train.classes[0]).iterdir())[:2]:
            (other / name / path.name).write_bytes(path.read_bytes())
    folder = torchvision.datasets.ImageFolder(str(other), transform=TO_TENSOR)
    for method in (clf.predict, clf.predict_proba, clf.score):
        with pytest.raises(ValueError, match="not the training dataset's"):
            method(folder)
