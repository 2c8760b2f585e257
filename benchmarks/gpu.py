"""First contact with a GPU: everything a CPU cannot check, in one command of a few minutes.

``python -m benchmarks gpu`` on a machine with CUDA:

1. the CUDA tests (``tests/test_cuda.py``, and every other test marked for CUDA);
2. a fit on the GPU of each estimator (the defaults, small-loss + Unlocker, every
   meta strategy, both meta faces), then a warm start; their pickles loaded and
   predicted in a process that sees no CUDA device (``CUDA_VISIBLE_DEVICES=""``);
3. bfloat16 autocast, and streaming a Dataset with two workers and pinned memory;
4. ``torch.cuda.set_sync_debug_mode("warn")`` during fits of the defaults,
   DivideMix + Unlocker and the meta strategies: synchronising calls per training
   batch (the CPU model of the same count: ``python -m benchmarks syncs``);
5. the same ``random_state`` twice with ``ConvNet``: bit-identical or not;
6. fit time per epoch on CIFAR-shaped random images (3 x 32 x 32, 10 classes,
   ``ConvNet``): a plain torch loop, small-loss + Unlocker and the defaults
   (DivideMix + LA), whole fits over the same epochs, side by side in one run.

It writes ``benchmarks/results/gpu.md``. Each check reports ``ok``, ``failed``
(with the error) or ``skipped`` (with why), and the command goes on after a
failure, so one run shows everything. ``--smoke`` runs the same code on tiny data
(on the CPU where there is no GPU, where the CUDA-only parts are skipped) and
writes to ``--out``; the test suite runs it.
"""

import argparse
import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback
from torch import nn
from torch.utils.data import TensorDataset

from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
    __version__,
)
from sklearn_unlocker.modules import ConvNet

from .run import machine

ROOT = Path(__file__).parent.parent
RESULTS = ROOT / "benchmarks" / "results"

ESTIMATORS = {
    "default (DivideMix + LA)": lambda **kw: UnlockerClassifier(**kw),
    "small-loss + Unlocker": lambda **kw: UnlockerClassifier(
        strategy="small_loss", logit_adjustment="unlocker", **kw),
    "DivideMix + Unlocker": lambda **kw: UnlockerClassifier(logit_adjustment="unlocker", **kw),
    "mlc": lambda **kw: UnlockerClassifier(strategy="mlc", **kw),
    "mlc_d": lambda **kw: UnlockerClassifier(strategy="mlc_d", **kw),
    "ebomlc": lambda **kw: UnlockerClassifier(strategy="ebomlc", **kw),
    "dynamic_loss": lambda **kw: UnlockerClassifier(strategy="dynamic_loss", **kw),
    "MetaLabelCorrectionClassifier": lambda **kw: MetaLabelCorrectionClassifier(**kw),
    "DynamicLossClassifier": lambda **kw: DynamicLossClassifier(**kw),
}


class Report:
    """The checks' outcomes, as rows of a table."""

    def __init__(self):
        self.rows = []

    @contextlib.contextmanager
    def check(self, name):
        start = time.perf_counter()
        row = {"check": name, "status": "ok", "detail": ""}
        self.rows.append(row)
        try:
            with warnings.catch_warnings():  # random labels: the fits' warnings are expected
                warnings.simplefilter("ignore")
                yield row
        except Skip as skip:
            row["status"], row["detail"] = "skipped", str(skip)
        except Exception as error:  # a first run reports every failure, then goes on
            row["status"] = "failed"
            row["detail"] = f"{type(error).__name__}: {error}".replace("\n", " ")[:400]
            traceback.print_exc()
        row["seconds"] = time.perf_counter() - start
        print(f"[{row['status']}] {name} ({row['seconds']:.1f} s) {row['detail']}", flush=True)

    @property
    def failed(self):
        return [row for row in self.rows if row["status"] == "failed"]


class Skip(Exception):
    """A check that cannot run here (e.g. it needs CUDA)."""


def _cuda():
    if not torch.cuda.is_available():
        raise Skip("no CUDA device")


def images(n, size, n_classes=10, seed=0):
    """Random CIFAR-shaped images and labels (no download: the command runs offline)."""
    rng = np.random.RandomState(seed)
    return (rng.normal(size=(n, 3, size, size)).astype(np.float32),
            rng.randint(0, n_classes, size=n))


