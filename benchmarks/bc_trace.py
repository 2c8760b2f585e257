"""The balanced clean subset D_bc over a fit: how clean it is, and how well it reads the bias.

The Unlocker rebuttal (reply to reviewer wJKt, Q1; CIFAR-10, IR 100, symmetric 60%,
DivideMix) reports that D_bc stays 78.32-98.13% clean during training and that the
KL divergence between the mean prediction on D_bc and on the test set stays at
0.05-0.13. :class:`BalancedCleanTrace` records both, epoch by epoch, in a devgrid
fit (``python -m benchmarks devgrid ... --trace-bc``).
"""

import numpy as np
import torch
from scipy.special import rel_entr
from skorch.callbacks import Callback


class BalancedCleanTrace(Callback):
    """Per epoch with a D_bc: its purity and the KL of its mean prediction to the test set's.

    Purity is the share of D_bc whose given label is the true one (and its lowest
    class-wise value, over the given classes in D_bc). The mean prediction is the
    mean of what the estimator's ``predict_proba`` would give at the end of the epoch
    (the networks' mean, ``z - alpha`` where the row predicts with it), on D_bc and on
    the test inputs; the KL is ``KL(test || D_bc)``. D_bc is the one the epoch's score
    pass chose. Reads the fit only: evaluation mode, no grad, no random draws, so the
    fit is the same with or without it.
    """

    def __init__(self, data):
        self.data = data

    def initialize(self):
        self.purity_, self.class_purity_min_, self.kl_ = [], [], []
        return self

    def on_epoch_end(self, net, **kwargs):
        bc = getattr(net.procedure, "bc_indices", None)
        if bc is None or not len(bc):
            return
        data = self.data
        given, true = np.asarray(data.y_train)[bc], np.asarray(data.y_train_true)[bc]
        self.purity_.append(float(np.mean(given == true)))
        self.class_purity_min_.append(min(float(np.mean(true[given == c] == c))
                                          for c in np.unique(given)))
        self.kl_.append(float(rel_entr(self._mean_proba(net, data.X_test),
                                       self._mean_proba(net, np.asarray(data.X_train)[bc])
                                       ).sum()))

    @staticmethod
    def _mean_proba(net, X):
        logits = net.procedure.prediction_logits(net, torch.as_tensor(X))
        return torch.softmax(logits.double(), dim=1).mean(dim=0).numpy()

    def summary(self):
        """One devgrid row's columns (empty where no epoch had a D_bc)."""
        if not self.purity_:
            return {}
        purity, kl = np.array(self.purity_), np.array(self.kl_)
        return {"bc_purity_min": purity.min(), "bc_purity_max": purity.max(),
                "bc_purity_last": purity[-1], "bc_class_purity_min_last":
                self.class_purity_min_[-1], "bc_kl_min": kl.min(), "bc_kl_max": kl.max(),
                "bc_kl_last": kl[-1],
                "bc_purity_by_epoch": " ".join(f"{p:.4f}" for p in purity),
                "bc_kl_by_epoch": " ".join(f"{k:.4f}" for k in kl)}


def bc_table(frame):
    """Markdown: D_bc's purity and KL over each variant's fits (means over fits)."""
    if "bc_purity_min" not in frame.columns:
        return []
    traced = frame.dropna(subset=["bc_purity_min"])
    lines = ["| variant | purity, lowest / highest epoch | purity, last epoch | "
             "lowest class purity, last epoch | KL(test, D_bc), lowest / highest | "
             "KL, last epoch | balanced accuracy |", "|---|---|---|---|---|---|---|"]
    for variant, rows in traced.groupby("variant", sort=False):
        lines.append(
            f"| {variant} | {rows['bc_purity_min'].mean():.3f} / "
            f"{rows['bc_purity_max'].mean():.3f} | {rows['bc_purity_last'].mean():.3f} | "
            f"{rows['bc_class_purity_min_last'].mean():.3f} | {rows['bc_kl_min'].mean():.3f} / "
            f"{rows['bc_kl_max'].mean():.3f} | {rows['bc_kl_last'].mean():.3f} | "
            f"{rows['balanced_accuracy'].mean():.3f} |")
    return lines
