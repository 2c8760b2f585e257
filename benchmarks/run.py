"""Accuracy benchmark: datasets x imbalance ratios x noises x seeds x methods.

Writes ``benchmarks/results/<name>.csv`` (one row per fit) and ``<name>.md``
(mean +- std over seeds per setting and method), each headed by the command,
the package version, the seeds and the machine.
"""

import argparse
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.metrics import balanced_accuracy_score

import sklearn_unlocker
from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.augment import GaussianNoise, RandomShift
from sklearn_unlocker.datasets import (
    load_noisy_cifar,
    load_noisy_digits,
    load_noisy_mnist1d,
    make_noisy_tabular,
)
from sklearn_unlocker.metrics import prior_kl_divergence, selection_precision_recall, shot_accuracy
from sklearn_unlocker.modules import ConvNet, ConvNet1d

from .methods import META, METHODS, make_method

RESULTS = Path(__file__).resolve().parent / "results"

#: dataset name -> (loader, options, module for it, DivideMix's augmentation for its two views)
DATASETS = {
    "digits": (load_noisy_digits, {}, None, GaussianNoise(0.1)),
    "digits_images": (load_noisy_digits, {"as_images": True}, ConvNet, RandomShift(1)),
    "tabular": (make_noisy_tabular, {}, None, GaussianNoise(0.1)),
    "mnist1d": (load_noisy_mnist1d, {"n_samples": 10000, "as_images": True}, ConvNet1d,
                RandomShift(2)),
    # needs a network the first time (torchvision downloads to ./data) and, in practice, a GPU
    "cifar10": (lambda **kw: load_noisy_cifar("cifar10", download=True, **kw), {}, ConvNet,
                RandomShift(4)),
    "cifar100": (lambda **kw: load_noisy_cifar("cifar100", download=True, **kw), {}, ConvNet,
                 RandomShift(4)),
}

#: --quick: one small grid that finishes in under five minutes on two cores
QUICK = dict(datasets=["digits", "tabular"], imbalance_ratios=[100.0],
             noises=["sym:0.4", "t2h:0.4"], seeds=[0, 1, 2],
             methods=["ce", "la_posthoc", "la_loss", "cleanlab", "small_loss", "unlocker",
                      "default", "dividemix+unlocker", "dynamic_loss", "ebomlc", "clean_ce"],
             jobs=2)

METRICS = ["balanced_accuracy", "many", "medium", "few", "prior_kl", "selection_precision",
           "selection_recall", "tau", "estimated_ir", "fit_seconds", "unlocker_share",
           "meta_share"]

#: the columns that name one fit
KEYS = ["dataset", "imbalance_ratio", "noise", "rate", "seed", "method"]


def load(dataset, imbalance_ratio, noise, rate, seed):
    """One benchmark split (see :mod:`sklearn_unlocker.datasets`)."""
    loader, options, _, _ = DATASETS[dataset]
    return loader(imbalance_ratio=imbalance_ratio, noise=noise, noise_rate=rate,
                  random_state=seed, **options)


_WARMED_UP = False


def _warm_up():
    """One tiny fit per process, so that torch's start-up cost lands in no measured fit."""
    global _WARMED_UP
    if not _WARMED_UP:
        rng = np.random.RandomState(0)
        make_method("ce", n_classes=2, random_state=0, max_epochs=2).fit(
            rng.normal(size=(64, 4)).astype(np.float32), np.arange(64) % 2)
        _WARMED_UP = True


