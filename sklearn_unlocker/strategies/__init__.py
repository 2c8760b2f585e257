"""Noisy-label strategies: the method "A" that Unlocker wraps.

Pass one to :class:`~sklearn_unlocker.UnlockerClassifier` by name
(``strategy="small_loss"``, ``"dividemix"`` or ``"none"``) or as an object (a
subclass of :class:`BaseStrategy`, see its module for the interface).
"""

from sklearn.base import clone

from ._base import BaseStrategy, BatchTargets, Split, TrainingContext
from ._dividemix import DivideMixSplit, DivideMixStrategy
from ._small_loss import NoSelection, SmallLossStrategy, clean_probability_gmm

__all__ = [
    "BaseStrategy",
    "BatchTargets",
    "DivideMixSplit",
    "DivideMixStrategy",
    "NoSelection",
    "SmallLossStrategy",
    "Split",
    "TrainingContext",
    "clean_probability_gmm",
    "resolve_strategy",
]

STRATEGIES = {"none": NoSelection, "small_loss": SmallLossStrategy,
              "dividemix": DivideMixStrategy}


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
