"""Noisy-label strategies: the method "A" that Unlocker wraps.

Pass one to :class:`~sklearn_unlocker.UnlockerClassifier` by name
(``strategy="small_loss"``, ``"dividemix"``, ``"none"``, or a meta-learning
method: ``"mlc"``, ``"mlc_d"``, ``"ebomlc"``, ``"dynamic_loss"``) or as an
object (a subclass of :class:`BaseStrategy`, see its module for the interface).
"""

from sklearn.base import clone

from ._base import BaseStrategy, BatchTargets, Scores, Split, TrainingContext
from ._dividemix import DivideMixSplit, DivideMixStrategy
from ._dynamic_loss import DynamicLossStrategy, LabelCorrector, MarginGenerator
from ._gmm import clean_probability_gmm
from ._meta import MetaStrategy
from ._meta_label import MetaLabelModel, MetaLabelStrategy
from ._small_loss import NoSelection, SmallLossStrategy

__all__ = [
    "STRATEGIES",
    "BaseStrategy",
    "BatchTargets",
    "DivideMixSplit",
    "DivideMixStrategy",
    "DynamicLossStrategy",
    "LabelCorrector",
    "MarginGenerator",
    "MetaLabelModel",
    "MetaLabelStrategy",
    "MetaStrategy",
    "NoSelection",
    "Scores",
    "SmallLossStrategy",
    "Split",
    "TrainingContext",
    "clean_probability_gmm",
    "resolve_strategy",
]

#: Strategy names and the objects they build.
STRATEGIES = {
    "none": NoSelection,
    "small_loss": SmallLossStrategy,
    "dividemix": DivideMixStrategy,
    "mlc": lambda: MetaLabelStrategy(method="mlc"),
    "mlc_d": lambda: MetaLabelStrategy(method="mlc_d"),
    "ebomlc": lambda: MetaLabelStrategy(method="ebomlc"),
    "dynamic_loss": DynamicLossStrategy,
}


def resolve_strategy(strategy):
    """A strategy object from a name or an object.

    Parameters
    ----------
    strategy : str or BaseStrategy
        A name in ``STRATEGIES`` or an object with ``split`` and ``loss``.

    Returns
    -------
    strategy : BaseStrategy
        A fresh object for a name; a clone of a given object (the user's object is
        never modified).

    Examples
    --------
    >>> from sklearn_unlocker.strategies import SmallLossStrategy, resolve_strategy
    >>> resolve_strategy("mlc")
    MetaLabelStrategy(method='mlc')
    >>> mine = SmallLossStrategy(p_threshold=0.7)
    >>> resolved = resolve_strategy(mine)
    >>> resolved is mine, resolved.p_threshold
    (False, 0.7)
    """
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; use one of {sorted(STRATEGIES)} "
                             "or a BaseStrategy object")
        return STRATEGIES[strategy]()
    if not all(callable(getattr(strategy, name, None)) for name in ("split", "loss")):
        raise TypeError(
            f"a strategy needs split() and loss() methods, got {type(strategy).__name__}"
        )
    return clone(strategy) if hasattr(strategy, "get_params") else strategy
