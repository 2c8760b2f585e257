"""The scikit-learn face shared by every estimator of the package.

:class:`NeuralClassifierBase` holds the parameters (with skorch's routed
``module__*``, ``optimizer__*``... ones), fits in four steps and predicts. Each
concern lives in a module of its own, as plain functions on the estimator:

- :mod:`._validation`: the fit's input, labels, sample weights, trusted set, split;
- :mod:`._device`: device, mixed precision, the accelerator, seeding;
- :mod:`._warm_start`: what a warm start may change and the state it continues;
- :mod:`._building`: the strategy, engine and skorch net of a fit, their checks, training;
- :mod:`._label_issues`: the per-sample fitted attributes and the label-issue table;
- :mod:`._persistence`: pickling onto the device at hand, ``save_params``/``load_params``.

A subclass (a public face) supplies the engine's
:class:`~sklearn_unlocker._engine.Config`, its strategy, its own fitted
attributes and the adjustment applied at prediction.
"""

import copy
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._building import build as _build
from ._building import finish as _finish
from ._building import train as _train
from ._device import seeded
from ._label_issues import store as _store_label_issues
from ._label_issues import table as _label_issue_table
from ._persistence import load_params as _load_params
from ._persistence import pickled_state, unpickled_state
from ._persistence import save_params as _save_params
from ._sklearn_compat import Interval, StrOptions
from ._validation import (
    SKORCH_PLAIN,
    SKORCH_PREFIXES,
    check_keywords,
    fit_data,
    prediction_input,
    scored_labels,
)
from ._warm_start import signature as _warm_signature
from .exceptions import UnlockerWarning
from .model_selection import noise_from_labels

__all__ = ["NeuralClassifierBase"]


