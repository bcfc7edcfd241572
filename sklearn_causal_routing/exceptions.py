"""Warnings and errors raised by sklearn-causal-routing.

Each warning has its own class so that users can filter it precisely, e.g.
``warnings.simplefilter("ignore", OverlapWarning)``.
"""

__all__ = ["OverlapWarning", "SmallArmWarning"]


class OverlapWarning(UserWarning):
    """The logs give poor support to some model.

    Raised when some model was logged so rarely, or with such small
    propensities, that reweighting its outcomes rests on few effective
    samples. Counterfactual utilities for that model are then noisy, and a
    router may be unable to learn when to choose it.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_causal_routing.exceptions import OverlapWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", OverlapWarning)
    ...     warnings.warn("few effective samples", OverlapWarning)
    """


class SmallArmWarning(UserWarning):
    """Some model has too few logged rows in a cross-fitting fold.

    Its outcome model then falls back to the mean outcome of that model's
    rows (or to the overall mean when it has none), and the warning says so.

    Examples
    --------
    >>> from sklearn_causal_routing.exceptions import SmallArmWarning
    >>> issubclass(SmallArmWarning, UserWarning)
    True
    """
