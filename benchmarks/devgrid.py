"""Development grid: where UnlockerClassifier's defaults are chosen.

The grid draws on the development families of :mod:`benchmarks.devdata`
(several synthetic tabular generators, MNIST-1D with an MLP and with a 1-D CNN,
procedurally drawn images with ``ConvNet``; other sizes and other data seeds
than the reported grid), never on digits, which ``python -m benchmarks run``
reports, together with the reported tabular and MNIST-1D splits.

A variant is a name from :data:`VARIANTS` or ``label:param=value,param=value``
with Python values, e.g. ``"adam:optimizer=torch.optim.Adam,lr=1e-3"`` or
``"global:strategy=SmallLossStrategy(per_class=False)"``; it changes those
parameters of ``UnlockerClassifier`` from its defaults, or, with
``estimator=DynamicLossClassifier`` (or ``MetaLabelCorrectionClassifier``), of
that estimator. ``ce`` is plain
cross-entropy and ``cleanlab`` cleanlab's ``CleanLearning``, each with the same
network and training recipe.
"""

import argparse
import ast
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from scipy import stats
from sklearn.metrics import (
    balanced_accuracy_score,
    precision_recall_fscore_support,
    roc_auc_score,
)
from skorch.callbacks import LRScheduler

import sklearn_unlocker.augment as augment_module
import sklearn_unlocker.strategies as strategies_module
from sklearn_unlocker import (
    DynamicLossClassifier,
    MetaLabelCorrectionClassifier,
    UnlockerClassifier,
)
from sklearn_unlocker.metrics import shot_accuracy

from .bc_trace import BalancedCleanTrace, bc_table
from .devdata import load_family
from .methods import CE, CleanLearningPresent
from .run import RESULTS, command_line, header

#: named variants: parameters changed from the defaults
VARIANTS = {
    "ce": CE,
    "defaults": {},  # since 2026-12 DivideMix + LA; before, small-loss + Unlocker
    "small_loss+unlocker": {"strategy": "small_loss", "logit_adjustment": "unlocker"},
    "logit_adjustment=none": {"strategy": "small_loss", "logit_adjustment": "none"},
    "logit_adjustment=loss": {"strategy": "small_loss", "logit_adjustment": "loss"},
    "logit_adjustment=posthoc": {"strategy": "small_loss", "logit_adjustment": "posthoc"},
    "dividemix": {"strategy": "dividemix", "logit_adjustment": "unlocker"},
    "dividemix+none": {"strategy": "dividemix", "logit_adjustment": "none"},
}

#: the wide development grid: every family, IR 10 to 100, the four noises of the report plus
#: pair noise (a class confused with one other, as human annotators do)
SETTINGS = [
    "tab_multimodal:sym:0.4:50", "tab_multimodal:sym:0.6:10", "tab_multimodal:joint:0.4:100",
    "tab_multimodal:t2h:0.4:10", "tab_multimodal:pair:0.3:20",
    "tab_small:sym:0.4:10", "tab_small:sym:0.6:50", "tab_small:t2h:0.4:100",
    "tab_small:joint:0.4:20",
    "tab_large:sym:0.4:100", "tab_large:sym:0.6:20", "tab_large:joint:0.4:10",
    "tab_large:t2h:0.4:50",
    "mnist1d_mlp:sym:0.4:20", "mnist1d_mlp:joint:0.4:50", "mnist1d_mlp:t2h:0.4:10",
    "mnist1d_mlp:pair:0.3:100",
    "mnist1d_cnn:sym:0.4:10", "mnist1d_cnn:sym:0.6:100", "mnist1d_cnn:t2h:0.4:20",
    "shapes:sym:0.4:20", "shapes:sym:0.6:10", "shapes:joint:0.4:50", "shapes:t2h:0.4:100",
    "shapes:pair:0.3:10",
]

#: names a variant's values may use
NAMESPACE = {"torch": torch, "np": np, "None": None, "True": True, "False": False,
             "LRScheduler": LRScheduler,
             "DynamicLossClassifier": DynamicLossClassifier,
             "MetaLabelCorrectionClassifier": MetaLabelCorrectionClassifier,
             **{name: getattr(strategies_module, name) for name in strategies_module.__all__},
             **{name: getattr(augment_module, name) for name in augment_module.__all__}}