def evaluate(method, data, seed, threads=None, **common):
    """Fit one method on one split and measure it."""
    if threads:
        torch.set_num_threads(threads)
    warnings.simplefilter("ignore")  # degenerate-state warnings are summarised by the metrics
    _warm_up()
    n_classes = len(data.classes)
    estimator = make_method(method, n_classes=n_classes, random_state=seed, **common)
    X_train = data.X_train
    y_train = data.y_train_true if method == "clean_ce" else data.y_train
    fit_params = {}
    if method.endswith("_clean_trusted"):
        # as many truly clean samples per class as the automatic trusted set holds, taken out
        # of the training set (the automatic one is left out of the noisy batches too)
        trusted = clean_trusted_rows(data, estimator)
        keep = np.setdiff1d(np.arange(len(y_train)), trusted)
        fit_params = {"X_trusted": X_train[trusted], "y_trusted": y_train[trusted]}
        X_train, y_train = X_train[keep], y_train[keep]
    start = time.perf_counter()
    estimator.fit(X_train, y_train, **fit_params)
    seconds = time.perf_counter() - start
    y_pred = estimator.predict(data.X_test)
    shots = shot_accuracy(data.y_test, y_pred, data.true_counts, labels=data.classes)
    row = {"balanced_accuracy": balanced_accuracy_score(data.y_test, y_pred), **shots,
           "fit_seconds": seconds}
    if method == "cleanlab":
        row["prior_kl"] = prior_kl_divergence(data.true_prior, estimator.py)
        selected = ~estimator.label_issues_df["is_label_issue"].to_numpy()
        row["selection_precision"], row["selection_recall"] = selection_precision_recall(
            ~data.noise_mask, selected)
    elif hasattr(estimator, "trusted_source_"):  # Dynamic Loss and the MLC family
        row["meta_share"] = estimator.timings_["meta"] / estimator.timings_["fit"]
    elif method != "clean_ce":
        row["prior_kl"] = prior_kl_divergence(data.true_prior, estimator.prior_)
        row["tau"] = estimator.tau_
        row["estimated_ir"] = estimator.imbalance_ratio_
        if learns_tau(method):  # elsewhere the prior bookkeeping runs but is not Unlocker
            row["unlocker_share"] = estimator.timings_["unlocker"] / estimator.timings_["fit"]
        if "meta" in estimator.timings_:  # a meta-learning strategy inside Unlocker
            row["meta_share"] = estimator.timings_["meta"] / estimator.timings_["fit"]
        if estimator.strategy != "none":
            row["selection_precision"], row["selection_recall"] = selection_precision_recall(
                ~data.noise_mask, ~estimator.label_issues_)
    return row


def learns_tau(method):
    """Whether a method runs Unlocker's outer loop (a row "+ LA + Unlocker")."""
    params = METHODS[method][1]
    default = UnlockerClassifier().logit_adjustment
    return (params is not None and method.removesuffix("_clean_trusted") not in META
            and params.get("logit_adjustment", default) == "unlocker")


def clean_trusted_rows(data, estimator):
    """Truly clean training rows, per class as many as the automatic trusted set would hold."""
    counts = np.bincount(data.y_train, minlength=len(data.classes))
    if type(estimator).__name__ == "DynamicLossClassifier":
        per_class = max(1, min(int(estimator.m1 * counts[counts > 0].min()),
                               int(estimator.m0 * counts[counts > 0].min()) or 1))
    else:
        per_class = estimator._trusted_count(counts)
    rng = np.random.RandomState(0)
    rows = []
    for c in range(len(data.classes)):
        members = np.flatnonzero((data.y_train == c) & ~data.noise_mask)
        rows.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    return np.concatenate(rows)


def machine():
    """One line describing where the numbers were measured."""
    return (f"{platform.platform()}; {os.cpu_count()} CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), device "
            f"{'cuda' if torch.cuda.is_available() else 'cpu'}")


def command_line(name, argv=None, drop=()):
    """The command that ran a benchmark, as a user would type it (for its results file).

    Parameters
    ----------
    name : str
        The benchmark's subcommand (``run``, ``devgrid``, ...).
    argv : list of str, default=None
        Its arguments; ``sys.argv[1:]`` by default.
    drop : tuple of str, default=()
        Arguments left out (``--resume`` does not change what is computed).

    Returns
    -------
    command : str
    """
    given = argv if argv is not None else sys.argv[1:]
    return f"python -m benchmarks {name} " + " ".join(shlex.quote(a) for a in given
                                                      if a not in drop)


def header(command, seeds):
    return [f"command: `{command}`", f"sklearn-unlocker {sklearn_unlocker.__version__}",
            f"seeds: {' '.join(map(str, seeds))}", f"machine: {machine()}",
            f"date: {time.strftime('%Y-%m-%d')}"]


