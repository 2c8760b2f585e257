"""Command line: ``python -m sklearn_unlocker demo``."""

import argparse
import sys
import time
import warnings

from sklearn.metrics import balanced_accuracy_score

from ._unlocker import UnlockerClassifier
from .datasets import NOISE_KINDS, load_noisy_digits
from .exceptions import UnlockerWarning
from .metrics import shot_accuracy


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_unlocker",
        description="sklearn-unlocker: classifiers for long-tailed, label-noisy data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="long-tailed noisy digits (offline): plain cross-entropy vs Unlocker"
    )
    demo.add_argument("--imbalance-ratio", type=float, default=50.0, help="true IR (default 50)")
    demo.add_argument("--noise", choices=[k for k in NOISE_KINDS if k != "matrix"], default="sym")
    demo.add_argument("--noise-rate", type=float, default=0.4, help="noise rate (default 0.4)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--data-only", action="store_true", help="show the data, train nothing")
    return parser


def demo(imbalance_ratio=50.0, noise="sym", noise_rate=0.4, seed=0, *, train=True, file=None):
    """Long-tailed noisy digits: what the noise did, then plain cross-entropy vs Unlocker.

    Parameters
    ----------
    imbalance_ratio : float, default=50.0
        True imbalance ratio.
    noise : str, default="sym"
        Noise kind (see :func:`sklearn_unlocker.datasets.make_noisy_labels`).
    noise_rate : float, default=0.4
        Noise rate.
    seed : int, default=0
        Random seed.
    train : bool, default=True
        Also train and compare the two classifiers.
    file : file-like, default=None
        Where to print; standard output by default.
    """
    file = sys.stdout if file is None else file
    data = load_noisy_digits(
        imbalance_ratio=imbalance_ratio, noise=noise, noise_rate=noise_rate, random_state=seed
    )
    print(data.DESCR, file=file)
    if not train:
        return
    print("\nSame MLP, same epochs; balanced accuracy on the balanced clean test split:", file=file)
    print(f"{'':<30} {'balanced':>9} {'many':>6} {'medium':>7} {'few':>6} {'tau':>6} "
          f"{'est. IR':>8} {'seconds':>8}", file=file)
    models = {
        "plain cross-entropy": UnlockerClassifier(strategy="none", logit_adjustment="none",
                                                  mixup_alpha=0.0, random_state=seed),
        "UnlockerClassifier()": UnlockerClassifier(random_state=seed),
        "logit_adjustment='unlocker'": UnlockerClassifier(logit_adjustment="unlocker",
                                                          random_state=seed),
    }
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnlockerWarning)
            model.fit(data.X_train, data.y_train)
        seconds = time.perf_counter() - start
        y_pred = model.predict(data.X_test)
        shots = shot_accuracy(data.y_test, y_pred, data.true_counts, labels=data.classes)
        learned = model.logit_adjustment == "unlocker"  # learns tau, re-estimates the prior
        tau = f"{model.tau_:6.2f}" if model.strategy != "none" else f"{'-':>6}"
        ir = f"{model.imbalance_ratio_:8.1f}" if learned else f"{'-':>8}"
        print(f"{name:<30} {balanced_accuracy_score(data.y_test, y_pred):9.3f} "
              f"{shots['many']:6.3f} {shots['medium']:7.3f} {shots['few']:6.3f} {tau} {ir} "
              f"{seconds:8.1f}", file=file)
    default, unlocker = models["UnlockerClassifier()"], models["logit_adjustment='unlocker'"]
    print(f"\nUnlockerClassifier() (DivideMix + logit adjustment) flags "
          f"{default.label_issues_.sum()} of {len(data.y_train)} labels as issues "
          f"({data.noise_mask.sum()} are wrong); with logit_adjustment='unlocker', estimated "
          f"imbalance ratio {unlocker.imbalance_ratio_:.1f} (true "
          f"{data.true_imbalance_ratio:.1f}, observed {data.observed_imbalance_ratio:.1f}).",
          file=file)


def main(argv=None):
    """Entry point of ``python -m sklearn_unlocker``."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        demo(args.imbalance_ratio, args.noise, args.noise_rate, args.seed,
             train=not args.data_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
