"""Warnings raised by sklearn-unlocker."""

__all__ = ["UnlockerWarning"]


class UnlockerWarning(UserWarning):
    """A degenerate training state was met and handled.

    Raised once per fit, after training, when for example a class was left with
    no clean or corrected sample (its prior was floored so that ``log pi`` stays
    finite) or tau reached its bounds (it was held there).
    """