def check_tests(report, smoke):
    with report.check("CUDA tests (pytest tests/test_cuda.py and the requires_cuda tests)") as row:
        _cuda()
        files = ["tests/test_cuda.py", "tests/test_estimator.py"]
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *files, "-k", "cuda"], cwd=ROOT, capture_output=True,
                              text=True)
        row["detail"] = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode != 0:
            print(done.stdout[-5000:], done.stderr[-2000:])
            raise RuntimeError(row["detail"])


def _load_without_cuda(models, X):
    """Each pickled model's predictions on ``X`` in one process that sees no CUDA device."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for i, model in enumerate(models):
            (folder / f"{i}.pkl").write_bytes(pickle.dumps(model))
        np.save(folder / "X.npy", X)
        script = textwrap.dedent(f"""
            import pickle, warnings, numpy as np, torch
            assert not torch.cuda.is_available()
            X = np.load({str(folder / "X.npy")!r})
            for i in range({len(models)}):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clf = pickle.loads(open(f"{folder}/{{i}}.pkl", "rb").read())
                np.save(f"{folder}/{{i}}.npy", clf.predict_proba(X))
        """)
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT)
        return [np.load(folder / f"{i}.npy") for i in range(len(models))]


def check_estimators(report, device, smoke):
    X, y = images(64 if smoke else 2048, 8 if smoke else 32)
    epochs = dict(max_epochs=2, warmup_epochs=1) if smoke else dict(max_epochs=3, warmup_epochs=1)
    fitted = {}
    for name, make in ESTIMATORS.items():
        with report.check(f"fit, then warm start: {name}") as row:
            clf = make(module=ConvNet, device=device, random_state=0, **epochs).fit(X, y)
            clf.set_params(warm_start=True, max_epochs=1).fit(X, y)
            fitted[name] = clf
            row["detail"] = f"{len(clf.history_)} epochs on {clf.device_}"
    with report.check("pickled on the fit's device, loaded where there is no CUDA") as row:
        loaded = _load_without_cuda(list(fitted.values()), X[:32])
        gaps = {name: float(np.abs(proba - clf.predict_proba(X[:32])).max())
                for (name, clf), proba in zip(fitted.items(), loaded, strict=True)}
        row["detail"] = (f"{len(gaps)} estimators; largest difference of a probability "
                         f"{max(gaps.values()):.1e}")
        if max(gaps.values()) > 1e-3:
            raise AssertionError(f"{row['detail']}: {gaps}")


def check_precision_and_streaming(report, device, smoke):
    X, y = images(64 if smoke else 2048, 8 if smoke else 32)
    epochs = dict(max_epochs=2, warmup_epochs=1)
    with report.check("bfloat16 autocast (the defaults)") as row:
        _cuda()
        if not torch.cuda.is_bf16_supported(including_emulation=False):
            raise Skip(f"{torch.cuda.get_device_name()} does not compute in bfloat16")
        clf = UnlockerClassifier(ConvNet, device=device, mixed_precision="bfloat16",
                                 random_state=0, **epochs).fit(X, y)
        row["detail"] = f"finite: {bool(np.isfinite(clf.predict_proba(X[:64])).all())}"
    with report.check("streaming a Dataset: 2 workers, pinned memory") as row:
        dataset = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
        pin = torch.cuda.is_available()
        clf = UnlockerClassifier(ConvNet, device=device, random_state=0,
                                 iterator_train__num_workers=2, iterator_train__pin_memory=pin,
                                 iterator_valid__num_workers=2, **epochs).fit(dataset)
        row["detail"] = f"pin_memory={pin}; accuracy on the stream {clf.score(dataset):.2f}"


class _Batches(Callback):
    """Counts training batches and the sync-debug warnings raised inside them."""

    def __init__(self, caught):
        self.caught, self.batches, self.in_batches, self._mark = caught, 0, 0, None

    def __deepcopy__(self, memo):
        return self

    def on_batch_begin(self, net, training=None, **kwargs):
        self._mark = len(self.caught) if training else None

    def on_batch_end(self, net, training=None, **kwargs):
        if training and self._mark is not None:
            self.batches += 1
            self.in_batches += sum("synchroniz" in str(w.message)
                                   for w in self.caught[self._mark:])


def check_syncs(report, device, smoke):
    X, y = images(256 if smoke else 4096, 8 if smoke else 32)
    names = ["default (DivideMix + LA)", "DivideMix + Unlocker", "mlc", "mlc_d", "ebomlc",
             "dynamic_loss"]
    for name in names:
        with report.check(f"synchronisations per training batch: {name}") as row:
            _cuda()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                counter = _Batches(caught)
                clf = ESTIMATORS[name](module=ConvNet, device=device, random_state=0,
                                       max_epochs=2, warmup_epochs=1, callbacks=[counter])
                torch.cuda.set_sync_debug_mode("warn")
                try:
                    clf.fit(X, y)
                finally:
                    torch.cuda.set_sync_debug_mode(0)
            row["detail"] = (f"{counter.in_batches / max(counter.batches, 1):.1f} per batch "
                             f"({counter.batches} batches; CPU model: 1, skorch's loss read)")


def check_reproducible(report, device, smoke):
    X, y = images(128 if smoke else 1024, 8 if smoke else 32)
    with report.check("same random_state twice, ConvNet (cuDNN deterministic)") as row:
        fits = [UnlockerClassifier(ConvNet, device=device, random_state=0, max_epochs=2,
                                   warmup_epochs=1).fit(X, y).predict_proba(X) for _ in range(2)]
        gap = float(np.abs(fits[0] - fits[1]).max())
        row["detail"] = "bit-identical" if gap == 0 else f"differs by up to {gap:.1e}"


def _plain_loop(X, y, device, epochs, batch_size=128, lr=1e-3):
    """Cross-entropy with AdamW over the in-memory tensors: the floor a fit is held to."""
    torch.manual_seed(0)
    module = ConvNet(3, 10).to(device)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr)
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    pin = torch.device(device).type == "cuda"
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for rows in torch.randperm(len(X_t)).split(batch_size):
            xb, yb = X_t[rows], y_t[rows]  # the gather, pinned as the estimators pin it
            if pin:
                xb, yb = xb.pin_memory(), yb.pin_memory()
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = nn.functional.cross_entropy(module(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()  # as skorch logs it
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def check_epoch_times(report, device, smoke):
    X, y = images(256 if smoke else 20000, 8 if smoke else 32)
    epochs = 2 if smoke else 6
    results = {}
    with report.check("fit time per epoch, CIFAR-shaped random images") as row:
        # whole fits over the same epochs (the estimators' score passes, selection and outer
        # steps included, which skorch's per-epoch `dur` leaves out)
        results["plain torch loop"] = sum(_plain_loop(X, y, device, epochs)) / epochs
        for name, params in [("small-loss + Unlocker", dict(strategy="small_loss",
                                                            logit_adjustment="unlocker")),
                             ("default (DivideMix + LA)", {})]:
            clf = UnlockerClassifier(ConvNet, device=device, random_state=0, max_epochs=epochs,
                                     warmup_epochs=1, batch_size=128, **params).fit(X, y)
            results[name] = clf.timings_["fit"] / epochs
        base = results["plain torch loop"]
        row["detail"] = "; ".join(f"{name} {t:.2f} s ({t / base:.2f}x)"
                                  for name, t in results.items())
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data; the CPU where there is no GPU")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default: benchmarks/results/gpu.md; required "
                             "with --smoke)")
    args = parser.parse_args(argv)
    if args.smoke and args.out is None:
        parser.error("--smoke writes a smoke report: give --out")
    if not args.smoke and not torch.cuda.is_available():
        parser.error("no CUDA device here: run with --smoke --out FILE")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report = Report()
    start = time.perf_counter()
    check_tests(report, args.smoke)
    check_estimators(report, device, args.smoke)
    check_precision_and_streaming(report, device, args.smoke)
    check_syncs(report, device, args.smoke)
    check_reproducible(report, device, args.smoke)
    check_epoch_times(report, device, args.smoke)
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    lines = [f"# First contact with a GPU{' (smoke run)' if args.smoke else ''}", "",
             f"- command: `python -m benchmarks gpu{' --smoke' if args.smoke else ''}`",
             f"- sklearn-unlocker {__version__}", f"- machine: {machine()}; {name}",
             f"- date: {time.strftime('%Y-%m-%d')}; {time.perf_counter() - start:.0f} s", "",
             "| check | status | detail | seconds |", "|---|---|---|---|"]
    lines += [f"| {r['check']} | {r['status']} | {r['detail']} | {r['seconds']:.1f} |"
              for r in report.rows]
    out = args.out or RESULTS / "gpu.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}; {len(report.failed)} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
