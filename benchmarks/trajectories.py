"""What Unlocker's estimates do epoch by epoch: imbalance ratio, tail selection, tau.

For each setting and variant this records, at every epoch after the warm-up, the
estimated imbalance ratio (against the true and the observed one), the precision
and recall of the samples kept as clean overall and among the samples whose true
class is a tail class (the rarer half of the classes by true count), tau, and the
final balanced accuracy. Writes ``results/<name>.{csv,md,png}``.

Settings are ``dataset:noise:rate:imbalance_ratio`` with a dataset of the
reported grid (``digits``, ``tabular``, ``mnist1d``, ``digits_images``) or a
development family (:mod:`benchmarks.devdata`); variants as in
:mod:`benchmarks.devgrid`.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.metrics import balanced_accuracy_score
from skorch.callbacks import Callback

from sklearn_unlocker import UnlockerClassifier

from .devdata import FAMILIES, load_family
from .devgrid import parse_variant
from .run import DATASETS, RESULTS, command_line, header, load


class EpochRecorder(Callback):
    """Reads the training engine's state after each epoch's selection (diagnostics only)."""

    def __init__(self, y_true, y_given):
        self.y_true, self.y_given = np.asarray(y_true), np.asarray(y_given)
        counts = np.bincount(self.y_true, minlength=int(self.y_given.max()) + 1)
        order = np.argsort(counts, kind="stable")
        tail_classes = order[: len(order) // 2]
        self.groups = {"all": np.ones(len(self.y_true), dtype=bool),
                       "tail_given": np.isin(self.y_given, tail_classes),
                       "tail_true": np.isin(self.y_true, tail_classes)}
        self.rows = []

    def on_epoch_begin(self, net, **kwargs):  # the net's own hook (selection) has run
        engine = net.procedure
        row = {"epoch": len(net.history), "tau": engine.tau,
               "estimated_ir": float(engine.prior.max() / engine.prior.min())}
        if engine.split is not None:
            clean = np.asarray(engine.split.clean_mask, dtype=bool)
            truly_clean = self.y_true == self.y_given
            for name, rows in self.groups.items():
                kept, good = clean[rows], truly_clean[rows]
                row[f"precision_{name}"] = (kept & good).sum() / max(kept.sum(), 1)
                row[f"recall_{name}"] = (kept & good).sum() / max(good.sum(), 1)
        self.rows.append(row)


def load_setting(setting, seed):
    """Data and module for a reported dataset or a development family."""
    dataset = setting.split(":")[0]
    if dataset in FAMILIES:
        return load_family(setting, seed)
    _, noise, rate, ratio = setting.split(":")
    return load(dataset, float(ratio), noise, float(rate), seed), DATASETS[dataset][2]


def _trajectory(spec, setting, seed):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    label, params = parse_variant(spec)
    data, module = load_setting(setting, seed)
    recorder = EpochRecorder(data.y_train_true, data.y_train)
    common = {} if module is None else {"module": module}
    clf = UnlockerClassifier(classes=np.arange(len(data.classes)), random_state=seed,
                             callbacks=[recorder], **{**common, **params})
    clf.fit(data.X_train, data.y_train)
    accuracy = balanced_accuracy_score(data.y_test, clf.predict(data.X_test))
    fitted = dict(clf.net_.callbacks_)["EpochRecorder"]  # the estimator fits a copy
    return [dict(variant=label, setting=setting, seed=seed, true_ir=data.true_imbalance_ratio,
                 observed_ir=data.observed_imbalance_ratio, balanced_accuracy=accuracy, **row)
            for row in fitted.rows]


def summary(frame):
    """Per setting and variant: estimated IR at a few epochs, tail selection, tau, accuracy."""
    lines = []
    last = frame["epoch"].max()
    marks = sorted({e for e in (5, 10, 20, 40, last) if e <= last})
    for setting, block in frame.groupby("setting", sort=False):
        true_ir, observed_ir = block["true_ir"].mean(), block["observed_ir"].mean()
        lines += [f"## {setting} (true IR {true_ir:.0f}, observed {observed_ir:.1f})", "",
                  "| variant | " + " | ".join(f"est. IR @{e}" for e in marks)
                  + " | P / R, labelled tail | P / R, truly tail | P / R, all | tau @last "
                  "| balanced acc. |",
                  "|---|" + "---|" * (len(marks) + 5)]
        for variant, rows in block.groupby("variant", sort=False):
            at = rows.groupby("epoch").mean(numeric_only=True)
            final = at.loc[last]
            cells = [f"{at.loc[e, 'estimated_ir']:.1f}" for e in marks]
            pr = [f"{final[f'precision_{g}']:.2f} / {final[f'recall_{g}']:.2f}"
                  if f"precision_{g}" in final and not pd.isna(final[f"precision_{g}"]) else "-"
                  for g in ("tail_given", "tail_true", "all")]
            lines.append(f"| {variant} | " + " | ".join(cells)
                         + f" | {' | '.join(pr)} | {final['tau']:.2f} | "
                         f"{rows['balanced_accuracy'].mean():.3f} |")
        lines.append("")
    return lines


def plot(frame, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    settings = list(dict.fromkeys(frame["setting"]))
    fig, axes = plt.subplots(len(settings), 3, figsize=(13, 3 * len(settings)), squeeze=False)
    for ax_row, setting in zip(axes, settings, strict=True):
        block = frame[frame["setting"] == setting]
        for variant, rows in block.groupby("variant", sort=False):
            at = rows.groupby("epoch").mean(numeric_only=True)
            ax_row[0].plot(at.index, at["estimated_ir"], label=variant)
            if "precision_tail_given" in at:
                ax_row[1].plot(at.index, at["precision_tail_given"], label=variant)
            ax_row[2].plot(at.index, at["tau"], label=variant)
        ax_row[0].axhline(block["true_ir"].mean(), color="k", ls="--", lw=1, label="true")
        ax_row[0].axhline(block["observed_ir"].mean(), color="gray", ls=":", lw=1,
                          label="observed")
        ax_row[0].set_yscale("log")
        ax_row[0].set_title(f"{setting}: estimated IR")
        ax_row[1].set_title("labelled tail: precision of the clean set")
        ax_row[2].set_title("tau")
        for ax in ax_row:
            ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks trajectories",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", required=True)
    parser.add_argument("--variants", nargs="+", default=["defaults"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--name", default="trajectories")
    parser.add_argument("--out", default=str(RESULTS), help="directory of the results files")
    args = parser.parse_args(argv)
    command = command_line("trajectories", argv)
    jobs = [(v, s, seed) for s in args.settings for v in args.variants for seed in args.seeds]
    rows = Parallel(n_jobs=args.jobs)(delayed(_trajectory)(*job) for job in jobs)
    frame = pd.DataFrame([row for block in rows for row in block])
    lines = ["# Trajectories: estimated imbalance ratio, tail selection and tau per epoch", "",
             *[f"- {h}" for h in header(command, args.seeds)], "",
             "Means over seeds. est. IR @e: the estimated imbalance ratio used in epoch e; "
             "P / R: precision / recall of the samples kept as clean (at the last selection) "
             "among the samples whose given label is a tail class (the rarer half by true "
             "count), whose true class is one, and among all samples.", "",
             *[f"- `{label}`: {params}" for label, params in map(parse_variant, args.variants)],
             "", *summary(frame)]
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(text)
    frame.to_csv(out / f"{args.name}.csv", index=False)
    plot(frame, out / f"{args.name}.png")
    print(text)
    return frame


if __name__ == "__main__":
    main()
