"""Cost benchmark: what Unlocker and the estimator wrapper add to a fit.

Measured side by side in one process, runs interleaved, medians over repeats:

- ``plain``: a hand-written torch loop doing the same passes as a fit: after the
  warm-up, one no-grad score pass over the training set per epoch, then a
  training epoch of shuffled mini-batches (same module class and size, data,
  optimiser, learning rate, epochs, batch size), and a final score pass.
- ``ce``: ``UnlockerClassifier(strategy="none", logit_adjustment="none")``: the
  same passes through the estimator and skorch (the wrapper's overhead).
- ``unlocker``: ``UnlockerClassifier()`` with its defaults.

Unlocker's own share (outer step for tau, EMA, D_bc, prior estimate) is timed
directly by timers around that code (``timings_["unlocker"]``), not taken as a
difference of fit times; so are the score passes and the strategy's selection.
Peak memory: each kind of fit once more in a fresh process, reporting the
process's peak resident memory after the fit, beside its peak after imports and
data loading (which torch's libraries dominate on these small workloads).
"""

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.datasets import load_noisy_digits, load_noisy_mnist1d, make_noisy_tabular
from sklearn_unlocker.modules import MLP, ConvNet, ConvNet1d

from .run import RESULTS, command_line, header

DEFAULTS = UnlockerClassifier().get_params()


def _tabular(n):
    return lambda: make_noisy_tabular(n_samples_per_class=n, n_test_per_class=10,
                                      imbalance_ratio=50, noise_rate=0.4, random_state=0)


#: name -> (data factory, module class, module keyword arguments)
WORKLOADS = {
    "digits-mlp": (lambda: load_noisy_digits(random_state=0), MLP, {}),
    "tabular-mlp-N": (_tabular(600), MLP, {}),
    "tabular-mlp-2N": (_tabular(1200), MLP, {}),
    "tabular-mlp-4N": (_tabular(2400), MLP, {}),
    "digits-cnn": (lambda: load_noisy_digits(as_images=True, random_state=0), ConvNet, {}),
    "mnist1d-cnn": (lambda: load_noisy_mnist1d(n_samples=10000, as_images=True,
                                               random_state=0), ConvNet1d, {}),
}


def _module_kwargs(module, X, n_classes, extra):
    if module is MLP:
        return {"n_features": int(np.prod(X.shape[1:])), "n_classes": n_classes, **extra}
    return {"in_channels": X.shape[1], "n_classes": n_classes, **extra}


def plain_loop(X, y, module, module_kwargs, *, epochs, warmup, batch_size, lr, seed):
    """The reference: a plain torch loop with the passes a fit makes."""
    torch.manual_seed(seed)
    X, y = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.long)
    net = module(**module_kwargs)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)

    def score_pass():
        net.eval()
        with torch.inference_mode():
            return torch.cat([net(X[i:i + 1024]) for i in range(0, len(X), 1024)])

    for epoch in range(epochs):
        if epoch >= warmup:
            score_pass()
        net.train()
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(net(X[rows]), y[rows])
            loss.backward()
            optimizer.step()
    score_pass()
    return net


def _peak_rss_mib():
    """This process's peak resident memory in MiB.

    ``VmHWM`` belongs to the process's own address space; ``ru_maxrss`` would do
    elsewhere, but on Linux it survives ``execve`` and so starts a spawned child at
    its parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit_in_this_process(workload, kind, seed):
    """Peak resident memory (MiB) before and after a fit, run in a fresh process."""
    make_data, module, extra = WORKLOADS[workload]
    data = make_data()
    X, y = data.X_train, data.y_train
    before = _peak_rss_mib()
    if kind == "plain":
        plain_loop(X, y, module, _module_kwargs(module, X, len(data.classes), extra),
                   epochs=DEFAULTS["max_epochs"], warmup=DEFAULTS["warmup_epochs"],
                   batch_size=DEFAULTS["batch_size"], lr=DEFAULTS["lr"], seed=seed)
    else:
        params = dict(strategy="none", logit_adjustment="none") if kind == "ce" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            UnlockerClassifier(module, random_state=seed, device="cpu", **params).fit(X, y)
    return before, _peak_rss_mib()


def peak_memory(workload, seed=0):
    """Peak resident memory of a fresh process after each kind of fit (MiB), and before."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    out = {}
    for kind in ("plain", "ce", "unlocker"):
        with context.Pool(1) as pool:
            out["baseline"], out[kind] = pool.apply(_fit_in_this_process, (workload, kind, seed))
    return out


