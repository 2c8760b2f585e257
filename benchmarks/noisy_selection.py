"""Choosing among candidates with noisy validation labels: the regret of each rule.

On each development setting (one data seed) the noisy training labels are split
80/20 (stratified by the given label where every class has two); every candidate
fits on the 80% and is scored on the 20% by each rule:

- ``noisy``: balanced accuracy against the noisy validation labels (what a grid
  search does today);
- ``invert``: :func:`sklearn_unlocker.model_selection.make_noise_aware_scorer`
  with ``method="invert"``, built once from the reference fit's ``noise_matrix_``
  (the defaults with another seed, fitted on the same 80%, not one of the
  candidates), the same for every candidate;
- ``agreed``: ``method="agreed"``: balanced accuracy against the noisy
  validation labels on the samples whose label the reference fit predicts (the
  labels it believes; here held out from the reference's fit);
- ``clean_valid``: balanced accuracy against the *clean* labels of the
  validation rows (unknowable in practice; the best a rule scoring these rows
  can do);
- ``oracle``: the balanced accuracy on the clean test split (unknowable in
  practice).

A rule's regret on a setting: the oracle's clean test score minus that of the
candidate the rule picks. The error of a rule's estimate: its score minus the
candidate's clean test score.

Command: ``python -m benchmarks noisy_selection --jobs 2`` writes
``benchmarks/results/development_noisy_selection.{md,csv}``.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from sklearn_unlocker import UnlockerClassifier, __version__
from sklearn_unlocker.model_selection import make_noise_aware_scorer

from .devdata import load_family
from .devgrid import SETTINGS, families, paired_interval
from .run import command_line, machine

RESULTS = Path(__file__).parent / "results"

#: the candidate grid: the reference (the defaults) first
CANDIDATES = {
    "defaults (DivideMix + LA)": {},
    "DivideMix + Unlocker": {"logit_adjustment": "unlocker"},
    "small-loss + Unlocker": {"strategy": "small_loss", "logit_adjustment": "unlocker"},
    "LA (no selection)": {"strategy": "none", "logit_adjustment": "loss"},
    "CE": {"strategy": "none", "logit_adjustment": "none", "mixup_alpha": 0.0},
}


def _setting(setting, seed):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    data, module = load_family(setting, seed)
    classes = np.arange(len(data.classes))
    rows = np.arange(len(data.y_train))
    counts = np.bincount(data.y_train)
    stratify = data.y_train if counts[counts > 0].min() >= 2 else None  # a class of one
    fit_rows, valid_rows = train_test_split(rows, test_size=0.2, random_state=seed,
                                            stratify=stratify)
    X_fit, y_fit = data.X_train[fit_rows], data.y_train[fit_rows]
    X_valid, y_valid = data.X_train[valid_rows], data.y_train[valid_rows]
    common = dict(classes=classes, random_state=seed,
                  **({} if module is None else {"module": module}))
    # the reference: the defaults with another seed, fitted once and not a candidate (a
    # candidate as reference would agree with itself wherever it believes a label)
    reference = UnlockerClassifier(**{**common, "random_state": seed + 1}).fit(X_fit, y_fit)
    scorer = make_noise_aware_scorer(reference.noise_matrix_, method="invert", classes=classes)
    agreed = reference.predict(X_valid) == y_valid  # the labels the reference believes
    out = []
    for name, params in CANDIDATES.items():
        clf = UnlockerClassifier(**common, **params).fit(X_fit, y_fit)
        predicted = clf.predict(X_valid)
        out.append(dict(setting=setting, seed=seed, candidate=name,
                        noisy=balanced_accuracy_score(y_valid, predicted),
                        invert=scorer.estimate(y_valid, predicted),
                        agreed=balanced_accuracy_score(y_valid[agreed], predicted[agreed]),
                        oracle=balanced_accuracy_score(data.y_test, clf.predict(data.X_test)),
                        clean_valid=balanced_accuracy_score(data.y_train_true[valid_rows],
                                                            predicted)))
    return out


#: the selection rules compared (``clean_valid``: the clean labels of the validation rows, the
#: best any rule scoring these rows can do)
RULES = ("noisy", "invert", "agreed", "clean_valid")


def summarise(frame, rules=RULES):
    """Per setting: each rule's pick, its regret, and the errors of its estimates."""
    rows = []
    for setting, part in frame.groupby("setting", sort=False):
        best = part["oracle"].max()
        row = {"setting": setting}
        for rule in rules:
            picked = part.loc[part[rule].idxmax()]
            row[f"{rule} pick"] = picked["candidate"]
            row[f"{rule} regret"] = best - picked["oracle"]
            row[f"{rule} error"] = float((part[rule] - part["oracle"]).abs().mean())
        row["oracle pick"] = part.loc[part["oracle"].idxmax(), "candidate"]
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks noisy_selection",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--settings", nargs="*", default=None,
                        help="a subset of the development settings (default: all 25)")
    parser.add_argument("--name", default="development_noisy_selection")
    parser.add_argument("--summarise", metavar="CSV", default=None,
                        help="write the report from this earlier run's CSV instead of fitting "
                             "(the rules whose columns it has)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.summarise:  # the rules on fits already made: no refit
        frame = pd.read_csv(args.summarise)
        settings = list(dict.fromkeys(frame["setting"]))
    else:
        settings = args.settings or SETTINGS
        results = Parallel(n_jobs=args.jobs)(delayed(_setting)(s, args.seed) for s in settings)
        frame = pd.DataFrame([row for rows in results for row in rows])
        frame.to_csv(RESULTS / f"{args.name}.csv", index=False)
    rules = [rule for rule in RULES if rule in frame.columns]
    summary = summarise(frame, rules)
    lines = ["# Development grid: choosing among candidates with noisy validation labels", "",
             f"- command: `{command_line('noisy_selection', argv).strip()}`",
             f"- sklearn-unlocker {__version__}", f"- machine: {machine()}",
             f"- seed {args.seed}; {len(settings)} settings; candidates: "
             + "; ".join(f"{k} `{v}`" for k, v in CANDIDATES.items())
             + "; the reference: the defaults with seed + 1, fitted on the same 80%",
             (f"- the fits: `{args.summarise}`, made by `python -m benchmarks noisy_selection "
              f"--jobs 2` (1666 s); this report rewritten from it" if args.summarise
              else f"- {time.perf_counter() - start:.0f} s"), "",
             "Regret (the oracle's clean test balanced accuracy minus that of the rule's pick) and "
             "the mean absolute error of each rule's estimate of the candidates' clean test "
             "balanced accuracy:", "",
             "| setting | " + " | ".join(f"{rule}: pick | regret | error" for rule in rules)
             + " | oracle's pick |", "|---|" + "---|---|---|" * len(rules) + "---|"]
    for _, r in summary.iterrows():
        lines.append(f"| {r['setting']} | " + " | ".join(
            f"{r[f'{rule} pick']} | {r[f'{rule} regret']:.3f} | {r[f'{rule} error']:.3f}"
            for rule in rules) + f" | {r['oracle pick']} |")
    groups = [("**mean**", summary)] + [
        (f"mean, {family} ({len(members)})", summary[summary.setting.isin(members)])
        for family, members in families(summary.setting.tolist())]
    for label, part in groups:
        lines.append(f"| {label} | " + " | ".join(
            f" | {part[f'{rule} regret'].mean():.3f} | {part[f'{rule} error'].mean():.3f}"
            for rule in rules) + " | |")
    lines.append("")
    for rule in rules[1:]:
        difference = summary[f"{rule} regret"] - summary["noisy regret"]
        low, high = paired_interval(difference)
        lines.append(f"- {rule} regret minus noisy regret: {difference.mean():+.3f} (paired 95% "
                     f"interval {low:+.3f} to {high:+.3f} over {len(summary)} settings)")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
