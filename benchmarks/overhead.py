"""Cost benchmark: what Unlocker and the estimator wrapper add to a fit.

Measured side by side in one process, runs interleaved, medians over repeats:

- ``plain``: a hand-written torch loop doing the same passes as a fit: after the
  warm-up, one no-grad score pass over the training set per epoch, then a
  training epoch of shuffled mini-batches (same module, data, optimiser, epochs,
  batch size), and a final score pass.
- ``ce``: ``UnlockerClassifier(strategy="none", logit_adjustment="none")``, the
  same passes through the estimator and skorch (the wrapper's overhead).
- ``unlocker``: ``UnlockerClassifier()`` with its defaults.

Unlocker's own share (outer step for tau, EMA, D_bc, prior estimate) is timed
directly by timers around that code (``timings_["unlocker"]``), not taken as a
difference of fit times.
"""

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import make_noisy_tabular
from sklearn_unlocker.modules import MLP

from .run import RESULTS, header

DEFAULTS = UnlockerClassifier().get_params()


def plain_loop(X, y, n_classes, *, epochs, warmup, batch_size, lr, seed):
    """The reference: a plain torch loop with the passes a fit makes."""
    torch.manual_seed(seed)
    X, y = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.long)
    module = MLP(X.shape[1], n_classes)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)

    def score_pass():
        module.eval()
        with torch.inference_mode():
            return torch.cat([module(X[i:i + 1024]) for i in range(0, len(X), 1024)])

    for epoch in range(epochs):
        if epoch >= warmup:
            score_pass()
        module.train()
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(module(X[rows]), y[rows])
            loss.backward()
            optimizer.step()
    score_pass()
    return module


def measure(n_samples_per_class, repeats, seed=0):
    data = make_noisy_tabular(n_samples_per_class=n_samples_per_class, imbalance_ratio=50,
                              noise_rate=0.4, n_test_per_class=10, random_state=seed)
    X, y = data.X_train, data.y_train
    C = len(data.classes)
    times = {"plain": [], "ce": [], "unlocker": []}
    shares, breakdowns = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        plain_loop(X, y, C, epochs=DEFAULTS["max_epochs"], warmup=DEFAULTS["warmup_epochs"],
                   batch_size=DEFAULTS["batch_size"], lr=DEFAULTS["lr"], seed=seed)
        times["plain"].append(time.perf_counter() - start)
        for name, params in (("ce", dict(strategy="none", logit_adjustment="none")),
                             ("unlocker", {})):
            clf = UnlockerClassifier(random_state=seed, device="cpu", **params)
            start = time.perf_counter()
            clf.fit(X, y)
            times[name].append(time.perf_counter() - start)
            if name == "unlocker":
                shares.append(clf.timings_["unlocker"] / clf.timings_["fit"])
                breakdowns.append({k: v / clf.timings_["fit"] for k, v in clf.timings_.items()})
    median = {k: statistics.median(v) for k, v in times.items()}
    breakdown = {k: statistics.median(b[k] for b in breakdowns) for k in breakdowns[0]}
    return {
        "n_train": len(y), "plain_s": median["plain"], "ce_s": median["ce"],
        "unlocker_s": median["unlocker"], "ce_over_plain": median["ce"] / median["plain"],
        "unlocker_over_plain": median["unlocker"] / median["plain"],
        "unlocker_share": statistics.median(shares),
        "max_unlocker_share": max(shares),
        "score_pass_share": breakdown["score_pass"], "selection_share": breakdown["selection"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks overhead", description=__doc__)
    parser.add_argument("--sizes", nargs="+", type=int, default=[600, 1200, 2400],
                        help="clean samples per class before the long tail (N, 2N, 4N)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--name", default="overhead")
    args = parser.parse_args(argv)
    command = "python -m benchmarks overhead " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    rows = [measure(size, args.repeats) for size in args.sizes]
    lines = ["# Cost benchmark", "", *[f"- {h}" for h in header(command, list(range(1)))],
             f"- model: default MLP (256, 256), {DEFAULTS['max_epochs']} epochs "
             f"({DEFAULTS['warmup_epochs']} warm-up), batch {DEFAULTS['batch_size']}, "
             f"synthetic tabular IR 50, symmetric 40%", "",
             "Medians over repeats, runs interleaved in one process. `plain`: hand-written torch "
             "loop with the same passes; `ce`: the estimator with selection and adjustment off; "
             "`unlocker`: defaults. Unlocker share: timers around the outer step, EMA, D_bc and "
             "prior estimate, over the whole fit.", "",
             "| training samples | plain s | ce s | unlocker s | ce / plain | unlocker / plain | "
             "Unlocker share (median, max) | score pass share | selection share |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['n_train']} | {r['plain_s']:.2f} | {r['ce_s']:.2f} | {r['unlocker_s']:.2f} | "
            f"{r['ce_over_plain']:.2f} | {r['unlocker_over_plain']:.2f} | "
            f"{r['unlocker_share']:.2%}, {r['max_unlocker_share']:.2%} | "
            f"{r['score_pass_share']:.1%} | {r['selection_share']:.1%} |")
    text = "\n".join(lines) + "\n"
    Path(RESULTS).mkdir(exist_ok=True)
    (Path(RESULTS) / f"{args.name}.md").write_text(text)
    print(text)
    return rows


if __name__ == "__main__":
    main()
