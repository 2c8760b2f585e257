"""How well the noise is estimated: the transition matrix and the true prior's imbalance ratio.

For each setting of the reported grid (``dataset:noise:rate:imbalance_ratio``) and seed this
fits the defaults (``UnlockerClassifier()``) and compares its ``noise_matrix_`` and
``true_prior_`` with the truth of that training set: the transition matrix realised by the
noise (``T[i, j]`` = share of the samples of true class i given label j, from the clean
labels the benchmark keeps) and the true imbalance ratio. Beside it, for a user who fits
something else: :func:`sklearn_unlocker.model_selection.estimate_noise` on 3-fold out-of-fold
probabilities of plain cross-entropy (the same network), and cleanlab's
``estimate_py_and_noise_matrices_from_probabilities`` on the same probabilities (its
``noise_matrix`` transposed), and the identity matrix (no noise found) as the floor a useless
estimate reaches.

Errors are mean absolute errors per entry (``mean |T_hat - T|``, all C x C entries).

Command: ``python -m benchmarks noise_estimate --jobs 2`` writes
``benchmarks/results/noise_estimate.{md,csv}``.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.model_selection import estimate_noise, noise_from_labels

from .methods import CE
from .run import DATASETS, RESULTS, command_line, header, load

SETTINGS = [f"{d}:{noise}:{ir}" for d in ("digits", "tabular")
            for noise in ("sym:0.4", "sym:0.6", "joint:0.4", "t2h:0.4", "pair:0.3")
            for ir in (10, 100)]


def _out_of_fold_proba(data, module, seed, n_classes):
    """3-fold out-of-fold probabilities of plain cross-entropy on the given labels."""
    proba = np.zeros((len(data.y_train), n_classes))
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    counts = np.bincount(data.y_train, minlength=n_classes)
    strata = np.where(counts[data.y_train] >= 3, data.y_train, -1)  # rare classes pooled
    for train, test in folds.split(data.X_train, strata):
        clf = UnlockerClassifier(classes=np.arange(n_classes), random_state=seed,
                                 **({} if module is None else {"module": module}), **CE)
        clf.fit(data.X_train[train], data.y_train[train])
        proba[test] = clf.predict_proba(data.X_train[test])
    return proba


def _cleanlab_noise(y, proba):
    from cleanlab.count import estimate_py_and_noise_matrices_from_probabilities

    py, noise_matrix, _, _ = estimate_py_and_noise_matrices_from_probabilities(y, proba)
    return noise_matrix.T, py  # cleanlab: columns = true class


def _ratio(prior):
    """The imbalance ratio of a prior; inf when a class has no estimated sample."""
    return prior.max() / prior.min() if prior.min() > 0 else np.inf


def _fit(setting, seed):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    dataset, noise, rate, ir = setting.split(":")
    data = load(dataset, int(ir), noise, float(rate), seed)
    module = DATASETS[dataset][2]
    n_classes = len(data.classes)
    classes = np.arange(n_classes)
    truth, true_prior = noise_from_labels(data.y_train, data.y_train_true, classes)
    row = dict(setting=setting, dataset=dataset, noise=f"{noise}:{rate}",
               imbalance_ratio=int(ir), seed=seed,
               true_ir=true_prior.max() / true_prior.min(),
               observed_ir=np.bincount(data.y_train, minlength=n_classes).max()
               / max(np.bincount(data.y_train, minlength=n_classes).min(), 1),
               identity_mae=np.abs(np.eye(n_classes) - truth).mean())
    start = time.perf_counter()
    clf = UnlockerClassifier(classes=classes, random_state=seed,
                             **({} if module is None else {"module": module}))
    clf.fit(data.X_train, data.y_train)
    row.update(fit_seconds=time.perf_counter() - start,
               defaults_mae=np.abs(clf.noise_matrix_ - truth).mean(),
               defaults_ir=_ratio(clf.true_prior_))
    proba = _out_of_fold_proba(data, module, seed, n_classes)
    T, prior = estimate_noise(data.y_train, proba, classes=classes)
    row.update(oof_mae=np.abs(T - truth).mean(),
               oof_ir=_ratio(prior))
    T, prior = _cleanlab_noise(data.y_train, proba)
    row.update(cleanlab_mae=np.abs(T - truth).mean(),
               cleanlab_ir=_ratio(prior))
    return row


COLUMNS = {"true_ir": "true IR", "observed_ir": "observed IR", "defaults_ir": "IR, defaults",
           "oof_ir": "IR, estimate_noise (OOF CE)", "cleanlab_ir": "IR, cleanlab (OOF CE)",
           "identity_mae": "MAE, identity", "defaults_mae": "MAE, defaults",
           "oof_mae": "MAE, estimate_noise", "cleanlab_mae": "MAE, cleanlab"}


def _cell(column, value):
    if not column.endswith("_ir"):
        return f"{value:.3f}"
    # a ratio over 1e9 is a class estimated empty (runs before inf was written)
    return "inf" if not np.isfinite(value) or value > 1e9 else f"{value:.1f}"


def table(frame, keys):
    means = frame.groupby(keys, sort=False)[list(COLUMNS)].mean()
    lines = ["| " + " | ".join(keys) + " | " + " | ".join(COLUMNS.values()) + " |",
             "|" + "---|" * (len(keys) + len(COLUMNS))]
    for key, row in means.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        cells = [_cell(c, row[c]) for c in COLUMNS]
        lines.append("| " + " | ".join(map(str, key)) + " | " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks noise_estimate",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=SETTINGS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--name", default="noise_estimate")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--summarise", metavar="CSV", default=None,
                        help="rewrite the report from this earlier run's CSV (no fit)")
    args = parser.parse_args(argv)
    command = command_line("noise_estimate", argv)
    if args.summarise:
        frame = pd.read_csv(args.summarise)
    else:
        rows = Parallel(n_jobs=args.jobs)(delayed(_fit)(s, seed) for s in args.settings
                                          for seed in args.seeds)
        frame = pd.DataFrame(rows)
    lines = ["# The noise a fit finds: transition matrix and true imbalance ratio", "",
             *[f"- {h}" for h in header(command, sorted(frame["seed"].unique()))], "",
             "Means over seeds. IR: the imbalance ratio of the true prior (true: of the clean "
             "training labels; observed: of the given labels) and of each estimate; MAE: mean "
             "absolute error per entry of the estimated transition matrix (rows = true class) "
             "against the one the noise realised on this training set. `defaults`: "
             "`UnlockerClassifier()`'s `noise_matrix_` and `true_prior_`; `estimate_noise` and "
             "cleanlab: from 3-fold out-of-fold probabilities of plain cross-entropy (same "
             "network); identity: no noise found. inf: a class no sample is estimated to belong "
             "to.", "",
             "## By noise kind and imbalance ratio (both datasets)", "",
             *table(frame, ["noise", "imbalance_ratio"]), "",
             "## Every setting", "", *table(frame, ["setting"]), ""]
    text = "\n".join(lines)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(text)
    frame.to_csv(out / f"{args.name}.csv", index=False)
    print(text)
    return 0


if __name__ == "__main__":
    main()
