"""Which per-sample score should ``label_quality`` be? Candidates on the development grid.

Fits the defaults on every development setting (one seed), keeps the raw logits
of every score pass (each epoch after the warm-up and the final model), and
scores each candidate ranking by its AUROC against the truly wrong labels:

- ``final_raw`` / ``final_adjusted``: the final model's probability of the
  given label on the raw logits / on the selection logits ``z - alpha``;
- ``final_margin``: the probability margin (given label minus the best other
  class; cleanlab's ``normalized_margin`` before its rescaling), adjusted logits;
- ``mean_last5``: the adjusted probability averaged over the last five passes;
- ``mean_adjusted`` / ``mean_raw``: the probability averaged over every pass, on
  adjusted / raw logits (Dataset Cartography's confidence, Swayamdipta et al.
  2020), and ``aum``: the logit margin averaged over every pass (Pleiss et al.
  2020, area under the margin);
- ``epoch_1``: the adjusted probability at the first pass after the warm-up.

Command: ``python -m benchmarks label_quality`` writes
``benchmarks/results/development_label_quality.{md,csv}``; cleanlab's AUROC
beside it comes from ``development_label_issues.csv`` (the same splits).
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score

from sklearn_unlocker import UnlockerClassifier, __version__
from sklearn_unlocker._engine import TrainingEngine

from .devdata import load_family
from .devgrid import SETTINGS, families, paired_interval
from .run import command_line, machine

RESULTS = Path(__file__).parent / "results"


def _given_proba(logits, y):
    return torch.softmax(logits, 1).gather(1, y[:, None])[:, 0]


def _margin(logits, y):
    proba = torch.softmax(logits, 1)
    return _given_proba(logits, y) - proba.scatter(1, y[:, None], -1.0).amax(1)


def _logit_margin(logits, y):
    given = logits.gather(1, y[:, None])[:, 0]
    return given - logits.scatter(1, y[:, None], -np.inf).amax(1)


def candidates(passes, y):
    """Each candidate score (high: the label looks right) from the passes' (z, alpha)."""
    raw = [z for z, _ in passes]
    adjusted = [z - alpha for z, alpha in passes]

    def mean(f, logits):
        return torch.stack([f(z, y) for z in logits]).mean(0)

    return {
        "final_raw": _given_proba(raw[-1], y),
        "final_adjusted": _given_proba(adjusted[-1], y),
        "final_margin": _margin(adjusted[-1], y),
        "mean_last5": mean(_given_proba, adjusted[-5:]),
        "mean_adjusted": mean(_given_proba, adjusted),
        "mean_raw": mean(_given_proba, raw),
        "aum": mean(_logit_margin, raw),
        "epoch_1": _given_proba(adjusted[0], y),
    }


def _fit(setting, seed):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    data, module = load_family(setting, seed)
    passes = []
    update = TrainingEngine._update

    def recording(self, net):
        logits = update(self, net)
        passes.append((logits.double().clone(), torch.as_tensor(self.alpha).double()))
        return logits

    TrainingEngine._update = recording
    try:
        clf = UnlockerClassifier(classes=np.arange(len(data.classes)), random_state=seed,
                                 **({} if module is None else {"module": module}))
        clf.fit(data.X_train, data.y_train)
    finally:
        TrainingEngine._update = update
    rows = clf.train_indices_
    y = torch.as_tensor(np.asarray(data.y_train)[rows], dtype=torch.long)
    wrong = np.asarray(data.noise_mask, dtype=bool)[rows]
    row = {"setting": setting, "seed": seed, "passes": len(passes)}
    for name, score in candidates(passes, y).items():
        row[name] = roc_auc_score(wrong, -score.numpy())
    np.testing.assert_allclose(clf.label_quality_, candidates(passes, y)["mean_raw"].numpy())
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks label_quality",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--name", default="development_label_quality")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    frame = pd.DataFrame(Parallel(n_jobs=args.jobs)(
        delayed(_fit)(setting, args.seed) for setting in SETTINGS))
    frame.to_csv(RESULTS / f"{args.name}.csv", index=False)
    peer = pd.read_csv(RESULTS / "development_label_issues.csv")
    peer = peer[(peer.variant == "cleanlab") & (peer.seed == args.seed)]
    frame["cleanlab"] = frame.setting.map(peer.set_index("setting").issue_auroc)
    names = [c for c in frame.columns if c not in ("setting", "seed", "passes")]
    lines = ["# Development grid: which score should `label_quality` be", "",
             f"- command: `{command_line('label_quality', argv).strip()}`",
             f"- sklearn-unlocker {__version__}", f"- machine: {machine()}",
             f"- seed {args.seed}; the defaults (DivideMix + LA); {frame.passes.iloc[0]} score "
             f"passes per fit; cleanlab: out-of-fold self-confidence of `CleanLearning` "
             f"(development_label_issues.csv, the same splits)",
             f"- {time.perf_counter() - start:.0f} s", "",
             "AUROC of each candidate against the truly wrong labels (see the module "
             "docstring of `benchmarks/label_quality.py`), and the paired 95% interval of "
             "its difference to cleanlab's:", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for setting, row in frame.set_index("setting").iterrows():
        lines.append(f"| {setting} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |")
    lines.append("| **mean** | " + " | ".join(f"{frame[n].mean():.3f}" for n in names) + " |")
    for family, members in families(frame.setting.unique()):
        part = frame[frame.setting.isin(members)]
        lines.append(f"| mean, {family} ({len(part)}) | " + " | ".join(
            f"{part[n].mean():.3f}" for n in names) + " |")
    cells = []
    for n in names:
        difference = frame[n] - frame["cleanlab"]
        low, high = paired_interval(difference)
        cells.append(f"{difference.mean():+.3f} [{low:+.3f}, {high:+.3f}]")
    lines.append("| diff. to cleanlab, 95% CI | " + " | ".join(cells) + " |")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