def _split_top_level(text):
    """Split ``a=1,b=f(x, y)`` on the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def parse_variant(spec):
    """``(label, params)`` of a variant name or ``label:param=value,...`` spec."""
    if spec in VARIANTS or spec == "cleanlab":
        return spec, VARIANTS.get(spec)
    label, _, body = spec.partition(":")
    if not body:
        raise ValueError(f"unknown variant {spec!r}: use a name of {sorted(VARIANTS)} or "
                         "label:param=value,...")
    params = {}
    for item in _split_top_level(body):
        key, _, value = item.partition("=")
        tree = ast.parse(value.strip(), mode="eval")
        params[key.strip()] = eval(compile(tree, "<variant>", "eval"),
                                   {"__builtins__": {}}, dict(NAMESPACE))
    base = params.pop("base", None)
    if base is not None:  # e.g. base="ce": the changes apply on top of a named variant
        params = {**VARIANTS[base], **params}
    return label, params


def _describe(spec, params):
    """A variant's parameters as given (``label:...``), else the named variant's dict."""
    if params is None:
        return "cleanlab CleanLearning"
    body = spec.partition(":")[2]
    return f"`{body}`" if body and spec not in VARIANTS else str(params)


def label_issue_metrics(data, is_issue, quality):
    """How well a label-issue verdict and its ranking find the truly wrong labels.

    Precision, recall and F1 of ``is_issue`` against the wrong labels, the AUROC of
    ``-quality`` (a low quality should mean a wrong label), and the share of the
    correctly labelled samples of the tail (the half of the classes with the fewest true
    training samples) that are flagged.
    """
    wrong = np.asarray(data.noise_mask, dtype=bool)
    is_issue = np.asarray(is_issue, dtype=bool)
    tail = np.argsort(data.true_counts, kind="stable")[: len(data.true_counts) // 2]
    clean_tail = ~wrong & np.isin(data.y_train_true, np.asarray(data.classes)[tail])
    precision, recall, f1, _ = precision_recall_fscore_support(
        wrong, is_issue, average="binary", zero_division=0.0)
    return dict(issue_precision=precision, issue_recall=recall, issue_f1=f1,
                issue_auroc=roc_auc_score(wrong, -np.asarray(quality)) if 0 < wrong.sum()
                < len(wrong) else np.nan,
                clean_tail_flagged=float(is_issue[clean_tail].mean()) if clean_tail.any()
                else np.nan, issues_flagged=int(is_issue.sum()))


def _fit(spec, setting, seed, trace_bc=False):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    label, params = parse_variant(spec)
    if trace_bc and params is not None and params.get("train_split") is not None:
        raise ValueError(f"--trace-bc reads D_bc's rows of the whole training set; variant "
                         f"{label!r} holds part of it out (train_split): trace it without one")
    data, module = load_family(setting, seed)
    common = {} if module is None else {"module": module}
    # DivideMix's two views: the estimator's default_views unless a variant names `augment`
    n_classes = len(data.classes)
    start = time.perf_counter()
    if params is None:  # cleanlab around the cross-entropy network
        clf = CleanLearningPresent(n_classes, random_state=seed, **common)
    else:
        params = dict(params)
        estimator = params.pop("estimator", UnlockerClassifier)
        clf = estimator(classes=np.arange(n_classes), random_state=seed, **{**common, **params})
    trace = BalancedCleanTrace(data) if trace_bc and params is not None else None
    if trace is not None:
        clf.set_params(callbacks=[*(clf.callbacks or []), ("bc_trace", trace)])
    clf.fit(data.X_train, data.y_train)
    seconds = time.perf_counter() - start
    y_pred = clf.predict(data.X_test)
    shots = shot_accuracy(data.y_test, y_pred, data.true_counts, labels=data.classes)
    row = dict(variant=label, setting=setting, seed=seed,
               balanced_accuracy=balanced_accuracy_score(data.y_test, y_pred),
               few=shots["few"], fit_seconds=seconds,
               true_ir=data.true_imbalance_ratio, observed_ir=data.observed_imbalance_ratio)
    if hasattr(clf, "imbalance_ratio_"):
        row.update(estimated_ir=clf.imbalance_ratio_, tau=clf.tau_)
        row.update(prediction_rules(clf, data))
    row.update(barrier_trace(getattr(clf, "strategy_", None)))
    if trace is not None:
        row.update(dict(clf.net_.callbacks_)["bc_trace"].summary())
    issues = clf.label_issues_df if params is None else clf.find_label_issues()
    row.update(label_issue_metrics(data, issues["is_label_issue"], issues["label_quality"]))
    return row


def prediction_rules(clf, data):
    """Balanced accuracy of the same fit under both prediction rules: ``argmax z`` (Menon et
    al.'s rule after an adjusted loss, every adjusted-loss row's since 2026-12-06) and
    ``argmax z - alpha`` (their post-hoc rule; the Unlocker row's before), whichever of them
    ``predict`` uses."""
    raw = clf.decision_function(data.X_test) + clf._prediction_shift_  # z, the module's logits
    classes = clf.classes_
    return {"balanced_accuracy_raw": balanced_accuracy_score(
                data.y_test, classes[raw.argmax(axis=1)]),
            "balanced_accuracy_shifted": balanced_accuracy_score(
                data.y_test, classes[(raw - clf.adjustment_).argmax(axis=1)])}


def barrier_trace(strategy):
    """MLC-D's / EBOMLC's barrier coefficient over the fit: mean, spread, per-epoch means."""
    betas = getattr(strategy, "betas_", None)
    if not betas:
        return {}
    epochs = np.array([epoch for epoch, _ in betas])
    values = np.array([float(beta) for _, beta in betas])
    by_epoch = [values[epochs == e].mean() for e in np.unique(epochs)]
    return {"beta_mean": values.mean(), "beta_p05": np.quantile(values, 0.05),
            "beta_p95": np.quantile(values, 0.95),
            "beta_by_epoch": " ".join(f"{b:.4f}" for b in by_epoch)}


def rule_table(frame):
    """Markdown: per variant, both prediction rules on the same fits and their paired difference."""
    if "balanced_accuracy_raw" not in frame.columns:
        return []
    scored = frame.dropna(subset=["balanced_accuracy_raw"])
    lines = ["| variant | predict uses | argmax z | argmax z - alpha | z minus z - alpha, "
             "95% CI | settings z ahead |", "|---|---|---|---|---|---|"]
    for variant, rows in scored.groupby("variant", sort=False):
        means = rows.groupby("setting")[["balanced_accuracy", "balanced_accuracy_raw",
                                         "balanced_accuracy_shifted"]].mean()
        diff = means["balanced_accuracy_raw"] - means["balanced_accuracy_shifted"]
        low, high = paired_interval(diff)
        uses = ("z" if np.allclose(means["balanced_accuracy"], means["balanced_accuracy_raw"])
                else "z - alpha")
        lines.append(f"| {variant} | {uses} | {means['balanced_accuracy_raw'].mean():.3f} | "
                     f"{means['balanced_accuracy_shifted'].mean():.3f} | {diff.mean():+.3f} "
                     f"[{low:+.3f}, {high:+.3f}] | {(diff > 0).sum()} of {len(diff)} |")
    return lines


def barrier_table(frame):
    """Markdown: the barrier coefficient over each variant's fits."""
    if "beta_mean" not in frame.columns:
        return []
    scored = frame.dropna(subset=["beta_mean"])
    lines = ["| variant | mean beta | 5% | 95% | per-epoch mean, first / middle / last epoch |",
             "|---|---|---|---|---|"]
    for variant, rows in scored.groupby("variant", sort=False):
        traces = [np.array(t.split(), dtype=float) for t in rows["beta_by_epoch"]]
        first, middle, last = (np.mean([t[i] for t in traces])
                               for i in (0, min(len(t) for t in traces) // 2, -1))
        lines.append(f"| {variant} | {rows['beta_mean'].mean():.4f} | "
                     f"{rows['beta_p05'].mean():.4f} | {rows['beta_p95'].mean():.4f} | "
                     f"{first:.4f} / {middle:.4f} / {last:.4f} |")
    return lines


def table(frame, reference):
    """Markdown: one row per setting, one column per variant, then the summary lines."""
    variants = list(dict.fromkeys(frame["variant"]))
    settings = list(dict.fromkeys(frame["setting"]))
    mean = frame.pivot_table(index="setting", columns="variant", values="balanced_accuracy",
                             aggfunc="mean")
    std = frame.groupby(["setting", "variant"])["balanced_accuracy"].std().unstack()
    lines = ["| setting | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for s in settings:
        best = mean.loc[s, variants].max()
        cells = []
        for v in variants:
            m, sd = mean.loc[s, v], std.loc[s, v]
            text = f"{m:.3f}" + ("" if pd.isna(sd) else f" ± {sd:.3f}")
            cells.append(f"**{text}**" if m == best else text)
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("| **mean** | " + " | ".join(f"{mean[v].mean():.3f}" for v in variants) + " |")
    if reference in variants:
        diff = mean[variants].sub(mean[reference], axis=0)
        lines.append(f"| mean diff. to {reference} | "
                     + " | ".join(f"{diff[v].mean():+.3f}" for v in variants) + " |")
        lines.append(f"| worst diff. to {reference} | "
                     + " | ".join(f"{diff[v].min():+.3f}" for v in variants) + " |")
        for name, rows in [("all", list(diff.index)), *families(diff.index)]:
            cells = []
            for v in variants:
                low, high = paired_interval(diff.loc[rows, v])
                cells.append(f"{diff.loc[rows, v].mean():+.3f} [{low:+.3f}, {high:+.3f}]")
            lines.append(f"| 95% CI, {name} ({len(rows)}) | " + " | ".join(cells) + " |")
    seconds = frame.pivot_table(index="setting", columns="variant", values="fit_seconds",
                                aggfunc="mean")
    lines.append("| mean fit s | " + " | ".join(f"{seconds[v].mean():.1f}" for v in variants)
                 + " |")
    if "ce" in variants:
        per_fit = frame.pivot_table(index=["setting", "seed"], columns="variant",
                                    values="fit_seconds")
        ratio = per_fit[variants].div(per_fit["ce"], axis=0).median()
        lines.append("| median fit / ce | " + " | ".join(f"{ratio[v]:.2f}" for v in variants)
                     + " |")
    return lines


def families(settings):
    """(family, settings) pairs: the tabular generators together, each other family alone."""
    groups = {}
    for setting in settings:
        family = setting.split(":")[0]
        groups.setdefault("tabular" if family.startswith("tab_") else family, []).append(setting)
    return list(groups.items())


def paired_interval(differences, level=0.95):
    """t-interval of the mean of per-setting paired differences (seeds averaged first)."""
    values = np.asarray(differences, dtype=float)
    if len(values) < 2:
        return np.nan, np.nan
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(
        len(values))
    return values.mean() - half, values.mean() + half


ISSUE_COLUMNS = {"issues_flagged": "flagged", "issue_precision": "precision",
                 "issue_recall": "recall", "issue_f1": "F1", "issue_auroc": "AUROC of quality",
                 "clean_tail_flagged": "clean tail flagged"}


def issue_table(frame):
    """Markdown: label-issue detection per variant, means over every fit that reports it."""
    if not set(ISSUE_COLUMNS) <= set(frame.columns):
        return []
    scored = frame.dropna(subset=["issue_f1"])
    means = scored.groupby("variant", sort=False)[list(ISSUE_COLUMNS)].mean()
    lines = ["| variant | " + " | ".join(ISSUE_COLUMNS.values()) + " |",
             "|---|" + "---|" * len(ISSUE_COLUMNS)]
    for variant, row in means.iterrows():
        lines.append(f"| {variant} | {row['issues_flagged']:.0f} | "
                     + " | ".join(f"{row[c]:.3f}" for c in list(ISSUE_COLUMNS)[1:]) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks devgrid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=SETTINGS,
                        help="family:noise:rate:imbalance_ratio (families: benchmarks/devdata.py)")
    parser.add_argument("--variants", nargs="+", default=["ce", "defaults"],
                        help="names of VARIANTS, 'cleanlab', or label:param=value,...")
    parser.add_argument("--reference", default="defaults",
                        help="the variant the summary lines compare with")
    parser.add_argument("--seeds", nargs="+", type=int, default=[100, 101],
                        help="data and model seeds (the reported grid uses 0, 1, 2)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--name", default="development")
    parser.add_argument("--reuse", nargs="+", default=[], metavar="CSV",
                        help="earlier devgrid CSVs whose (variant, setting, seed) rows are taken "
                             "instead of refitted: a label must mean the same parameters and the "
                             "code must not have changed")
    parser.add_argument("--out", default=str(RESULTS), help="directory of the results files")
    parser.add_argument("--trace-bc", action="store_true",
                        help="record D_bc's purity and the KL of its mean prediction to the "
                             "test set's, epoch by epoch (benchmarks/bc_trace.py)")
    args = parser.parse_args(argv)
    for spec in args.variants:
        parse_variant(spec)  # fail before fitting anything
    command = command_line("devgrid", argv)
    done = {}
    for path in args.reuse:
        for row in pd.read_csv(path).to_dict("records"):
            done[row["variant"], row["setting"], row["seed"]] = row
    jobs = [(v, s, seed) for s in args.settings for seed in args.seeds for v in args.variants]
    todo = [job for job in jobs if (parse_variant(job[0])[0], *job[1:]) not in done]
    fitted = iter(Parallel(n_jobs=args.jobs)(delayed(_fit)(*job, trace_bc=args.trace_bc)
                                             for job in todo))
    rows = [done.get((parse_variant(v)[0], s, seed)) or next(fitted) for v, s, seed in jobs]
    frame = pd.DataFrame(rows)
    lines = ["# Development grid", "", *[f"- {h}" for h in header(command, args.seeds)], "",
             "Balanced accuracy on the balanced clean test split, mean ± std over seeds; "
             "bold: the best variant of a setting. Each variant changes the listed parameters "
             "of `UnlockerClassifier` (or of the `estimator` named) from its defaults:", ""]
    lines += [f"- `{label}`: {_describe(spec, params)}"
              for spec, (label, params) in zip(args.variants, map(parse_variant, args.variants),
                                               strict=True)]
    lines += ["", *table(frame, args.reference), ""]
    rules = rule_table(frame)
    if rules:
        lines += ["Prediction rules, the same fits: balanced accuracy of `argmax z` (the "
                  "module's logits) and of `argmax z - alpha` (alpha = `adjustment_`, the "
                  "fitted tau times the log prior), means over settings, and their paired "
                  "difference (seeds averaged first):", "", *rules, ""]
    barrier = barrier_table(frame)
    if barrier:
        lines += ["The barrier coefficient beta of every MLC-D / EBOMLC step, mean over fits "
                  "(the full per-epoch trace is the CSV's `beta_by_epoch`):", "", *barrier, ""]
    traced = bc_table(frame)
    if traced:
        lines += ["D_bc over the fit (`--trace-bc`): purity is the share of D_bc whose given "
                  "label is the true one, from its lowest to its highest epoch, means over "
                  "fits; the KL compares the mean predicted distribution on the test set "
                  "with the one on D_bc at the end of each epoch (per-epoch traces: the CSV's "
                  "`bc_purity_by_epoch` and `bc_kl_by_epoch`; fits taken with `--reuse` "
                  "have none):", "", *traced, ""]
    issues = issue_table(frame)
    if issues:
        lines += ["Label issues (`find_label_issues()`; cleanlab: `CleanLearning`'s out-of-fold "
                  "table), means over settings and seeds against the truly wrong labels: "
                  "precision, recall and F1 of `is_label_issue`, AUROC of `-label_quality`, and "
                  "the share of correctly labelled samples of the tail half of the classes "
                  "that is flagged:", "", *issues, ""]
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(text)
    frame.to_csv(out / f"{args.name}.csv", index=False)
    print(text)
    return frame


if __name__ == "__main__":
    main()