def summarise(frame):
    """Mean +- std over seeds, one row per setting and method."""
    keys = ["dataset", "imbalance_ratio", "noise", "rate", "method"]
    grouped = frame.groupby(keys, sort=False)
    mean, std = grouped[METRICS].mean(), grouped[METRICS].std()
    return mean, std, grouped.size()


#: references, not methods: left out when marking the best method of a setting
REFERENCES = ("clean_ce", "dynamic_loss_clean_trusted", "ebomlc_clean_trusted")


def overview(mean):
    """One line per setting, one column per method: mean balanced accuracy, best in bold.

    When the headline method (``default``, the estimator's defaults, else ``unlocker``) ran
    beside ``ce``, ``la_posthoc``, ``la_loss`` or ``cleanlab``, a column gives its margin over
    the best of those (the baselines a practitioner would try), and with ``ce`` and
    ``clean_ce`` the share of the gap between them it closes; a mean line per dataset and
    over all settings follows.
    """
    methods = list(mean.index.get_level_values("method").unique())
    table = mean["balanced_accuracy"].unstack("method")[methods]
    baselines = [m for m in ("ce", "la_posthoc", "la_loss", "cleanlab") if m in methods]
    headline = next((m for m in ("default", "unlocker") if m in methods), None)
    margin = headline is not None and bool(baselines)
    gap = margin and {"ce", "clean_ce"} <= set(methods)
    head = ["setting", *methods] + ([f"{headline} - best baseline"] if margin else []) + (
        ["gap closed"] if gap else [])
    intro = "Mean over seeds; bold: the best method of the setting (references such as `clean_ce` "
    intro += "excluded)"
    if margin:
        names = ", ".join(f"`{m}`" for m in baselines)
        intro += f"; `{headline}` minus the best of {names}"
    if gap:
        intro += (f"; gap closed: the share of the gap between `ce` and `clean_ce` (cross-entropy "
                  f"on the true labels) that `{headline}` closes")
    intro += (". Mean lines: over a dataset's settings and over all (gap closed: the mean of the "
              "settings' shares). Per-setting tables with spreads and the other metrics follow.")
    lines = ["## Overview: balanced accuracy", "", intro, "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    extra = pd.DataFrame(index=table.index)
    if margin:
        extra["margin"] = table[headline] - table[baselines].max(axis=1)
    if gap:
        extra["gap"] = (table[headline] - table["ce"]) / (table["clean_ce"] - table["ce"])
    for (dataset, ir, noise, rate), row in table.iterrows():
        best = row.drop([m for m in REFERENCES if m in row.index]).max()
        cells = [f"**{v:.3f}**" if m not in REFERENCES and v == best else f"{v:.3f}"
                 for m, v in row.items()]
        cells += _extra_cells(extra.loc[(dataset, ir, noise, rate)])
        lines.append(f"| {dataset}, IR {ir:g}, {noise} {rate:.0%} | " + " | ".join(cells) + " |")
    groups = [(d, table.index.get_level_values(0) == d)
              for d in table.index.get_level_values(0).unique()]
    if len(groups) > 1:
        groups.append(("all", np.ones(len(table), dtype=bool)))
    for name, rows in groups:
        cells = [f"{v:.3f}" for v in table[rows].mean()] + _extra_cells(extra[rows].mean())
        lines.append(f"| **mean, {name}** | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _extra_cells(values):
    cells = [f"{values['margin']:+.3f}"] if "margin" in values else []
    return cells + ([f"{values['gap']:.0%}"] if "gap" in values else [])


def markdown(frame, command, seeds, methods):
    mean, std, _ = summarise(frame)
    lines = ["# Accuracy benchmark", "", *[f"- {h}" for h in header(command, seeds)], "",
             "Balanced accuracy on the balanced clean test split, mean +- std over seeds; "
             "many/medium/few: classes with >100, 20-100, <20 true training samples; "
             "prior KL: KL(true || estimated prior), inf where an estimate gives 0 to a class "
             "(cleanlab, when the noisy labels lack a class); selection P/R: precision/recall "
             "of the samples kept as clean; fit / ce: fit time over plain cross-entropy's on "
             "the same split; own share: Unlocker's own work (tau, EMA, D_bc, prior) over fit "
             "time, or for the meta-learning methods the meta-learning steps' share.",
             ""]
    lines += overview(mean)
    for setting, block in mean.groupby(level=[0, 1, 2, 3], sort=False):
        dataset, ir, noise, rate = setting
        lines += [f"## {dataset}, IR {ir:g}, {noise} {rate:.0%}", "",
                  "| method | balanced acc. | many | medium | few | prior KL | sel. P / R | tau "
                  "| est. IR | fit s | fit / ce | own share |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        ce_seconds = block["fit_seconds"].get((*setting, "ce"), float("nan"))
        for key, row in block.iterrows():
            method = key[-1]
            sd = std.loc[key]

            def cell(name, fmt="{:.3f}", row=row, sd=sd):
                value = row[name]
                if pd.isna(value):
                    return "-"
                spread = "" if pd.isna(sd[name]) else f" ± {fmt.format(sd[name])}"
                return fmt.format(value) + spread

            sel = ("-" if pd.isna(row["selection_precision"]) else
                   f"{row['selection_precision']:.2f} / {row['selection_recall']:.2f}")
            own = row["unlocker_share"] if learns_tau(method) else row["meta_share"]
            share = "-" if pd.isna(own) else f"{own:.2%}"
            ratio = "-" if pd.isna(ce_seconds) else f"{row['fit_seconds'] / ce_seconds:.2f}"
            lines.append(
                f"| {method} | {cell('balanced_accuracy')} | {row['many']:.3f} | "
                f"{row['medium']:.3f} | {row['few']:.3f} | "
                f"{'-' if pd.isna(row['prior_kl']) else format(row['prior_kl'], '.3f')} | {sel} | "
                f"{'-' if pd.isna(row['tau']) else format(row['tau'], '.2f')} | "
                f"{'-' if pd.isna(row['estimated_ir']) else format(row['estimated_ir'], '.1f')} | "
                f"{row['fit_seconds']:.1f} | {ratio} | {share} |"
            )
        lines.append("")
    lines += ["Methods:", ""] + [f"- `{m}`: {METHODS[m][0]}" for m in methods]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks run", description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=["digits"], choices=sorted(DATASETS))
    parser.add_argument("--imbalance-ratios", nargs="+", type=float, default=[50.0])
    parser.add_argument("--noises", nargs="+", default=["sym:0.4"],
                        help="kind:rate pairs, e.g. sym:0.4 t2h:0.4 joint:0.4")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=["ce", "cleanlab", "unlocker"],
                        choices=sorted(METHODS))
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=1,
                        help="parallel fits (each then uses 1 thread; fit times become noisier)")
    parser.add_argument("--name", default=None, help="results file stem")
    parser.add_argument("--out", default=str(RESULTS), help="directory of the results files")
    parser.add_argument("--quick", action="store_true",
                        help=f"a small preset grid, minutes on two cores: {QUICK}")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument("--resume", action="store_true",
                        help="keep the fits already in <name>.partial.csv (left by an "
                             "interrupted run of the same grid) and run only the rest")
    parser.add_argument("--render", metavar="CSV",
                        help="fit nothing: rewrite the Markdown table and PNG of a results CSV")
    args = parser.parse_args(argv)
    if args.render:
        return render(Path(args.render), plot_too=not args.no_plot)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
        args.name = args.name or "quick"
    command = command_line("run", argv, drop=("--resume",))
    noises = [(kind, float(rate)) for kind, rate in (n.split(":") for n in args.noises)]
    settings = [(d, ir, kind, rate) for d in args.datasets for ir in args.imbalance_ratios
                for kind, rate in noises]
    jobs = []
    for dataset, ir, kind, rate in settings:
        for seed in args.seeds:
            data = load(dataset, ir, kind, rate, seed)
            common = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
            module = DATASETS[dataset][2]
            if module is not None:
                common["module"] = module
            for method in args.methods:
                # DivideMix's two views need an augmentation (its paper: crops and flips)
                extra = {"augment": DATASETS[dataset][3]} if "dividemix" in method else {}
                jobs.append(((dataset, ir, kind, rate, seed, method), data,
                             {**common, **extra}))
    name, out = args.name or "accuracy", Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame = fit_all(jobs, args.jobs, out / f"{name}.partial.csv", resume=args.resume)
    with open(out / f"{name}.csv", "w") as f:
        f.writelines(f"# {line}\n" for line in header(command, args.seeds))
        frame.to_csv(f, index=False)
    (out / f"{name}.md").write_text(markdown(frame, command, args.seeds, args.methods))
    if not args.no_plot:
        plot(frame, out / f"{name}.png")
    print((out / f"{name}.md").read_text())
    return frame


def fit_all(jobs, n_jobs, partial, resume=False):
    """Run the fits, appending each row to ``partial`` as it arrives; one frame in job order.

    An interrupted grid leaves its finished fits in ``partial``; ``resume`` reuses them (rows
    are keyed by dataset, IR, noise, rate, seed and method). The file goes once all fits ran.
    """
    done = {}
    if resume and partial.exists():
        old = pd.read_csv(partial)
        done = {tuple(r[KEYS]): r.to_dict() for _, r in old.iterrows()}
    elif partial.exists():
        partial.unlink()
    todo = [job for job in jobs if job[0] not in done]
    threads = 1 if n_jobs > 1 else None
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(evaluate)(key[-1], data, key[-2], threads, **common) for key, data, common in todo
    )
    for (key, _, _), row in zip(todo, results, strict=True):
        done[key] = {**dict(zip(KEYS, key, strict=True)), **row}
        pd.DataFrame([done[key]]).reindex(columns=[*KEYS, *METRICS]).to_csv(
            partial, mode="a", header=not partial.exists(), index=False)
    frame = pd.DataFrame([done[key] for key, _, _ in jobs]).reindex(columns=[*KEYS, *METRICS])
    partial.unlink(missing_ok=True)
    return frame


