"""Streaming benchmark: an on-disk image folder, fitted as a Dataset, against a plain loop.

A folder of PNG images (generated once, ``--n`` of them in ``--classes`` class
folders, 3x32x32) is read through ``torchvision.datasets.ImageFolder`` with a
tensor transform, and fitted three ways, runs interleaved, medians over repeats:

- ``plain``: a hand-written torch loop with the passes a fit makes, through
  ``DataLoader`` s with the same workers and batch size: after the warm-up a
  no-grad score pass over the folder per epoch, then a shuffled training epoch,
  and a final score pass;
- ``ce``: ``UnlockerClassifier(strategy="none", logit_adjustment="none")`` on the
  folder: the same passes through the estimator, skorch and the streaming inputs;
- ``unlocker``: ``UnlockerClassifier()`` with its defaults on the folder.

Reported: seconds per epoch and their ratio to the plain loop, and each kind's
peak resident memory in a fresh process (after imports; nothing of the images is
held beforehand), beside what the images would take as a float32 array.
"""

import argparse
import multiprocessing
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.modules import ConvNet

from .overhead import _peak_rss_mib
from .run import RESULTS, command_line, header

TRANSFORM = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def make_image_folder(root, n, n_classes=10, seed=0):
    """``n`` 32x32 RGB PNGs in ``n_classes`` folders (a class colour plus noise); kept."""
    from PIL import Image

    root = Path(root)
    marker = root / f".complete-{n}-{n_classes}-{seed}"
    if marker.exists():
        return root
    rng = np.random.RandomState(seed)
    colours = rng.randint(40, 216, size=(n_classes, 3))
    for label in range(n_classes):
        (root / f"class_{label:02d}").mkdir(parents=True, exist_ok=True)
    labels = rng.randint(n_classes, size=n)
    for i, label in enumerate(labels):
        pixels = np.clip(rng.normal(colours[label], 60, size=(32, 32, 3)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(root / f"class_{label:02d}" / f"{i}.png")
    marker.touch()
    return root


def plain_loop(folder, *, epochs, warmup, batch_size, lr, workers, width, seed):
    """The reference: a plain torch loop over the folder with the passes a fit makes."""
    torch.manual_seed(seed)
    net = ConvNet(in_channels=3, n_classes=len(folder.classes), width=width)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    train = DataLoader(folder, batch_size=batch_size, shuffle=True, generator=generator,
                       num_workers=workers)
    score = DataLoader(folder, batch_size=1024, shuffle=False, num_workers=workers)

    def score_pass():
        net.eval()
        with torch.inference_mode():
            return torch.cat([net(x) for x, _ in score])

    for epoch in range(epochs):
        if epoch >= warmup:
            score_pass()
        net.train()
        for x, y in train:
            optimizer.zero_grad()
            F.cross_entropy(net(x), y).backward()
            optimizer.step()
    score_pass()
    return net


def _estimator(kind, *, epochs, warmup, batch_size, lr, workers, width, seed):
    params = dict(strategy="none", logit_adjustment="none") if kind == "ce" else {}
    return UnlockerClassifier(ConvNet, module__width=width, max_epochs=epochs,
                              warmup_epochs=warmup, batch_size=batch_size, lr=lr,
                              iterator_train__num_workers=workers,
                              iterator_valid__num_workers=workers, random_state=seed,
                              device="cpu", **params)


def _fit(kind, root, settings):
    folder = torchvision.datasets.ImageFolder(str(root), transform=TRANSFORM)
    start = time.perf_counter()
    if kind == "plain":
        plain_loop(folder, **settings)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _estimator(kind, **settings).fit(folder)
    return time.perf_counter() - start


def _fit_in_a_fresh_process(kind, root, settings, queue):
    torch.set_num_threads(settings.pop("threads"))
    before = _peak_rss_mib()
    _fit(kind, root, settings)
    queue.put((before, _peak_rss_mib()))


def peak_memory(kind, root, settings):
    """Peak resident memory (MiB) of a fresh process before and after one fit (a plain,
    non-daemonic process: the fit's DataLoader starts workers of its own)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_fit_in_a_fresh_process,
                              args=(kind, root, {**settings,
                                                 "threads": torch.get_num_threads()}, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks streaming", description=__doc__)
    parser.add_argument("--root", default="/tmp/sklearn_unlocker_images")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="streaming")
    parser.add_argument("--out", default=str(RESULTS), help="directory of the results file")
    args = parser.parse_args(argv)
    command = command_line("streaming", argv)
    start = time.perf_counter()
    root = make_image_folder(args.root, args.n, args.classes)
    made = time.perf_counter() - start
    settings = dict(epochs=args.epochs, warmup=args.warmup, batch_size=args.batch_size,
                    lr=3e-3, workers=args.workers, width=args.width, seed=0)
    kinds = ("plain", "ce", "unlocker")
    seconds = {kind: [] for kind in kinds}
    for _ in range(args.repeats):  # interleaved
        for kind in kinds:
            seconds[kind].append(_fit(kind, root, dict(settings)))
    per_epoch = {kind: statistics.median(v) / args.epochs for kind, v in seconds.items()}
    memory = {kind: peak_memory(kind, root, settings) for kind in kinds}
    array_mib = args.n * 3 * 32 * 32 * 4 / 2**20
    lines = [
        "# Streaming benchmark: an on-disk image folder", "",
        *[f"- {h}" for h in header(command, [0])],
        f"- {args.n} PNG images, 3x32x32, {args.classes} classes (made in {made:.0f} s), read "
        f"through `ImageFolder`; `ConvNet(width={args.width})`, {args.epochs} epochs "
        f"({args.warmup} warm-up), batch {args.batch_size}, AdamW 3e-3, {args.workers} "
        f"DataLoader worker(s), {args.repeats} repeats", "",
        "Seconds per epoch (median over repeats, runs interleaved in one process) and the ratio "
        "to the plain loop; peak resident memory of each kind in a fresh process after the fit, "
        "and its growth over the process's peak before it (imports done, no image read). The "
        f"images as a float32 array would take {array_mib:.0f} MiB.", "",
        "| kind | s / epoch | over plain | peak RSS MiB | growth during the fit MiB |",
        "|---|---|---|---|---|",
    ]
    for kind in kinds:
        before, after = memory[kind]
        ratio = per_epoch[kind] / per_epoch["plain"]
        lines.append(f"| {kind} | {per_epoch[kind]:.2f} | {ratio:.3f} | {after:.0f} "
                     f"| {after - before:.0f} |")
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(text)
    print(text)
    return per_epoch, memory


if __name__ == "__main__":
    main()