class NeuralClassifierBase(ClassifierMixin, BaseEstimator):
    """Base class: a scikit-learn classifier that trains a torch module through skorch.

    Not used directly. Subclasses declare their parameters in ``__init__``,
    store ``**kwargs`` with :meth:`_store_skorch_kwargs`, and implement
    :meth:`_engine_config`, :meth:`_make_strategy`, :meth:`_fitted_attributes`
    and :meth:`_prediction_adjustment`.
    """

    _parameter_constraints = {
        "module": [None, type, nn.Module],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [type],
        "classes": ["array-like", None],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str, torch.device],
        "mixed_precision": [None, StrOptions({"bfloat16"})],
        "callbacks": [list, None],
        "train_split": [None, callable],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # --- parameters ----------------------------------------------------------------

    def _store_skorch_kwargs(self, kwargs):
        for key, value in kwargs.items():
            if "__" not in key and (key.startswith("_") or key.endswith("_")):
                raise TypeError(
                    f"{type(self).__name__} got an unexpected keyword argument {key!r}: names "
                    f"with a leading or trailing underscore are private or fitted attributes, "
                    f"not parameters")
            setattr(self, key, value)

    def _skorch_kwargs(self):
        return {key: value for key, value in vars(self).items()
                if key.startswith(SKORCH_PREFIXES) or key in SKORCH_PLAIN}

    def get_params(self, deep=True):
        """Parameters of this estimator, including routed skorch parameters (``module__*`` etc.).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of nested estimators (e.g. ``strategy__*``).

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=False)
        if deep:  # only real estimators nest: a torchvision transform has a static get_params
            for name, value in list(params.items()):
                value = self._named_estimator(name, value) or value
                if isinstance(value, BaseEstimator):
                    params.update({f"{name}__{k}": v for k, v in value.get_params().items()})
        params.update(self._skorch_kwargs())
        return params

    def _named_estimator(self, name, value):
        """The estimator a parameter given by name stands for (a strategy name), or None."""
        return None

    def __sklearn_clone__(self):
        """Clone like scikit-learn, deep-copying parameters that are not estimators.

        ``sklearn.base.clone`` treats anything with a ``get_params`` attribute as an
        estimator; torchvision transforms (``augment=``) have a static one with
        other arguments, so they are deep-copied instead. A misspelled keyword raises
        here, not only in ``fit``: a clone would drop it silently.
        """
        check_keywords(self)
        params = {name: clone(value, safe=False) if isinstance(value, BaseEstimator)
                  or not hasattr(value, "get_params") else copy.deepcopy(value)
                  for name, value in self.get_params(deep=False).items()}
        new = type(self)(**params)
        if hasattr(self, "_metadata_request"):  # set_fit_request(...) survives, as in clone
            new._metadata_request = copy.deepcopy(self._metadata_request)
        return new

    def set_params(self, **params):
        """Set parameters, including routed skorch parameters (``module__*`` etc.).

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
        """
        routed = {k: params.pop(k) for k in list(params)
                  if k.startswith(SKORCH_PREFIXES) or k in SKORCH_PLAIN}
        self._store_skorch_kwargs(routed)
        for name in {key.split("__")[0] for key in params if "__" in key} - set(params):
            # a nested parameter of a parameter given by name (strategy="small_loss"): the
            # name becomes the object it stands for, which then takes the parameter
            named = self._named_estimator(name, getattr(self, name, None))
            if named is not None:
                setattr(self, name, named)
        return super().set_params(**params) if params else self

    def __getstate__(self):
        # the fitted state beside skorch's net (which maps its own): the strategy's networks,
        # optimizer states and frozen copies may live on a GPU
        return pickled_state(super().__getstate__())

    def __deepcopy__(self, memo):
        # a copy in memory needs no map location: copy the attributes as they are
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __setstate__(self, state):
        super().__setstate__(unpickled_state(state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        # bit for bit on the CPU; on CUDA, atomic-add kernels may differ in the last bits
        device = str(getattr(self, "device", "cpu"))
        tags.non_deterministic = device.startswith("cuda") or (
            device == "auto" and torch.cuda.is_available())
        return tags

    # --- fitting: validate, build, train, store --------------------------------------

    def _fit(self, X, y, sample_weight=None, X_trusted=None, y_trusted=None):
        """Fit, all or nothing: a fit that raises leaves the fitted attributes as they were
        (none after a first fit, the previous model's after a refit, which builds new
        networks). A warm start goes on with the fitted networks in place: one that fails
        during training keeps the steps they took before the error, as skorch's
        ``partial_fit`` does (after a non-finite loss, that step's too: refit or reload a
        checkpoint)."""
        kept = {k: v for k, v in vars(self).items() if k.endswith("_")}
        try:
            return self._fit_once(X, y, sample_weight, X_trusted, y_trusted)
        except BaseException:
            for key in [k for k in vars(self) if k.endswith("_") and k not in kept]:
                delattr(self, key)
            vars(self).update(kept)
            raise

    def _fit_once(self, X, y, sample_weight, X_trusted, y_trusted):
        start = time.perf_counter()
        data = fit_data(self, X, y, sample_weight, X_trusted, y_trusted)
        config = self._engine_config(data.y)
        if config.warmup_epochs >= config.max_epochs and data.warm is None:
            warnings.warn(
                f"warmup_epochs={config.warmup_epochs} >= max_epochs={config.max_epochs}: every "
                f"epoch is a warm-up epoch, so the noisy-label method never selects or corrects "
                f"a label and the model trains on every given label; lower warmup_epochs or "
                f"raise max_epochs", UnlockerWarning, stacklevel=4)
        with seeded(data.device, data.random_state) as seed:
            strategy, config, engine, net = _build(self, data, config, seed)
            _train(net, engine, data, seed)
        _finish(net, config.max_epochs + (0 if data.warm is None
                                                   else data.warm["epochs"]))
        self._store(net, strategy, config, engine, data)
        self.timings_ = {"fit": time.perf_counter() - start, **engine.timings()}
        self._fitted_attributes(engine)
        # the noise the fit found: its corrected labels against the given ones
        self.noise_matrix_, self.true_prior_ = noise_from_labels(
            self._given_labels_, self.corrected_labels_, self.classes_,
            sample_weight=data.sample_weight)
        return self

    def _store(self, net, strategy, config, engine, data):
        """The fitted attributes every estimator has, read off the trained net and engine."""
        self.net_ = net
        self.strategy_ = strategy
        self.device_ = data.device
        self.augment_ = config.augment
        _store_label_issues(self, engine, strategy, data)
        self.history_ = net.history
        self._engine_state_ = engine.state()
        self._warm_signature_ = _warm_signature(self, data.device)

    def find_label_issues(self, return_indices_ranked_by=None):
        """The training samples' labels as the fitted model judges them, in cleanlab's terms.

        The table has cleanlab's columns (``CleanLearning.get_label_issues()``)
        and ours, so a cleanlab user switches by changing the estimator.

        Parameters
        ----------
        return_indices_ranked_by : {None, "label_quality"}, default=None
            None: the table. "label_quality": the training positions of the label
            issues only, the most likely wrong first (lowest ``label_quality``), as
            cleanlab's ``find_label_issues(..., return_indices_ranked_by=...)``
            returns them.

        Returns
        -------
        issues : pandas.DataFrame or ndarray of int
            One row per training sample, indexed by its position in the ``X``
            given to fit (with a ``train_split``, the validation rows have
            none): ``is_label_issue``,
            ``label_quality`` (the probability of the given label on the raw
            logits, averaged over the fit's score passes: every epoch after the
            warm-up and the final model, the mean logits of both networks for
            DivideMix; it ranks, where a mixture's posterior saturates at 0 and 1),
            ``clean_proba`` (the method's own probability that the
            label is clean, e.g. the small-loss mixture's posterior, the one
            ``is_label_issue`` thresholds), ``given_label``,
            ``predicted_label`` (what :meth:`predict` gives for the sample),
            ``corrected_label`` (the given label where judged clean, else the
            method's correction). Or the ranked indices.
        """
        check_is_fitted(self)
        return _label_issue_table(self, return_indices_ranked_by)

    def get_label_issues(self):
        """The table of :meth:`find_label_issues`, under cleanlab's ``CleanLearning`` name.

        Returns
        -------
        issues : pandas.DataFrame
        """
        return self.find_label_issues()

    # --- prediction ----------------------------------------------------------------

    def _logits(self, X):
        check_is_fitted(self)
        X = prediction_input(self, X)
        with torch.random.fork_rng(devices=[]):
            return self.strategy_.score(self.net_, X).mean(dim=0)

    def decision_function(self, X):
        """Adjusted logits (``z - alpha`` where the method adjusts predictions).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, 2-D or N-D as at fit.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, the score of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        scores = self._adjusted_logits(X).numpy()
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def _adjusted_logits(self, X):
        logits = self._logits(X).to(torch.float64)
        return logits - torch.as_tensor(self._prediction_adjustment(), dtype=torch.float64)

    def predict_proba(self, X):
        """Class probabilities: softmax of the adjusted logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return torch.softmax(self._adjusted_logits(X), dim=1).numpy()

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return torch.log_softmax(self._adjusted_logits(X), dim=1).numpy()

    def predict(self, X):
        """Predicted labels, in the original label values.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        best = self._adjusted_logits(X).argmax(dim=1).numpy()
        return self.classes_[best]

    def score(self, X, y=None, sample_weight=None):
        """Accuracy on ``(X, y)``; labels unseen at fit are an error, not a silent miss.

        Use ``scoring="balanced_accuracy"`` in model selection for long-tailed data.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        y = scored_labels(self, X, y)
        return super().score(X, y, sample_weight=sample_weight)

    # --- saved parameters ----------------------------------------------------------

    def save_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                    **kwargs):
        """Save the fitted model's parameters, as skorch's ``NeuralNet.save_params``.

        ``f_params`` holds everything prediction reads: every network's
        ``state_dict`` (the strategy's too, e.g. DivideMix's second network)
        and the adjustment state that lives outside the skorch net (``tau_``,
        ``prior_``, ``adjustment_`` and the shift prediction subtracts), so
        :meth:`load_params` gives back the same :meth:`predict_proba`. The other
        files go to ``net_.save_params`` (skorch's formats).

        Parameters
        ----------
        f_params : str, path or file-like, default=None
            Networks and adjustment state (a ``torch.save`` file).
        f_optimizer, f_criterion, f_history : str, path or file-like, default=None
            The optimizer's and criterion's state, and the history (JSON), as skorch.
        **kwargs
            Other skorch files, e.g. ``f_optimizer2=`` for a strategy's own optimizer.
        """
        _save_params(self, f_params, f_optimizer, f_criterion, f_history,
                                 **kwargs)

    def load_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                    **kwargs):
        """Load parameters saved by :meth:`save_params` into this fitted estimator.

        The estimator must be fitted (as skorch's net must be initialized), with
        the same module, strategy and classes: a short fit (``max_epochs=1``)
        builds the networks the parameters go into.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : str, path or file-like, default=None
            The files :meth:`save_params` wrote.
        **kwargs
            Other skorch files, as in :meth:`save_params`.

        Returns
        -------
        self : estimator
        """
        return _load_params(self, f_params, f_optimizer, f_criterion, f_history,
                                        **kwargs)

    # --- for subclasses ------------------------------------------------------------

    def _engine_config(self, y_encoded):
        """The engine's :class:`~sklearn_unlocker._engine.Config` for this fit."""
        raise NotImplementedError

    def _make_strategy(self):
        """A fresh strategy object for this fit."""
        raise NotImplementedError

    def _fitted_attributes(self, engine):
        """Read the estimator's own fitted attributes off the trained engine."""

    #: fitted attributes prediction reads beside the networks (saved by save_params)
    _adjustment_state = ()

    def _prediction_adjustment(self):
        return np.zeros(len(self.classes_))

    def _default_skorch_kwargs(self):
        """Routed skorch parameters this estimator sets unless the user gives them."""
        return {}