def render(csv, plot_too=True):
    """Rewrite ``<stem>.md`` (and ``.png``) from a results CSV, under its original header."""
    header_lines = [line[2:] for line in csv.read_text().splitlines() if line.startswith("# ")]
    fields = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    frame = pd.read_csv(csv, comment="#")
    frame = frame.reindex(columns=[*KEYS, *METRICS])  # older files lack some metrics
    command = fields["command"].strip("`")
    seeds = [int(s) for s in fields["seeds"].split()]
    methods = list(dict.fromkeys(frame["method"]))
    text = markdown(frame, command, seeds, methods)
    # keep the machine and date of the run, not of the rendering
    for key in ("machine", "date", "sklearn-unlocker"):
        old = next((h for h in header(command, seeds) if h.startswith(key)), None)
        recorded = next((h for h in header_lines if h.startswith(key)), None)
        if old and recorded:
            text = text.replace(f"- {old}\n", f"- {recorded}\n", 1)
    csv.with_suffix(".md").write_text(text)
    if plot_too:
        plot(frame, csv.with_suffix(".png"))
    return frame


def plot(frame, path):
    """Balanced accuracy per method (mean and std over seeds), one panel per setting.

    Orange: rows with Unlocker; gray: references (clean labels or a truly clean trusted set).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the benchmarks extra brings matplotlib; without it, no picture
        return
    settings = list(frame.groupby(["dataset", "imbalance_ratio", "noise", "rate"],
                                  sort=False).groups)
    n_methods = frame["method"].nunique()
    ncols = min(3, len(settings))
    nrows = -(-len(settings) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, (1 + 0.25 * n_methods) * nrows),
                             squeeze=False, sharey=True)
    for ax in axes.flat[len(settings):]:
        ax.set_visible(False)
    for ax, setting in zip(axes.flat, settings, strict=False):
        rows = frame[(frame[["dataset", "imbalance_ratio", "noise", "rate"]] == setting).all(1)]
        stats = rows.groupby("method", sort=False)["balanced_accuracy"].agg(["mean", "std"])
        colors = ["tab:gray" if m in REFERENCES else "tab:orange" if "unlocker" in m
                  else "tab:blue" for m in stats.index]
        ax.barh(stats.index, stats["mean"], xerr=stats["std"].fillna(0), color=colors)
        ax.set_title(f"{setting[0]}, IR {setting[1]:g}, {setting[2]} {setting[3]:.0%}")
        ax.set_xlabel("balanced accuracy")
    axes[0, 0].invert_yaxis()  # shared: once for all panels, first method on top
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()