def measure(workload, repeats, seed=0):
    """Median seconds and shares of one workload."""
    make_data, module, extra = WORKLOADS[workload]
    data = make_data()
    X, y = data.X_train, data.y_train
    kwargs = _module_kwargs(module, X, len(data.classes), extra)
    times = {"plain": [], "ce": [], "unlocker": []}
    shares = {"unlocker": [], "score_pass": [], "selection": []}
    for repeat in range(repeats + 1):  # round 0 warms the process up and is not recorded
        start = time.perf_counter()
        plain_loop(X, y, module, kwargs, epochs=DEFAULTS["max_epochs"],
                   warmup=DEFAULTS["warmup_epochs"], batch_size=DEFAULTS["batch_size"],
                   lr=DEFAULTS["lr"], seed=seed)
        plain_seconds = time.perf_counter() - start
        if repeat:
            times["plain"].append(plain_seconds)
        for name, params in (("ce", dict(strategy="none", logit_adjustment="none")),
                             ("unlocker", {})):
            clf = UnlockerClassifier(module, random_state=seed, device="cpu", **params,
                                     **{f"module__{k}": v for k, v in extra.items()})
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(X, y)
            if not repeat:
                continue
            times[name].append(time.perf_counter() - start)
            if name == "unlocker":
                for key in shares:
                    shares[key].append(clf.timings_[key] / clf.timings_["fit"])
    median = {k: statistics.median(v) for k, v in times.items()}
    memory = peak_memory(workload, seed)
    return {
        **{f"{k}_mib": v for k, v in memory.items()},
        "workload": workload, "n_train": len(y), **{f"{k}_s": v for k, v in median.items()},
        "ce_over_plain": median["ce"] / median["plain"],
        "unlocker_over_plain": median["unlocker"] / median["plain"],
        **{f"{k}_share": statistics.median(v) for k, v in shares.items()},
        "max_unlocker_share": max(shares["unlocker"]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks overhead", description=__doc__)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--name", default="overhead")
    args = parser.parse_args(argv)
    command = command_line("overhead", argv)
    rows = [measure(workload, args.repeats) for workload in args.workloads]
    lines = ["# Cost benchmark", "", *[f"- {h}" for h in header(command, [0])],
             f"- {DEFAULTS['max_epochs']} epochs ({DEFAULTS['warmup_epochs']} warm-up), batch "
             f"{DEFAULTS['batch_size']}, AdamW lr {DEFAULTS['lr']}; data long-tailed IR 50, "
             f"symmetric 40%; {args.repeats} repeats", "",
             "Medians over repeats, runs interleaved in one process. `plain`: hand-written torch "
             "loop with the same passes (score pass + training epoch); `ce`: the estimator with "
             "selection and adjustment off; `unlocker`: defaults. Shares are timed by timers "
             "around the code over the whole fit: Unlocker's own work (outer step, EMA, D_bc, "
             "prior estimate), the score passes, the strategy's selection. Peak RSS: each fit "
             "in a fresh process, its peak resident memory after imports and data loading and "
             "after the fit.", "",
             "| workload | training samples | plain s | ce s | unlocker s | ce / plain | "
             "unlocker / plain | Unlocker share (median, max) | score pass share | "
             "selection share | peak RSS MiB (imports + data / plain / ce / unlocker) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['n_train']} | {r['plain_s']:.2f} | {r['ce_s']:.2f} | "
            f"{r['unlocker_s']:.2f} | {r['ce_over_plain']:.2f} | {r['unlocker_over_plain']:.2f} | "
            f"{r['unlocker_share']:.2%}, {r['max_unlocker_share']:.2%} | "
            f"{r['score_pass_share']:.1%} | {r['selection_share']:.1%} | "
            f"{r['baseline_mib']:.0f} / {r['plain_mib']:.0f} / {r['ce_mib']:.0f} / "
            f"{r['unlocker_mib']:.0f} |")
    text = "\n".join(lines) + "\n"
    Path(RESULTS).mkdir(exist_ok=True)
    (Path(RESULTS) / f"{args.name}.md").write_text(text)
    print(text)
    return rows


if __name__ == "__main__":
    main()
