"""The methods a benchmark compares, each the same network behind the same estimator API.

Every baseline is :class:`~sklearn_unlocker.UnlockerClassifier` with the parts of
Unlocker switched off, so the network, optimiser, epochs and batch size are the
same everywhere and only the method differs. cleanlab's ``CleanLearning`` wraps
the plain cross-entropy network.
"""

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_unlocker import UnlockerClassifier
from sklearn_unlocker.strategies import DivideMixStrategy, SmallLossStrategy

#: Plain cross-entropy: no selection, no adjustment, no mixup.
CE = dict(strategy="none", logit_adjustment="none", mixup_alpha=0.0)

#: The meta-learning faces' training recipe (the papers' SGD), for their rows inside Unlocker,
#: so that a "+ unlocker" row differs from the face by Unlocker alone
META_RECIPE = dict(optimizer=torch.optim.SGD, lr=0.1, optimizer__momentum=0.9,
                   optimizer__weight_decay=5e-4)

METHODS = {
    "ce": ("cross-entropy", CE),
    "la_posthoc": ("logit adjustment, post-hoc (tau=1, observed prior)",
                   dict(CE, logit_adjustment="posthoc", tau=1.0)),
    "la_loss": ("logit-adjusted loss (tau=1, observed prior)",
                dict(CE, logit_adjustment="loss", tau=1.0)),
    "cleanlab": ("cleanlab CleanLearning around the cross-entropy network", None),
    "small_loss": ("small-loss selection alone (NLL)",
                   dict(strategy="small_loss", logit_adjustment="none")),
    "small_loss+posthoc": ("NLL + post-hoc LA (tau=1, observed prior)",
                           dict(strategy="small_loss", logit_adjustment="posthoc", tau=1.0)),
    "small_loss+la": ("NLL + LA (tau=1, observed prior: the paper's 'NLL + LA')",
                      dict(strategy="small_loss", logit_adjustment="loss", tau=1.0)),
    "default": ("UnlockerClassifier(), the defaults (since 2026-12: DivideMix + LA, tau=1, "
                "raw pseudo-labels, default views)", {}),
    "unlocker": ("small-loss + LA + Unlocker (the defaults until 2026-12)",
                 dict(strategy="small_loss", logit_adjustment="unlocker")),
    "dividemix": ("DivideMix alone (NLL)", dict(strategy="dividemix", logit_adjustment="none")),
    "dividemix+posthoc": ("DivideMix + post-hoc LA (tau=1, observed prior)",
                          dict(strategy="dividemix", logit_adjustment="posthoc", tau=1.0)),
    "dividemix+la": ("DivideMix + LA (tau=1, observed prior)",
                     dict(strategy="dividemix", logit_adjustment="loss", tau=1.0)),
    "dividemix+unlocker": ("DivideMix + LA + Unlocker (learned tau)",
                           dict(strategy="dividemix", logit_adjustment="unlocker")),
    "dividemix_mixup0.1+la": ("DivideMix with mixup alpha 0.1 (not 4) + LA (tau=1, observed "
                              "prior): for a network that under-fits",
                              dict(strategy=DivideMixStrategy(alpha=0.1), logit_adjustment="loss",
                                   tau=1.0)),
    "unlocker_no_ema": ("small-loss + LA + Unlocker, no EMA (ema_beta=1)",
                        dict(strategy="small_loss", logit_adjustment="unlocker", ema_beta=1.0)),
    "small_loss_sqrt": ("small-loss selection alone, mixture on the square root of the loss",
                        dict(strategy=SmallLossStrategy(loss_power=0.5), logit_adjustment="none")),
    "unlocker_sqrt": ("UnlockerClassifier, small-loss mixture on the square root of the loss "
                      "(SmallLossStrategy(loss_power=0.5))",
                      dict(strategy=SmallLossStrategy(loss_power=0.5),
                           logit_adjustment="unlocker")),
    "small_loss_auto": ("small-loss selection alone, the loss or its square root by the noise's "
                        "direction at the first selection",
                        dict(strategy=SmallLossStrategy(loss_power="auto"),
                             logit_adjustment="none")),
    "unlocker_auto": ("UnlockerClassifier, the loss or its square root by the noise's direction "
                      "(SmallLossStrategy(loss_power='auto'))",
                      dict(strategy=SmallLossStrategy(loss_power="auto"),
                           logit_adjustment="unlocker")),
    "small_loss_global": ("small-loss selection alone, one loss mixture for all samples "
                          "(SmallLossStrategy(per_class=False)), as DivideMix fits it",
                          dict(strategy=SmallLossStrategy(per_class=False),
                               logit_adjustment="none")),
    "unlocker_global": ("UnlockerClassifier, one loss mixture for all samples "
                        "(SmallLossStrategy(per_class=False))",
                        dict(strategy=SmallLossStrategy(per_class=False),
                             logit_adjustment="unlocker")),
    "dividemix_global": ("DivideMix alone (NLL), one loss mixture for all samples as in its paper "
                         "(DivideMixStrategy(per_class=False))",
                         dict(strategy=DivideMixStrategy(per_class=False),
                              logit_adjustment="none")),
    "dividemix_global+unlocker": ("DivideMix with one loss mixture for all samples + LA + "
                                  "Unlocker: the Unlocker paper's own setting",
                                  dict(strategy=DivideMixStrategy(per_class=False),
                                       logit_adjustment="unlocker")),
    "dynamic_loss": ("Dynamic Loss, automatic meta set", {}),
    "dynamic_loss_clean_trusted": ("Dynamic Loss with a truly clean trusted set of the same "
                                   "size (reference)", {}),
    "ebomlc": ("EBOMLC, automatic trusted set", dict(method="ebomlc")),
    "ebomlc_clean_trusted": ("EBOMLC with a truly clean trusted set of the same size "
                             "(reference)", dict(method="ebomlc")),
    "mlc": ("MLC (one-step look-ahead, second order), automatic trusted set",
            dict(method="mlc")),
    "mlc_d": ("MLC-D (dynamic barrier, 5 inner steps), automatic trusted set",
              dict(method="mlc_d")),
    "ebomlc+unlocker": ("EBOMLC inside Unlocker (trusted set D_bc; LA + learned tau), with the "
                        "EBOMLC face's SGD recipe",
                        dict(strategy="ebomlc", logit_adjustment="unlocker", **META_RECIPE)),
    "dynamic_loss+unlocker": ("Dynamic Loss inside Unlocker (meta set D_bc; alpha beside the "
                              "learned margins), with the Dynamic Loss face's SGD recipe",
                              dict(strategy="dynamic_loss",
                                                     logit_adjustment="unlocker", **META_RECIPE)),
    "clean_ce": ("cross-entropy on the TRUE labels (reference, not a method)", CE),
}

