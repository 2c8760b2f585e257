"""What the two meta-learning faces share: the fit signature, the trusted set, attributes."""

import copy
from numbers import Integral

import numpy as np
import torch

from .._base import NeuralClassifierBase
from .._engine import ROWS, Config
from .._sklearn_compat import Interval

__all__ = ["MetaClassifierBase"]


def _cpu_copy(module):
    """A CPU copy of a fitted strategy's module, in evaluation mode, for the estimator's own
    attributes: the strategy keeps its module where it trains (a warm start goes on with it)."""
    return copy.deepcopy(module).cpu().eval()


def forwarded_constraints(strategy_class, names):
    """The strategy's own constraints of the parameters a face forwards to it."""
    return {name: strategy_class._parameter_constraints[name] for name in names}


class MetaClassifierBase(NeuralClassifierBase):
    """Base of the faces over a meta-learning strategy, trained by the engine without Unlocker.

    The engine runs with the row "none" (no adjustment, the prior not used): a
    meta-learning strategy on its own, as its paper has it. The trusted set is
    the user's, or each epoch's D_bc built as the ``_trusted_count`` lowest-loss
    samples of each class (``bc_fraction=0``) and left out of the noisy batches
    while used.

    A face forwards the parameters named in ``_strategy_class_params`` to its
    ``_strategy_class`` (as scikit-learn's forests forward ``estimator_params``),
    with the strategy's own constraints; ``_strategy_fixed`` holds what the face
    sets for the strategy on its own.
    """

    _strategy_class = None
    _strategy_class_params = ()
    _strategy_fixed = {}

    _parameter_constraints = {
        **NeuralClassifierBase._parameter_constraints,
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def _make_strategy(self):
        return self._strategy_class(
            **{name: getattr(self, name) for name in self._strategy_class_params},
            **self._strategy_fixed)

    def fit(self, X, y=None, sample_weight=None, X_trusted=None, y_trusted=None):
        """Fit on noisy labels, with a trusted set if you have one.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), or Dataset
            Training samples, 2-D or N-D, or a torch ``Dataset`` of ``(x, y)``
            pairs, streamed (as in :meth:`UnlockerClassifier.fit
            <sklearn_unlocker.UnlockerClassifier.fit>`).
        y : array-like of shape (n_samples,), default=None
            Given (possibly wrong) labels; None when X is a Dataset.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples' losses on the noisy set.
        X_trusted, y_trusted : array-like, default=None
            A small set with clean labels (ideally class-balanced). Without it, a
            trusted set is built from the noisy data each epoch (class-balanced,
            lowest loss per class) and left out of the noisy set while used; see
            ``trusted_source_``.

        Returns
        -------
        self : estimator
        """
        return self._fit(X, y, sample_weight, X_trusted=X_trusted, y_trusted=y_trusted)

    def _default_skorch_kwargs(self):
        # the papers' optimizer: SGD with momentum 0.9 and weight decay 5e-4 (routed to it only
        # when it is SGD, so another optimizer gets its own defaults)
        if self.optimizer is torch.optim.SGD:
            return {"optimizer__momentum": 0.9, "optimizer__weight_decay": 5e-4}
        return {}

    def _trusted_count(self, class_sizes):
        """Samples per class of the automatic trusted set."""
        return 1

    def _engine_config(self, y_encoded):
        sizes = np.bincount(y_encoded, minlength=len(self.classes_))
        return Config(row=ROWS["none"], warmup_epochs=int(self.warmup_epochs),
                      max_epochs=int(self.max_epochs), batch_size=int(self.batch_size),
                      prior="observed", bc_fraction=0.0,
                      bc_min_per_class=self._trusted_count(sizes))

    def _fitted_attributes(self, engine):
        # a label issue: the meta model corrects the label, or the main model, trained on the
        # corrections, predicts another class (EBOMLC's meta model keeps nearly every label)
        overruled = ~self.label_issues_ & (engine.predicted_labels != engine.y)
        self.label_issues_ = self.label_issues_ | overruled
        self.corrected_labels_ = np.where(overruled, self._predicted_labels_,
                                          self.corrected_labels_)
        trusted = engine.trusted
        self.trusted_source_ = trusted.source
        # rows of the X given to fit (with a train_split, positions among the trained rows
        # map back through train_indices_)
        self.trusted_indices_ = (None if trusted.source == "user"
                                 else self.train_indices_[trusted.indices])
        self.trusted_size_history_ = np.asarray(engine.record.trusted_size)
