"""Development grid: UnlockerClassifier's defaults against one-knob variants.

The defaults were chosen here, on synthetic tabular data (default MLP) and
MNIST-1D (1-D CNN), never on digits, which the accuracy benchmark reports.
Each variant changes one parameter from the defaults; ``ce`` is plain
cross-entropy on the same network for reference. ``--variants`` also takes the
DivideMix variants (``dividemix`` and ``dividemix:<knob>``), compared with
``--reference dividemix``.
"""

import argparse
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.metrics import balanced_accuracy_score

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.strategies import DivideMixStrategy, SmallLossStrategy

from .methods import CE
from .run import DATASETS, RESULTS, header, load

#: name -> parameters changed from the defaults
VARIANTS = {
    "ce": CE,
    "defaults": {},
    "lr=1e-3": {"lr": 1e-3},
    "mixup_alpha=4": {"mixup_alpha": 4.0},
    "warmup_epochs=10": {"warmup_epochs": 10},
    "max_epochs=100": {"max_epochs": 100},
    "tau_solver=exact": {"tau_solver": "exact"},
    "tau_solver=closed_form": {"tau_solver": "closed_form"},
    "ema_beta=1 (no EMA)": {"ema_beta": 1.0},
    "ema_beta=0.2": {"ema_beta": 0.2},
    "bc_fraction=0.05": {"bc_fraction": 0.05},
    "bc_fraction=0.3": {"bc_fraction": 0.3},
    "prior=corrected": {"prior": "corrected"},
    "global GMM": {"strategy": SmallLossStrategy(per_class=False)},
    "train_noisy (pseudo-labels)": {"strategy": SmallLossStrategy(train_noisy=True)},
    "logit_adjustment=loss": {"logit_adjustment": "loss"},
    "logit_adjustment=posthoc": {"logit_adjustment": "posthoc"},
    "logit_adjustment=none": {"logit_adjustment": "none"},
}

#: DivideMix's own knobs, each changed from DivideMixStrategy's defaults
DIVIDEMIX_VARIANTS = {
    "dividemix": {"strategy": "dividemix"},
    "dividemix:lambda_u=0": {"strategy": DivideMixStrategy(lambda_u=0.0)},
    "dividemix:lambda_u=5": {"strategy": DivideMixStrategy(lambda_u=5.0)},
    "dividemix:lambda_u=25": {"strategy": DivideMixStrategy(lambda_u=25.0)},
    "dividemix:prior_penalty=uniform": {"strategy": DivideMixStrategy(prior_penalty="uniform")},
    "dividemix:prior_penalty=off": {"strategy": DivideMixStrategy(prior_penalty="off")},
    "dividemix:per_class=False": {"strategy": DivideMixStrategy(per_class=False)},
    # the penalty's target at DivideMix's published weight, where the guessed targets weigh most
    "dividemix:lambda_u=25,prior_penalty=uniform": {
        "strategy": DivideMixStrategy(lambda_u=25.0, prior_penalty="uniform")},
    "dividemix:lambda_u=25,prior_penalty=off": {
        "strategy": DivideMixStrategy(lambda_u=25.0, prior_penalty="off")},
}

SETTINGS = ["mnist1d:sym:0.4:50", "mnist1d:t2h:0.4:50", "mnist1d:joint:0.4:10",
            "tabular:sym:0.4:50", "tabular:sym:0.6:50", "tabular:t2h:0.4:100",
            "tabular:joint:0.4:10"]


def _fit(variant, setting, seed):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    dataset, noise, rate, ir = setting.split(":")
    data = load(dataset, float(ir), noise, float(rate), seed)
    module = DATASETS[dataset][2]
    params = dict({**VARIANTS, **DIVIDEMIX_VARIANTS}[variant])
    if module is not None:
        params["module"] = module
    clf = UnlockerClassifier(random_state=seed, **params).fit(data.X_train, data.y_train)
    return balanced_accuracy_score(data.y_test, clf.predict(data.X_test))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks devgrid", description=__doc__)
    parser.add_argument("--settings", nargs="+", default=SETTINGS,
                        help="dataset:noise:rate:imbalance_ratio")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS),
                        choices=[*VARIANTS, *DIVIDEMIX_VARIANTS])
    parser.add_argument("--reference", default="defaults",
                        help="the variant the last column compares with")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--name", default="development")
    args = parser.parse_args(argv)
    command = "python -m benchmarks devgrid " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    jobs = [(v, s, seed) for v in args.variants for s in args.settings for seed in args.seeds]
    scores = Parallel(n_jobs=args.jobs)(delayed(_fit)(*job) for job in jobs)
    frame = pd.DataFrame([dict(variant=v, setting=s, seed=seed, balanced_accuracy=score)
                          for (v, s, seed), score in zip(jobs, scores, strict=True)])
    mean = frame.pivot_table(index="variant", columns="setting", values="balanced_accuracy",
                             aggfunc="mean", sort=False)
    std = frame.pivot_table(index="variant", columns="setting", values="balanced_accuracy",
                            aggfunc="std", sort=False)
    defaults = mean.loc[args.reference] if args.reference in mean.index else None
    lines = ["# Development grid", "", *[f"- {h}" for h in header(command, args.seeds)], "",
             "Balanced accuracy, mean +- std over seeds; each variant changes one parameter "
             f"from `{args.reference}` (`ce`: plain cross-entropy, same network). The last "
             f"column averages the difference to `{args.reference}` over the settings.", "",
             "| variant | " + " | ".join(args.settings)
             + f" | mean diff. to {args.reference} |",
             "|---|" + "---|" * (len(args.settings) + 1)]
    for variant in args.variants:
        cells = [f"{mean.loc[variant, s]:.3f} ± {std.loc[variant, s]:.3f}"
                 for s in args.settings]
        diff = ("-" if defaults is None else
                f"{np.mean([mean.loc[variant, s] - defaults[s] for s in args.settings]):+.3f}")
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {diff} |")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    Path(RESULTS / f"{args.name}.md").write_text(text)
    frame.to_csv(RESULTS / f"{args.name}.csv", index=False)
    print(text)
    return frame


if __name__ == "__main__":
    main()
