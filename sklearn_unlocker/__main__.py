"""Command line: ``python -m sklearn_unlocker demo``."""

import argparse
import sys

from .datasets import NOISE_KINDS, load_noisy_digits


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_unlocker",
        description="sklearn-unlocker: classifiers for long-tailed, label-noisy data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="build long-tailed noisy digits (offline) and show what the noise did"
    )
    demo.add_argument("--imbalance-ratio", type=float, default=50.0, help="true IR (default 50)")
    demo.add_argument("--noise", choices=[k for k in NOISE_KINDS if k != "matrix"], default="sym")
    demo.add_argument("--noise-rate", type=float, default=0.4, help="noise rate (default 0.4)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser


def demo(imbalance_ratio=50.0, noise="sym", noise_rate=0.4, seed=0, file=None):
    """Print the long-tailed noisy digits benchmark: true vs observed counts and scenario.

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
    file : file-like, default=None
        Where to print; standard output by default.
    """
    file = sys.stdout if file is None else file
    data = load_noisy_digits(
        imbalance_ratio=imbalance_ratio, noise=noise, noise_rate=noise_rate, random_state=seed
    )
    print(data.DESCR, file=file)


def main(argv=None):
    """Entry point of ``python -m sklearn_unlocker``."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        demo(args.imbalance_ratio, args.noise, args.noise_rate, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