#: methods that are not UnlockerClassifier, by estimator class name
META = {"dynamic_loss": "DynamicLossClassifier", "ebomlc": "MetaLabelCorrectionClassifier",
        "mlc": "MetaLabelCorrectionClassifier", "mlc_d": "MetaLabelCorrectionClassifier"}


def make_method(name, *, n_classes, random_state, **common):
    """An unfitted estimator for a method name.

    Parameters
    ----------
    name : str
        A key of :data:`METHODS`.
    n_classes : int
        Number of classes (fixes the output width inside cleanlab's folds).
    random_state : int
        Seed.
    **common
        Parameters shared by every method (module, epochs, ...).

    Returns
    -------
    estimator : object with fit / predict
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS)}")
    # the full label set: a noisy training set can lack a class (e.g. the single tail sample
    # of IR 100 flipped to the head by tail-to-head noise)
    classes = np.arange(n_classes)
    if name == "cleanlab":
        return CleanLearningPresent(n_classes, random_state=random_state, **common)
    base = name.removesuffix("_clean_trusted")
    if base in META:
        import sklearn_unlocker

        estimator = getattr(sklearn_unlocker, META[base])
        return estimator(classes=classes, random_state=random_state,
                         **{**common, **METHODS[name][1]})
    return UnlockerClassifier(classes=classes, random_state=random_state,
                              **{**common, **METHODS[name][1]})


def _reshape(X, shape):
    return np.reshape(X, (len(X), *shape))


class CleanLearningPresent:
    """cleanlab's ``CleanLearning`` around the cross-entropy network, on the classes present.

    cleanlab takes the number of classes from the labels it is given, so a training set that
    lacks a class (IR 100 with tail-to-head noise can flip a tail class's only sample) breaks
    its cross-validation against a network with the full output width. As a practitioner
    would, this fits cleanlab on the classes present (encoded 0..K'-1) and maps back: an
    absent class is never predicted and gets a prior estimate of 0 (``py``, full width).
    """

    def __init__(self, n_classes, *, random_state, **common):
        self.n_classes, self.random_state, self.common = n_classes, random_state, common

    def fit(self, X, y):
        from cleanlab.classification import CleanLearning

        self.present_, encoded = np.unique(y, return_inverse=True)
        clf = UnlockerClassifier(classes=np.arange(len(self.present_)),
                                 random_state=self.random_state, **{**self.common, **CE})
        # n_jobs=1: cleanlab's own process pool relies on fork-inherited globals and fails
        # inside joblib's workers (NameError 'pred_probs_by_class'); results do not depend on it
        # cleanlab stacks rows of X with np.vstack when a fold lacks a class, which breaks on
        # images: it sees flat rows, and the network gets them back in their shape
        shape = np.shape(X)[1:]
        if len(shape) > 1:
            clf = Pipeline([("shape", FunctionTransformer(_reshape, kw_args={"shape": shape})),
                            ("net", clf)])
        self.cleanlab_ = CleanLearning(clf, seed=self.random_state,
                                       find_label_issues_kwargs={"n_jobs": 1})
        self.cleanlab_.fit(self._flat(X), encoded)
        self.py = np.zeros(self.n_classes)
        self.py[self.present_] = self.cleanlab_.py
        self.label_issues_df = self.cleanlab_.label_issues_df
        return self

    def _flat(self, X):
        return np.reshape(X, (len(X), -1))

    def predict(self, X):
        return self.present_[self.cleanlab_.predict(self._flat(X))]
